#!/usr/bin/env bash
# `npm start`: provisions what is missing, then runs the supervisor (scripts/start.ts).
# `npm run cluster` (--cluster): the same on the project's Temporal cluster instead of the dev server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ "${1:-}" = "--cluster" ]; then
  bash scripts/provision.sh --cluster
else
  bash scripts/provision.sh
fi
exec node --import tsx scripts/start.ts "$@"
