#!/usr/bin/env bash
# local-cluster.sh: a three-node raftmq cluster of bin/node processes on loopback, for benchmarks.
#
#   scripts/local-cluster.sh start          build bin/node and bin/raftmq, wipe the data, start n1 n2 n3, wait for a leader
#   scripts/local-cluster.sh stop           TERM every node, KILL after 15 s (by PID file)
#   scripts/local-cluster.sh kill nX        SIGKILL node nX (W4), its data stays
#   scripts/local-cluster.sh restart nX     start nX again from its data (stops it first if it still runs)
#   scripts/local-cluster.sh status         which nodes run, and the cluster as bin/raftmq sees it
#   scripts/local-cluster.sh servers        print the client addresses for --servers
#   scripts/local-cluster.sh log-writes     each running node's log writes since it started (raftmq_raft_log_write_seconds)
#
# Environment:
#   RAFTMQ_LOCAL_DIR  data, logs and PID files (default /tmp/raftmq-local): nX/ (data), nX.log, nX.pid
#   NODE_ARGS         extra flags for every node, e.g. "-election-timeout 500ms"
#   NODE_BIN          the node binary to run (default bin/node, built by start unless NO_BUILD=1)
#   NO_BUILD=1        use bin/node and bin/raftmq as they are
#   NODE_GOMAXPROCS   GOMAXPROCS of each node (default: Go's, all the host's CPUs, as the anchors run NATS; races
#                     compare like with like, see docs/performance.md, "Fourth pass", for what 1 does to both)
#
# Ports (127.0.0.1 only; none of the anchors' NATS 4222-4224, 6222-6224, 8222-8224 or RabbitMQ 4369, 5672-5674,
# 25672-25674, nor the compose cluster's 6570-6780):
#   node   client  raft  gossip  http
#   n1     7570    7571  7572    7580
#   n2     7670    7671  7672    7680
#   n3     7770    7771  7772    7780
# A process is only ever signalled by the PID its start wrote, and only while its command line still is that node's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${RAFTMQ_LOCAL_DIR:-/tmp/raftmq-local}"
DIR="${DIR%/}"
NODE_BIN="${NODE_BIN:-$ROOT/bin/node}"
CLI_BIN="$ROOT/bin/raftmq"
NODES=(n1 n2 n3)
GO="${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}"

die() { echo "local-cluster.sh: $*" >&2; exit 1; }
say() { echo "local-cluster.sh: $*" >&2; }

# base NODE: the port base of a node (7500, 7600, 7700).
base() {
  case "$1" in
    n1) echo 7500 ;; n2) echo 7600 ;; n3) echo 7700 ;;
    *) die "unknown node '$1' (n1, n2 or n3)" ;;
  esac
}
client_addr() { echo "127.0.0.1:$(( $(base "$1") + 70 ))"; }
raft_addr()   { echo "127.0.0.1:$(( $(base "$1") + 71 ))"; }
gossip_addr() { echo "127.0.0.1:$(( $(base "$1") + 72 ))"; }
http_addr()   { echo "127.0.0.1:$(( $(base "$1") + 80 ))"; }
servers() { local s="" n; for n in "${NODES[@]}"; do s="$s,$(client_addr "$n")"; done; echo "${s#,}"; }
join_list() { local s="" n; for n in "${NODES[@]}"; do s="$s,$(gossip_addr "$n")"; done; echo "${s#,}"; }

# pid_of NODE: the node's PID if its PID file names a live process that is this node, else nothing.
pid_of() {
  local f="$DIR/$1.pid" pid
  [ -r "$f" ] || return 0
  pid="$(cat "$f" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- " -id $1 -data $DIR/$1 "; then
    echo "$pid"
  fi
}

build() {
  if [ "${NO_BUILD:-}" = 1 ]; then
    [ -x "$NODE_BIN" ] || die "NO_BUILD=1 but $NODE_BIN is missing"
    return 0
  fi
  mkdir -p "$ROOT/bin"
  (cd "$ROOT" && CGO_ENABLED=0 "$GO" build -trimpath -o bin/raftmq ./cmd/raftmq) || die "build of bin/raftmq failed"
  if [ "$NODE_BIN" = "$ROOT/bin/node" ]; then
    (cd "$ROOT" && CGO_ENABLED=0 "$GO" build -trimpath -o bin/node ./cmd/node) || die "build of bin/node failed"
  fi
  [ -x "$NODE_BIN" ] || die "$NODE_BIN is missing"
}

