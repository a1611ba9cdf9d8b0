#!/usr/bin/env bash
# `npm start`: provisions what is missing, then runs the supervisor (scripts/start.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/provision.sh
exec node --import tsx scripts/start.ts
