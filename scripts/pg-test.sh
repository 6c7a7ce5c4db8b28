#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests (client/outbox and examples/orders),
# from Debian's packages (apt-get install postgresql; .ci/run does it).
#
#   eval "$(scripts/pg-test.sh)"   # start it; sets RAFTMQ_TEST_POSTGRES
#   scripts/pg-test.sh stop        # stop it and delete its data
#   scripts/pg-test.sh status      # exit 0 if it runs
#
# The cluster is private: its own data directory (RAFTMQ_PG_DIR, default
# /tmp/raftmq-pg-test), listening only on 127.0.0.1 on a free port from 55432
# (or RAFTMQ_PG_PORT), trust authentication, fsync off. It is for tests only.
# Starting it again while it runs prints the same export line. The export
# line is the only output on stdout; progress goes to stderr. Run as root, the
# server runs as the postgres user (PostgreSQL refuses to run as root).
set -euo pipefail

dir="${RAFTMQ_PG_DIR:-/tmp/raftmq-pg-test}"
db=raftmq_test

log() { printf 'pg-test: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pgbin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$b" ] && [ -x "$b/initdb" ] || die "no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$b"
}

# as runs a command as the cluster's owner: postgres when we are root.
as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable"; }

running() { [ -f "$dir/port" ] && [ -d "$dir/data" ] && as "$(pgbin)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

start() {
  local bin port
  bin=$(pgbin)
  if running; then
    echo "export RAFTMQ_TEST_POSTGRES='$(url)'"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -n "${RAFTMQ_PG_PORT:-}" ]; then
    port=$RAFTMQ_PG_PORT
    port_free "$port" || die "port $port is in use"
  else
    port=55432
    while ! port_free "$port"; do
      port=$((port + 1))
      [ "$port" -lt 55532 ] || die "no free port in 55432-55531"
    done
  fi
  echo "$port" >"$dir/port"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"

  log "initdb in $dir/data ($bin)"
  as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  log "starting on 127.0.0.1:$port"
  as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log" >&2; die "pg_ctl start failed"; }
  as "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $db" >/dev/null || die "create database $db failed"
  echo "export RAFTMQ_TEST_POSTGRES='$(url)'"
}

stop() {
  if [ -d "$dir/data" ]; then
    as "$(pgbin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  log "stopped"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) running ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
