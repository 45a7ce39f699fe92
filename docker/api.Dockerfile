# syntax=docker/dockerfile:1
#
# The broker image: the API (compiled to dist) plus the built web app it serves, on a slim Node
# runtime as an unprivileged user. Build from the repository root:
#
#   docker build -f docker/api.Dockerfile -t tether-api .
#
# or let docker/compose.yaml build it. Data (embedded database, generated secrets) lives in /data.

ARG NODE_VERSION=20.20
ARG PNPM_VERSION=10.34.9

# ── build: install with the lockfile, compile protocol + api + web, assemble a production tree ──
FROM node:${NODE_VERSION}-bookworm AS build
ARG PNPM_VERSION
ENV CI=true
RUN npm install --global --no-audit --no-fund "pnpm@${PNPM_VERSION}"
WORKDIR /src

# Manifests first, so the dependency layer is rebuilt only when they or the lockfile change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY apps/api/package.json apps/api/
COPY apps/host/package.json apps/host/
COPY apps/web/package.json apps/web/
COPY packages/protocol/package.json packages/protocol/
COPY packages/host-protocol/package.json packages/host-protocol/
COPY packages/terminal-engine/package.json packages/terminal-engine/
COPY packages/testkit/package.json packages/testkit/
COPY e2e/package.json e2e/
COPY bench/package.json bench/
RUN pnpm install --frozen-lockfile --filter "@tether/api..." --filter "@tether/web..." --filter tether

COPY . .
# docker/assemble.sh lays out /out exactly as the Playwright suite runs it (behind nginx, as an
# unprivileged user): dist/, production node_modules, package.json, web/, healthcheck.mjs.
RUN pnpm exec turbo run build --filter "@tether/api" --filter "@tether/web" \
 && sh docker/assemble.sh /out

# ── runtime ──
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    WEB_DIST=/app/web
WORKDIR /app
# Code is owned by root and read-only to the service user; only /data is writable.
COPY --from=build /out /app
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness plus a database round trip (GET {BASE_PATH}/api/health).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# server.js drains HTTP, tells sockets "server restarting", ends SSH sessions and closes the
# database on SIGTERM within 10 s; give it that long (compose: stop_grace_period).
STOPSIGNAL SIGTERM
# --no-memory-reducer: no compacting full GC (a 45-55 ms pause for every terminal) each time
# activity drops; --v8-pool-size=0: V8's GC helper threads sized to the machine's cores, not a
# fixed 4; --initial-old-space-size=128: no full GC below a 128 MB old generation, so streamed
# Buffers do not set off one several times a second (apps/api/src/system/node-flags.ts;
# docs/decisions.md).
CMD ["node", "--no-memory-reducer", "--v8-pool-size=0", "--initial-old-space-size=128", "dist/server.js"]
