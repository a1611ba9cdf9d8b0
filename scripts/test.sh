#!/usr/bin/env bash
# The one test command: provisions what is missing, then lint, format check, type check, and every
# test against real servers (Temporal test server and dev server, PostgreSQL, the finance
# simulator). Pass test files or folders to run only those: `npm test -- test/workflows`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node 24 first on PATH before anything else runs (`npm test` may have been started by another
# Node): provisioning, the checks and the test runner all use it.
# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
use_node_24 "$ROOT"

bash scripts/provision.sh --postgres --promtool --monitoring --chromium --compose --actionlint --cluster
echo "== Node $(node -v) ($(command -v node))"

started=$SECONDS
echo "== lint (eslint)"
npx eslint . --max-warnings=0
echo "== format (prettier)"
# Not `… && echo`: under `set -e` a failure on the left of `&&` would not stop the script.
npx prettier --check . >/dev/null
echo "all files formatted"
echo "== types (tsc)"
npx tsc --noEmit -p tsconfig.json
echo "== static checks passed in $((SECONDS - started)) s"

# A throwaway PostgreSQL cluster for the tests that run on both databases (scripts/lib/postgres.ts).
eval "$(node --import tsx scripts/lib/postgres.ts start)"
trap 'node --import tsx scripts/lib/postgres.ts stop "$PG_TEST_DIR"' EXIT
echo "[postgres] test cluster at $TEST_POSTGRES_URL ($PG_TEST_DIR)"

if [ "$#" -gt 0 ]; then
  mapfile -t files < <(find "$@" -name '*.test.ts' | sort)
else
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
echo "== tests (${#files[@]} files)"
# A per-test ceiling, so a test that waits on something that never comes fails instead of
# hanging CI; the slowest test takes well under a minute.
node --import tsx --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
