#!/bin/sh
# Writes the secrets that every node of the compose deployment shares into docker/.env, once:
# values already there are kept, so running it again changes nothing. Back the file up with the
# database (without ENCRYPTION_KEY, saved passwords and keys cannot be decrypted).
set -eu
cd "$(dirname "$0")"
umask 077
[ -f .env ] || cp .env.example .env
chmod 600 .env

# Random bytes as base64 on one line (coreutils only: no openssl or node needed).
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
add() {
  if grep -q "^$1=" .env; then
    echo "kept $1"
  else
    printf '%s=%s\n' "$1" "$2" >> .env
    echo "wrote $1"
  fi
}

add JWT_SECRET "$(rand 48)"
add ENCRYPTION_KEY "$(rand 32)"
add PEER_SECRET "$(rand 32)"
# Goes into a URL: letters and digits only.
add POSTGRES_PASSWORD "$(rand 32 | tr -dc 'A-Za-z0-9' | cut -c1-32)"
echo "docker/.env is ready; back it up with the database."
