#!/usr/bin/env bash
# Quick start: install, build and run the broker with embedded PGlite on http://localhost:8080.
# Data (database, generated secrets) lives in ./data; the first run prints the admin password.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
log "installing dependencies"
pnpm install --frozen-lockfile
log "building"
pnpm run build
log "starting on http://localhost:${PORT:-8080}"
export NODE_ENV="${NODE_ENV:-production}" DATA_DIR="${DATA_DIR:-$ROOT/data}"
# --no-memory-reducer: see docs/decisions.md ("V8 memory reducer off").
exec node --no-memory-reducer apps/api/dist/server.js
