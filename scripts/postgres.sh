#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite: initdb into a temp folder, listen on
# 127.0.0.1 on a free port, trust auth (nothing but this machine can reach it), no fsync (the
# data dies with the run). Source it, then `pg_start` sets TEST_POSTGRES_URL and `pg_stop` removes
# the cluster.

pg_bin() {
  local found
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ -n "$found" ]; then echo "$found"; else dirname "$(command -v pg_ctl)"; fi
}

# PostgreSQL refuses to run as root; on a root shell run it as the `postgres` system user.
pg_as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin port
  bin="$(pg_bin)"
  PG_TEST_DIR="$(mktemp -d /tmp/orders-pg-XXXXXX)"
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$PG_TEST_DIR"
  port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  pg_as_owner "$bin/initdb" -D "$PG_TEST_DIR/data" -U orders --auth=trust -E UTF8 >/dev/null
  pg_as_owner "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 30 \
    -o "-p $port -k $PG_TEST_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200" \
    start >/dev/null
  export TEST_POSTGRES_URL="postgres://orders@127.0.0.1:$port/postgres"
  echo "[postgres] test cluster on 127.0.0.1:$port ($PG_TEST_DIR)"
}

pg_stop() {
  [ -n "${PG_TEST_DIR:-}" ] || return 0
  pg_as_owner "$(pg_bin)/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=""
}
