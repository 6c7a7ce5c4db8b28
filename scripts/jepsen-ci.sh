#!/usr/bin/env bash
# jepsen-lite runs against the docker cluster (jepsen-lite/docker-compose.yml,
# compose project raftmq-jepsen). Every run must be valid; the script exits
# non-zero otherwise and leaves each run's directory (report.html,
# history.jsonl, node logs of failed runs) under $JEPSEN_STORE.
#
#   scripts/jepsen-ci.sh            # ci profile: four runs of 60 s
#   scripts/jepsen-ci.sh nightly    # longer runs, several seeds
#
# Environment: JEPSEN_SEED (default: from the clock; printed, and recorded in
# each run's params.json, so a failure can be replayed with --seed),
# JEPSEN_STORE (default store/jepsen-<profile>), JEPSEN_TIME (overrides the
# per-run time limit).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

profile="${1:-ci}"
case "$profile" in ci|nightly) ;; *) echo "usage: $0 [ci|nightly]" >&2; exit 2 ;; esac
store="${JEPSEN_STORE:-store/jepsen-$profile}"
seed="${JEPSEN_SEED:-$(( $(date +%s) % 1000000 + 1 ))}"

for tool in docker iptables nsenter; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: jepsen-lite needs $tool" >&2
    exit 1
  fi
done
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose)
else
  echo "FAIL: jepsen-lite needs docker compose or docker-compose" >&2
  exit 1
fi

teardown() {
  # Paused containers cannot be stopped: thaw them first.
  docker ps -q --filter label=com.docker.compose.project=raftmq-jepsen --filter status=paused \
    | xargs -r docker unpause >/dev/null 2>&1 || true
  RAFTMQ_JEPSEN_DATA=/nonexistent "${compose[@]}" -p raftmq-jepsen -f jepsen-lite/docker-compose.yml \
    down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
}
trap teardown EXIT

echo "== building bin/node, the raftmq-node:dev image and bin/jepsen-lite"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/node ./cmd/node
docker build -q -t raftmq-node:dev . >/dev/null
go build -o bin/jepsen-lite ./jepsen-lite

workloads=queue,routing,metadata
failed=()
passed=0
run() {
  local name=$1 nemesis=$2 limit=$3 s=$4
  limit="${JEPSEN_TIME:-$limit}"
  echo "== $name: nemesis $nemesis, $limit, seed $s"
  local rc=0
  bin/jepsen-lite --backend docker --workload "$workloads" --nemesis "$nemesis" --time-limit "$limit" \
    --rate 100 --concurrency 6 --seed "$s" --store "$store" --name "$name" 2> >(grep -E 'level=(WARN|ERROR)|run failed|run directory' | tail -n 20 >&2) || rc=$?
  case $rc in
    0) passed=$((passed + 1)) ;;
    1) failed+=("$name: ANOMALY (seed $s)") ;;
    *) failed+=("$name: UNKNOWN or run error, exit $rc (seed $s)") ;;
  esac
}

case "$profile" in
  ci)
    run none none 60s "$seed"
    run partition partition 60s "$((seed + 1))"
    run kill-pause kill,pause 60s "$((seed + 2))"
    run mixed all 60s "$((seed + 3))"
    ;;
  nightly)
    run none none 120s "$seed"
    run partition partition 300s "$((seed + 1))"
    run kill-pause kill,pause 300s "$((seed + 2))"
    for i in 0 1 2; do
      run "mixed-$i" all 600s "$((seed + 10 + i))"
    done
    ;;
esac

echo "== jepsen-lite $profile: results in $store"
echo "jepsen-lite: ${passed} passed, ${#failed[@]} failed"
for f in "${failed[@]}"; do
  echo "FAIL: $f" >&2
done
[ ${#failed[@]} -eq 0 ]
