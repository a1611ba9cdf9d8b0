# syntax=docker/dockerfile:1
# One image for every part of the order service; the command picks the entry point:
#   docker build --target production -t order-processing .
#   docker run order-processing dist/api/main.js        (the default)
#   docker run order-processing dist/worker/main.js
#   docker run order-processing dist/finance/main.js    (the finance simulator, for demos only)
# The API and the worker need TEMPORAL_CODEC_KEYS (<id>:<base64 of 32 random bytes>, the same in
# every process): the image has no default key, and they refuse to start without one.
# The production stage runs compiled JavaScript with plain `node`: no tsx, no dev dependencies,
# and the worker loads the workflow bundle prebuilt by `npm run build` instead of bundling
# workflows/ at start-up (scripts/build.ts, worker/workflowBundle.ts).

ARG NODE_VERSION=24

# Debian (glibc), not Alpine: @temporalio/core-bridge ships its native library for glibc only.
FROM node:${NODE_VERSION}-bookworm-slim AS toolchain
WORKDIR /app
# Compilers for native modules (sqlite3) when no prebuilt binary fits the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

# Runtime dependencies only, exactly as locked: what the production stage ships.
FROM toolchain AS deps
RUN npm ci --omit=dev --no-audit --no-fund

# Every dependency, to compile: tsc to dist/ plus the prebuilt workflow bundles.
FROM toolchain AS build
RUN npm ci --no-audit --no-fund
# Sources only: .dockerignore keeps out tests, tools, data, docs and the monitoring configuration.
COPY . .
RUN node --import tsx scripts/build.ts

FROM node:${NODE_VERSION}-bookworm-slim AS production
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The default SQLite database lives in .data/; the app runs as the unprivileged `node` user.
RUN mkdir -p .data && chown node:node .data
USER node
# API_PORT, FINANCE_PORT, WORKER_METRICS_PORT (their defaults in domain/config.ts).
EXPOSE 3000 3001 9464
ENTRYPOINT ["node"]
CMD ["dist/api/main.js"]
