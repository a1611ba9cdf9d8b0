#!/usr/bin/env bash
# `npm start`: provisions what is missing, then runs the supervisor (scripts/start.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node 24 first on PATH, for provisioning and every part the supervisor starts.
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
use_node_24 "$ROOT"
bash scripts/provision.sh
exec node --import tsx scripts/start.ts
