#!/usr/bin/env bash
# System packages the test suite drives for real: PostgreSQL 15, OpenSSH sshd, Chromium (for
# Playwright), nginx (the reverse-proxy test) and vttest (the snapshot conformance test).
# Installed from Debian's archive when missing.
source "$(dirname "$0")/lib.sh"
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/vttest ] || need+=(vttest)
if [ ${#need[@]} -eq 0 ]; then
  log "system test dependencies present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "missing ${need[*]}: run this script as root or install them" >&2; exit 1; }
  SUDO="sudo"
fi
log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packaged services are not used (tests start their own throwaway instances); keep the
# machine quiet and the ports free.
for svc in postgresql ssh nginx; do $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; done
