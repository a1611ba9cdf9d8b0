#!/usr/bin/env bash
# `bash scripts/run.sh CMD ARGS...`: runs CMD from the repository root with Node 24 first on PATH
# (scripts/lib/node.sh), so the npm scripts that call node, tsx, eslint or tsc run on the
# project's Node whichever node started npm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
use_node_24 "$ROOT"
exec "$@"
