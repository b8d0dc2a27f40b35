# syntax=docker/dockerfile:1
# One image per service, from the repository root:
#   docker build --build-arg SERVICE=gateway -t cortex-gateway .     (or memory, cognition)
# It runs the built JavaScript (`node dist/server.js`) with production dependencies only: no tsx,
# no esbuild, no TypeScript, no test tools (infra/production-closure.test.ts keeps it so).

# Node 24 is an LTS line that still ships corepack (Node 25+ do not), which the build stages use.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG SERVICE

FROM ${NODE_IMAGE} AS base
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0 CI=true
WORKDIR /src
# pnpm comes from the root package.json's packageManager field, hash-checked by corepack.
RUN corepack enable

FROM base AS build
ARG SERVICE
RUN case "$SERVICE" in gateway|memory|cognition) ;; *) echo "--build-arg SERVICE=gateway|memory|cognition" >&2; exit 1;; esac
# pnpm fetch reads only the lockfile, so this layer (the downloads) survives source edits.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
RUN pnpm fetch
COPY . .
# The service and the workspace packages it uses, plus the root (esbuild and tsx, which build).
RUN pnpm install --offline --frozen-lockfile --filter "@cortex/${SERVICE}..." --filter cortex-core
RUN pnpm build:js
# The service's published files (package.json "files": dist, plus public/ or migrations/) with
# its production dependencies; workspace packages are copied in (their dist only), not linked.
RUN pnpm --filter "@cortex/${SERVICE}" --config.inject-workspace-packages=true \
      deploy --prod --offline /out \
 && rm -f /out/pnpm-lock.yaml

# The port each service listens on, picked by SERVICE (BuildKit builds only the stage used).
FROM ${NODE_IMAGE} AS runtime-base
# tini as PID 1: forwards SIGTERM to node and reaps zombies (Kubernetes has no `--init`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
FROM runtime-base AS port-gateway
ENV PORT=8000
FROM runtime-base AS port-memory
ENV PORT=9000
FROM runtime-base AS port-cognition
ENV PORT=9100

FROM port-${SERVICE} AS runtime
ARG SERVICE
ENV NODE_ENV=production HOST=0.0.0.0
LABEL org.opencontainers.image.title="cortex-${SERVICE}"
WORKDIR /app
COPY --from=build /out ./
# Writable local state for the unprivileged user: the gateway's pending store (PENDING_STORE_DIR;
# compose and Kubernetes mount a volume at /app/.data, which takes this ownership when created)
# and memory's embedded PGlite (used only without DATABASE_URL).
RUN mkdir -p .data && chown node:node .data
USER node
# Resolve every module now, so that a missing dependency fails the build rather than the first
# start. Importing the app does not start it.
RUN node --input-type=module -e "await import('./dist/app.js')"
EXPOSE ${PORT}
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server.js"]
