#!/bin/sh
# Assembles the broker image's /app from a checkout where @tether/api and @tether/web are built:
#
#   dist/           the API (code + migrations)
#   node_modules/   production dependencies only (`pnpm deploy --prod`: workspace packages copied
#                   in, not linked; native addons as built by the install)
#   package.json
#   web/            the built SPA (WEB_DIST=/app/web)
#   healthcheck.mjs the HEALTHCHECK command
#
# api.Dockerfile's build stage runs it, and so does the Playwright suite (e2e/tests/nginx.spec.ts),
# which serves the result as an unprivileged user behind docker/nginx/tether.conf: the tree the
# image ships is the tree the tests run.
#
#   sh docker/assemble.sh OUT_DIR        (PNPM="npx -y pnpm@10.34.9" when pnpm is not on PATH)
set -eu

out=${1:?usage: assemble.sh OUT_DIR}
pnpm=${PNPM:-pnpm}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

for built in apps/api/dist/server.js apps/web/dist/index.html; do
  [ -f "$built" ] || { echo "assemble.sh: $built is missing; build first (pnpm run build)" >&2; exit 1; }
done
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "assemble.sh: $out is not empty" >&2
  exit 1
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
# --legacy: pnpm 10 otherwise wants inject-workspace-packages for deploy. `cp -a` keeps pnpm's
# relative symlinks inside node_modules.
$pnpm --filter @tether/api deploy --prod --legacy "$staging/deploy" >&2
mkdir -p "$out"
cp -a "$staging/deploy/dist" "$staging/deploy/node_modules" "$staging/deploy/package.json" "$out/"
cp -a apps/web/dist "$out/web"
cp docker/healthcheck.mjs "$out/healthcheck.mjs"
