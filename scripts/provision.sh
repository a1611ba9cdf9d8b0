#!/usr/bin/env bash
# Installs everything the project needs that is not in git, each step skipped when already done:
#   - npm dependencies (npm install from the lockfile, when it changed since the last install)
#   - the Temporal CLI (dev server + Web UI), built with `go install` into .tools/bin
#   - Temporal's time-skipping test server (Java, from Maven Central) behind .tools/bin/temporal-test-server
#   - with --postgres: a PostgreSQL server (Debian package) for the test suite
#   - with --promtool: promtool (from Debian's prometheus package) into .tools/bin, for the alert rule tests
#   - with --chromium: Debian's chromium at /usr/bin/chromium, for the dashboard's browser tests
#   - with --cluster: the Temporal server and temporal-sql-tool (go install) with the server's
#     PostgreSQL schemas, and the Temporal Web UI server where it builds, for scripts/lib/cluster.ts
# Usage: scripts/provision.sh [--postgres] [--promtool] [--chromium] [--cluster]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
# v1.5.1 is the last CLI tag whose go.mod has no local `replace`, so `go install` can build it.
TEMPORAL_CLI_VERSION="1.5.1"
# The Temporal server for the cluster (scripts/lib/cluster.ts): like the CLI, built with `go install`.
TEMPORAL_SERVER_VERSION="1.29.1"
# The Web UI server the CLI 1.5.1 embeds, so its modules are already in the Go cache.
TEMPORAL_UI_VERSION="2.42.1"
TEST_SERVER_VERSION="$(sed -n 's:.*<version>\(1\.[0-9.]*\)</version>.*:\1:p' "$ROOT/scripts/test-server/pom.xml" | head -n1)"

want_postgres=false
want_promtool=false
want_chromium=false
want_cluster=false
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=true ;;
    --promtool) want_promtool=true ;;
    --chromium) want_chromium=true ;;
    --cluster) want_cluster=true; want_postgres=true ;;
    *) echo "provision: unknown argument $arg (usage: scripts/provision.sh [--postgres] [--promtool] [--chromium] [--cluster])" >&2; exit 2 ;;
  esac
done

log() { printf '[provision] %s\n' "$*"; }
fail() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

# step NAME COMMAND...: runs COMMAND, printing how long it took.
step() {
  local name="$1"; shift
  local started=$SECONDS
  log "$name ..."
  "$@"
  log "$name done in $((SECONDS - started)) s"
}

need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed; $2"
}

need node "install Node.js 20 (https://nodejs.org) — the project's engines field says which."
need npm "it ships with Node.js."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" = "20" ] || log "warning: Node $node_major found; the project is built and tested on Node 20."

install_npm_deps() {
  # `npm install`, not `npm ci`: the registry mirror omits some platform-only optional packages
  # (e.g. @swc/core for darwin), which `npm ci` treats as a lockfile mismatch. The lockfile still
  # pins every version that is installed.
  (cd "$ROOT" && npm install --no-audit --no-fund)
  sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1 > "$ROOT/node_modules/.provisioned-lock"
}
lock_hash="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$ROOT/node_modules/.provisioned-lock" 2>/dev/null)" = "$lock_hash" ]; then
  log "npm dependencies: up to date"
else
  step "npm dependencies (npm install)" install_npm_deps
fi

mkdir -p "$BIN"

install_temporal_cli() {
  need go "install Go 1.22+ (https://go.dev/dl) to build the Temporal CLI."
  GOBIN="$BIN" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION"
  # A `go install` build reports its version as 0.0.0-DEV, so remember which tag was built.
  echo "$TEMPORAL_CLI_VERSION" > "$BIN/.temporal-cli-version"
}
if [ -x "$BIN/temporal" ] && [ "$(cat "$BIN/.temporal-cli-version" 2>/dev/null)" = "$TEMPORAL_CLI_VERSION" ]; then
  log "Temporal CLI $TEMPORAL_CLI_VERSION: present"
else
  log "Temporal CLI $TEMPORAL_CLI_VERSION: building from source; the first build takes 3-4 minutes"
  step "Temporal CLI (go install)" install_temporal_cli
fi

install_test_server() {
  need java "install a Java 17+ runtime for Temporal's time-skipping test server."
  need mvn "install Maven 3 to fetch the test server from Maven Central."
  rm -rf "$TOOLS/test-server/lib"
  mvn -q -B -f "$ROOT/scripts/test-server/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$TOOLS/test-server/lib"
  # The SDK starts this as `<exe> <port>` and stops it by killing that process: `exec` makes the
  # JVM that process, so nothing survives holding the port. The SDK waits about 5 s for the
  # server to answer; client-level JIT and serial GC keep the JVM's start-up well under that.
  # No --enable-time-skipping: the server must start with skipping locked, as the SDK expects;
  # the SDK unlocks it only while a test awaits a workflow result or calls env.sleep().
  cat > "$BIN/temporal-test-server" <<WRAPPER
#!/bin/sh
exec java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto \\
  -cp "$TOOLS/test-server/lib/*" io.temporal.testserver.TestServer "\$@"
WRAPPER
  chmod +x "$BIN/temporal-test-server"
}
if [ -x "$BIN/temporal-test-server" ] && ! grep -q -- --enable-time-skipping "$BIN/temporal-test-server" && [ -f "$TOOLS/test-server/lib/temporal-test-server-$TEST_SERVER_VERSION.jar" ]; then
  log "Temporal test server $TEST_SERVER_VERSION: present"
