# Shared by the scripts in this folder. pnpm is pinned in package.json ("packageManager"); it is
# run through npx so a fresh machine needs nothing but Node.js and npm (corepack is not assumed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="$(node -p "require('$ROOT/package.json').packageManager.split('@')[1]")"
pnpm() { npx -y "pnpm@${PNPM_VERSION}" "$@"; }
log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