port_free() { ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# launch NODE: start the node process in the background with its data, log and PID file. Descriptors 3-9 are
# closed in the node: a caller's lock file (compare.sh holds one on 9) must not stay held by a node that outlives it.
launch() {
  local n="$1"
  mkdir -p "$DIR/$n"
  # shellcheck disable=SC2086  # NODE_ARGS is a list of flags
  env ${NODE_GOMAXPROCS:+GOMAXPROCS="$NODE_GOMAXPROCS"} "$NODE_BIN" -id "$n" -data "$DIR/$n" \
    -client-addr "$(client_addr "$n")" -raft-addr "$(raft_addr "$n")" \
    -gossip-addr "$(gossip_addr "$n")" -http-addr "$(http_addr "$n")" \
    -join "$(join_list)" -bootstrap-expect 3 ${NODE_ARGS:-} \
    </dev/null >>"$DIR/$n.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$DIR/$n.pid"
}

# launched NODE: whether the process launch started for the node still exists. Unlike pid_of it does not check the
# command line, which is the launching shell's until the exec: right after launch that check would fail.
launched() {
  local pid
  pid="$(cat "$DIR/$1.pid" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# wait_up NODE SECONDS [-ready]: until the node's HTTP answers (/readyz with -ready).
wait_up() {
  local n="$1" deadline=$((SECONDS + $2)) flag="${3:-}"
  # shellcheck disable=SC2086  # $flag is empty or one flag
  until "$NODE_BIN" healthcheck $flag -http-addr "$(http_addr "$n")" 2>/dev/null; do
    launched "$n" || { tail -n 20 "$DIR/$n.log" >&2; die "node $n exited (log: $DIR/$n.log)"; }
    [ $SECONDS -lt "$deadline" ] || { tail -n 20 "$DIR/$n.log" >&2; die "node $n not up after $2 s (log: $DIR/$n.log)"; }
    sleep 0.2
  done
}

# stop_node NODE SIG: signal the node and wait (TERM: up to 15 s, then KILL).
stop_node() {
  local n="$1" sig="$2" pid i
  # A node launched a moment ago may not have exec'd yet: give it 2 s to become itself.
  for ((i = 0; i < 20; i++)); do
    { launched "$n" && [ -z "$(pid_of "$n")" ]; } || break
    sleep 0.1
  done
  pid="$(pid_of "$n")"
  if [ -z "$pid" ]; then rm -f "$DIR/$n.pid"; return 0; fi
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    [ -n "$(pid_of "$n")" ] || break
    sleep 0.1
  done
  if [ -n "$(pid_of "$n")" ]; then
    say "$n did not stop after SIG$sig; KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do [ -n "$(pid_of "$n")" ] || break; sleep 0.1; done
  fi
  rm -f "$DIR/$n.pid"
}

cmd_start() {
  local n running=""
  for n in "${NODES[@]}"; do [ -n "$(pid_of "$n")" ] && running="$running $n"; done
  [ -z "$running" ] || die "already running:$running (scripts/local-cluster.sh stop)"
  for n in "${NODES[@]}"; do
    for a in "$(client_addr "$n")" "$(raft_addr "$n")" "$(gossip_addr "$n")" "$(http_addr "$n")"; do
      port_free "$a" || die "port $a is in use"
    done
  done
  build
  rm -rf "${DIR:?}/n1" "${DIR:?}/n2" "${DIR:?}/n3" "$DIR"/n?.log "$DIR"/n?.pid
  mkdir -p "$DIR"
  for n in "${NODES[@]}"; do launch "$n"; done
  for n in "${NODES[@]}"; do wait_up "$n" 60 -ready; done
  say "running: n1 n2 n3 (data and logs in $DIR); --servers $(servers)"
}

cmd_stop() {
  local n
  for n in "${NODES[@]}"; do stop_node "$n" TERM & done
  wait
}

cmd_kill() {
  local pid
  pid="$(pid_of "$1")"
  [ -n "$pid" ] || die "node $1 is not running"
  kill -KILL "$pid"
  while [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.01; done
}

cmd_restart() {
  local n="$1"
  base "$n" >/dev/null
  [ -d "$DIR/$n" ] || die "node $n has no data in $DIR/$n (scripts/local-cluster.sh start)"
  stop_node "$n" TERM
  [ -x "$NODE_BIN" ] || die "$NODE_BIN is missing"
  launch "$n"
  wait_up "$n" 60
}

cmd_status() {
  local n pid
  for n in "${NODES[@]}"; do
    pid="$(pid_of "$n")"
    printf '%s  %-8s client %s  http %s\n' "$n" "${pid:-down}" "$(client_addr "$n")" "$(http_addr "$n")"
  done
  [ -x "$CLI_BIN" ] && "$CLI_BIN" --servers "$(servers)" --timeout 5s status || true
}

# cmd_log_writes summarises each running node's raftmq_raft_log_write_seconds histogram: the writes (and fsyncs)
# of its Raft log since it started, the bucket bounds that hold the median and the 99th percentile, and the share
# slower than 1 ms, 1.5 ms and 5 ms. A commit waits for these writes on a majority, so no commit percentile can be
# below the majority's.
cmd_log_writes() {
  command -v curl >/dev/null || die "log-writes needs curl"
  local n
  for n in "${NODES[@]}"; do
    [ -n "$(pid_of "$n")" ] || { echo "$n: down"; continue; }
    curl -fsS --max-time 5 "http://$(http_addr "$n")/metrics" | awk -v node="$n" '
      /^raftmq_raft_log_write_seconds_bucket/ {
        le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
        k++; bound[k] = le; cum[k] = $2
      }
      /^raftmq_raft_log_write_seconds_count / { count = $2 }
      /^raftmq_raft_log_write_seconds_sum / { sum = $2 }
      function at(q,   i) { for (i = 1; i <= k; i++) if (cum[i] >= q * count) return bound[i]; return "?" }
      function over(b,   i) { for (i = 1; i <= k; i++) if (bound[i] == b) return 100 * (count - cum[i]) / count; return -1 }
      END {
        if (count == 0) { printf "%s: no log writes\n", node; exit }
        printf "%s: %d log writes, mean %.0f us, p50 <= %s s, p99 <= %s s; slower than 1 ms %.2f%%, 1.5 ms %.2f%%, 5 ms %.2f%%\n",
          node, count, 1e6 * sum / count, at(0.5), at(0.99), over("0.001"), over("0.0015"), over("0.005")
      }' || echo "$n: metrics unavailable"
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) [ $# -eq 2 ] || die "usage: kill nX"; base "$2" >/dev/null; cmd_kill "$2" ;;
  restart) [ $# -eq 2 ] || die "usage: restart nX"; cmd_restart "$2" ;;
  status) cmd_status ;;
  servers) servers ;;
  log-writes) cmd_log_writes ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