else
  step "Temporal test server $TEST_SERVER_VERSION (Maven Central)" install_test_server
fi

# Debian packages, as root (sudo when not): `apt_update HINT` refreshes the package lists,
# `apt_install HINT ARGS...` installs; HINT says what to do where apt-get is not available.
as_root() {
  if [ "$(id -u)" = "0" ]; then "$@"; else sudo "$@"; fi
}
apt_update() {
  command -v apt-get >/dev/null 2>&1 || fail "$1 (apt-get is not available)"
  as_root apt-get update -qq
}
apt_install() {
  apt_update "$1"
  shift
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_postgres() {
  apt_install "PostgreSQL is missing; install PostgreSQL 13+ so that initdb and pg_ctl are found." postgresql
}
if $want_postgres; then
  if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then
    log "PostgreSQL: present"
  else
    step "PostgreSQL (apt-get install postgresql)" install_postgres
  fi
fi

# Only the promtool binary is taken out of the package (dpkg -x, not apt-get install): the rule
# tests need promtool, and installing the package would also install and start a Prometheus daemon.
install_promtool() {
  command -v dpkg >/dev/null 2>&1 \
    || fail "promtool is missing and dpkg is not available; put a promtool binary (Prometheus 2.x) at $BIN/promtool."
  apt_update "promtool is missing; put a promtool binary (Prometheus 2.x) at $BIN/promtool."
  local tmp
  tmp="$(mktemp -d)"
  # apt's download sandbox user must be able to write here, or apt warns and downloads as root.
  chmod 0777 "$tmp"
  (cd "$tmp" && apt-get download -qq prometheus)
  dpkg -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -m 0755 "$tmp/root/usr/bin/promtool" "$BIN/promtool"
  rm -rf "$tmp"
}
if $want_promtool; then
  if [ -x "$BIN/promtool" ]; then
    log "promtool: present"
  else
    step "promtool (apt-get download prometheus, binary only)" install_promtool
  fi
fi

# The browser tests drive Debian's chromium through playwright-core (an npm dependency), which
# never downloads a browser build of its own: the test only needs the binary at /usr/bin/chromium.
install_chromium() {
  apt_install "chromium is missing; install Chromium so that /usr/bin/chromium exists." \
    --no-install-recommends chromium
}
if $want_chromium; then
  if [ -x /usr/bin/chromium ]; then
    log "chromium: present"
  else
    step "chromium (apt-get install chromium)" install_chromium
  fi
fi

# The cluster's binaries keep their own names (temporal-server, temporal-sql-tool, temporal-ui-server):
# every one of them builds as `server` or `sql`. The server's PostgreSQL schemas are copied out of
# the Go module cache, so a cleaned cache does not take them away.
install_temporal_server() {
  need go "install Go 1.22+ (https://go.dev/dl) to build the Temporal server."
  local gobin
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  install -m 0755 "$gobin/server" "$BIN/temporal-server"
  install -m 0755 "$gobin/sql" "$BIN/temporal-sql-tool"
  rm -rf "$gobin" "$TOOLS/temporal-server"
  mkdir -p "$TOOLS/temporal-server"
  cp -r "$(go env GOMODCACHE)/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION/schema/postgresql/v12" \
    "$TOOLS/temporal-server/schema"
  chmod -R u+w "$TOOLS/temporal-server/schema"
  echo "$TEMPORAL_SERVER_VERSION" > "$BIN/.temporal-server-version"
}
# The UI server is optional: the cluster runs without it when it does not build here.
install_temporal_ui() {
  local gobin
  gobin="$(mktemp -d)"
  if GOBIN="$gobin" go install "github.com/temporalio/ui-server/v2/cmd/server@v$TEMPORAL_UI_VERSION"; then
    install -m 0755 "$gobin/server" "$BIN/temporal-ui-server"
    echo "$TEMPORAL_UI_VERSION" > "$BIN/.temporal-ui-version"
  else
    log "warning: the Temporal UI server $TEMPORAL_UI_VERSION did not build; the cluster runs without a Web UI"
  fi
  rm -rf "$gobin"
}
if $want_cluster; then
  if [ -x "$BIN/temporal-server" ] && [ -x "$BIN/temporal-sql-tool" ] && [ -d "$TOOLS/temporal-server/schema" ] \
    && [ "$(cat "$BIN/.temporal-server-version" 2>/dev/null)" = "$TEMPORAL_SERVER_VERSION" ]; then
    log "Temporal server $TEMPORAL_SERVER_VERSION: present"
  else
    log "Temporal server $TEMPORAL_SERVER_VERSION: building from source; the first build takes a few minutes"
    step "Temporal server and sql tool (go install)" install_temporal_server
  fi
  if [ -x "$BIN/temporal-ui-server" ] && [ "$(cat "$BIN/.temporal-ui-version" 2>/dev/null)" = "$TEMPORAL_UI_VERSION" ]; then
    log "Temporal UI server $TEMPORAL_UI_VERSION: present"
  else
    step "Temporal UI server (go install)" install_temporal_ui
  fi
fi
