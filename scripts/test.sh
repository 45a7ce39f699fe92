#!/usr/bin/env bash
# The whole suite, as CI runs it: system dependencies, install, lint, build, typecheck, unit and
# integration tests (real PostgreSQL, PGlite, OpenSSH sshd) and Playwright e2e (Chromium).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/install-test-deps.sh
log "installing dependencies"
pnpm install --frozen-lockfile
log "lint + format check"
pnpm run lint
log "build"
pnpm run build
log "typecheck"
pnpm run typecheck
log "unit and integration tests"
pnpm run test
log "end-to-end tests"
pnpm run e2e
log "all checks passed"
