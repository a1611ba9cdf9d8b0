#!/usr/bin/env bash
# `npm start`: provisions what is missing, then runs the supervisor (scripts/start.ts).
# `npm start -- --monitoring` also runs Prometheus, Alertmanager and the alert receiver;
# `npm run cluster` (--cluster): the same on the project's Temporal cluster instead of the dev server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node 24 first on PATH, for provisioning and every part the supervisor starts.
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
use_node_24 "$ROOT"
provision=()
for arg in "$@"; do
  case "$arg" in
    --monitoring) provision+=(--monitoring) ;;
    --cluster) provision+=(--cluster) ;;
    *) echo "start: unknown argument $arg (usage: npm start [-- --monitoring]; npm run cluster)" >&2; exit 2 ;;
  esac
done
bash scripts/provision.sh "${provision[@]}"
exec node --import tsx scripts/start.ts "$@"
