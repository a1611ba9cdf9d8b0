#!/usr/bin/env bash
# The one test command: provisions what is missing, then lint, format check, type check, and every
# test against real servers (Temporal test server and dev server, PostgreSQL, the finance
# simulator). Pass test files or folders to run only those: `npm test -- test/workflows`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/provision.sh --postgres --promtool --chromium

started=$SECONDS
echo "== lint (eslint)"
npx eslint . --max-warnings=0
echo "== format (prettier)"
npx prettier --check . >/dev/null && echo "all files formatted"
echo "== types (tsc)"
npx tsc --noEmit -p tsconfig.json
echo "== static checks passed in $((SECONDS - started)) s"

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
trap pg_stop EXIT
pg_start

if [ "$#" -gt 0 ]; then
  mapfile -t files < <(find "$@" -name '*.test.ts' | sort)
else
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
echo "== tests (${#files[@]} files)"
# A per-test ceiling, so a test that waits on something that never comes fails instead of
# hanging CI; the slowest test takes well under a minute.
node --import tsx --test --test-reporter=spec --test-timeout=300000 "${files[@]}"
