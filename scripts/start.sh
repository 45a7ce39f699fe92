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
log "starting on http://${HOST}:${PORT:-8080} (loopback only; set HOST to listen elsewhere)"
export NODE_ENV="${NODE_ENV:-production}" DATA_DIR="${DATA_DIR:-$ROOT/data}"
# --no-memory-reducer: see docs/decisions.md ("V8 memory reducer off").
exec node --no-memory-reducer apps/api/dist/server.js
