# syntax=docker/dockerfile:1
# One image for every part of the order service; the command picks the entry point:
#   docker build -t order-processing .
#   docker run order-processing api/main.ts        (the default)
#   docker run order-processing worker/main.ts
#   docker run order-processing finance/main.ts
# TypeScript runs through tsx (a runtime dependency), as under `npm start`: no separate compile
# step, and the worker bundles workflows/ from source at start-up, as it does in development.

ARG NODE_VERSION=20.19

# Debian (glibc), not Alpine: @temporalio/core-bridge ships its native library for glibc only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
# Compilers for native modules (sqlite3) when no prebuilt binary fits the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Runtime dependencies only, exactly as locked.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Sources only: .dockerignore keeps out tests, tools, data, docs and the monitoring configuration.
COPY . .
# The default SQLite database lives in .data/; the app runs as the unprivileged `node` user.
RUN mkdir -p .data && chown node:node .data
USER node
# API_PORT, FINANCE_PORT, WORKER_METRICS_PORT (their defaults in domain/config.ts).
EXPOSE 3000 3001 9464
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["api/main.ts"]
