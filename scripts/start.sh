#!/usr/bin/env bash
# Quick start: install, build and run the broker with embedded PGlite on http://localhost:8080.
# Data (database, generated secrets) lives in ./data; the first run prints the admin password.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
log "installing dependencies"
pnpm install --frozen-lockfile
log "building"
pnpm run build
# Loopback only unless HOST says otherwise (e.g. HOST=0.0.0.0 behind a TLS proxy on another machine).
export HOST="${HOST:-127.0.0.1}"
if [ -z "${SSH_ALLOWED_TARGETS:-}" ]; then
  log "SSH targets: public addresses only. To reach this machine or your network, e.g.:"
  log "  SSH_ALLOWED_TARGETS=127.0.0.1,192.168.0.0/16 ./scripts/start.sh"
fi
log "starting on http://${HOST}:${PORT:-8080}$([ "$HOST" = 127.0.0.1 ] && echo ' (loopback only; set HOST to listen elsewhere)')"
export NODE_ENV="${NODE_ENV:-production}" DATA_DIR="${DATA_DIR:-$ROOT/data}"
# The broker's V8 flags (apps/api/src/system/node-flags.ts; docs/decisions.md "V8 memory reducer
# off", "V8 helper threads sized to the machine" and "A floor under the old generation").
exec node --no-memory-reducer --v8-pool-size=0 --initial-old-space-size=128 apps/api/dist/server.js
