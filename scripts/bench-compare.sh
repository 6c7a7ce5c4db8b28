#!/usr/bin/env bash
# bench-compare.sh: raftmq side by side with an anchor broker (NATS JetStream or RabbitMQ), one workload at a time.
#
#   scripts/bench-compare.sh [WORKLOAD...]        default: w1 w2 w3 w3-paced w4
#
# It first builds bin/node and bin/raftmq once, into $RESULTS/bin, so every run of one invocation uses the same code.
# Then, for each workload and each anchor, it runs the anchors' compare.sh, which starts the anchor cluster, runs its
# bench, stops it, and then runs this script's "one" mode: start a fresh local raftmq cluster
# (scripts/local-cluster.sh), run `raftmq bench --workload W --json` against it (W4 kills and restarts the leader
# through local-cluster.sh), stop the cluster. compare.sh prints the ratios raftmq/anchor; all tables are collected
# in one file.
#
# Environment:
#   ANCHORS            anchors to compare with (default "nats-default"; also nats-always, rabbitmq)
#   ANCHORS_SCRIPTS    the anchors' folder (default ../shared/anchors next to this repository)
#   MESSAGES           override the message count of W1-W3 on both sides (default: the workloads' own)
#   RAFTMQ_BENCH_ARGS  extra flags for raftmq bench
#   RESULTS            where the binaries and the collected tables go (default /tmp/raftmq-bench)
#   NODE_BIN, RAFTMQ_BIN  use these binaries instead of building them
#   plus those of scripts/local-cluster.sh (RAFTMQ_LOCAL_DIR, NODE_ARGS, NODE_BIN) and compare.sh (ANCHORS_DIR)
#
#   scripts/bench-compare.sh one WORKLOAD          only the raftmq side, as compare.sh runs it (JSON last on stdout)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="$ROOT/scripts/local-cluster.sh"
GO="${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}"

# one WORKLOAD: fresh cluster, one bench run, cluster stopped (also on failure). Only the JSON goes to stdout.
one() {
  local w="$1" servers
  local args=(--workload "$w" --json --setting "raftmq (working tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)), 3 local nodes")
  if [ -n "${MESSAGES:-}" ] && [[ "$w" != w4* ]]; then args+=(--messages "$MESSAGES"); fi
  if [[ "$w" == w4* ]]; then
    args+=(--kill-cmd "$CLUSTER kill {node}" --restart-cmd "$CLUSTER restart {node}")
  fi
  trap '"$CLUSTER" stop >&2 || true' EXIT
  # The anchor that ran just before leaves its writes in the page cache (NATS's default fsyncs every 2 min: about
  # 600 MB after W1). Write them out first, so raftmq's fsyncs do not pay for the anchor's data.
  sync
  "$CLUSTER" start >&2
  servers="$("$CLUSTER" servers)"
  # shellcheck disable=SC2086  # RAFTMQ_BENCH_ARGS is a list of flags
  "${RAFTMQ_BIN:-$ROOT/bin/raftmq}" bench --servers "$servers" "${args[@]}" ${RAFTMQ_BENCH_ARGS:-}
  # The disk's side of the same run: each node's log writes (W2's tail cannot be shorter than a majority's).
  "$CLUSTER" log-writes >&2 || true
}

if [ "${1:-}" = one ]; then
  [ $# -eq 2 ] || { echo "usage: bench-compare.sh one WORKLOAD" >&2; exit 2; }
  one "$2"
  exit
fi

ANCHORS_SCRIPTS="${ANCHORS_SCRIPTS:-$(cd "$ROOT/.." && pwd)/shared/anchors}"
COMPARE="$ANCHORS_SCRIPTS/compare.sh"
[ -x "$COMPARE" ] || { echo "bench-compare.sh: $COMPARE not found (set ANCHORS_SCRIPTS)" >&2; exit 1; }
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(w1 w2 w3 w3-paced w4)
RESULTS="${RESULTS:-/tmp/raftmq-bench}"
mkdir -p "$RESULTS"
OUT="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ)-tables.txt"
if [ -n "${MESSAGES:-}" ]; then export ANCHOR_ARGS="${ANCHOR_ARGS:-} -messages $MESSAGES"; fi
export MESSAGES
if [ -z "${NODE_BIN:-}" ] || [ -z "${RAFTMQ_BIN:-}" ]; then
  mkdir -p "$RESULTS/bin"
  (cd "$ROOT" && CGO_ENABLED=0 "$GO" build -trimpath -o "$RESULTS/bin/node" ./cmd/node &&
    CGO_ENABLED=0 "$GO" build -trimpath -o "$RESULTS/bin/raftmq" ./cmd/raftmq) || { echo "bench-compare.sh: build failed" >&2; exit 1; }
  NODE_BIN="${NODE_BIN:-$RESULTS/bin/node}" RAFTMQ_BIN="${RAFTMQ_BIN:-$RESULTS/bin/raftmq}"
fi
export NODE_BIN RAFTMQ_BIN NO_BUILD=1

rc=0
for anchor in ${ANCHORS:-nats-default}; do
  for w in "${WORKLOADS[@]}"; do
    echo "== $w vs $anchor" >&2
    if ! "$COMPARE" "$w" "$anchor" -- "$ROOT/scripts/bench-compare.sh" one "$w" | tee -a "$OUT"; then
      echo "bench-compare.sh: $w vs $anchor failed" | tee -a "$OUT" >&2
      rc=1
    fi
    echo | tee -a "$OUT"
  done
done
echo "bench-compare.sh: tables in $OUT" >&2
exit "$rc"
