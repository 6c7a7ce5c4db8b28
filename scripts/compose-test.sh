#!/usr/bin/env bash
# The compose test: a three-node cluster in containers loses its leader in
# the middle of a publish run, and no confirmed message is lost or
# delivered twice; the killed node comes back and catches up.
#
#   scripts/compose-test.sh        # build, start, test, tear down (down -v)
#
# 1. build bin/node and bin/raftmq (CGO_ENABLED=0) and the image; start the
#    cluster (scripts/cluster-up.sh) and wait until every node is healthy and
#    all three are alive Raft voters; each node's log says it raised its
#    Go monitor thread's timer slack (the compose file's cap_add works);
# 2. declare a queue, publish 1,000 messages (IDs batch1-0..999);
# 3. find the leader (raftmq status --json) and docker kill its container;
# 4. publish 1,000 more (batch2-*): the CLI finds the new leader and resends
#    unconfirmed messages with their IDs until they are confirmed;
# 5. consume with --json --count 2000 and check that the 2,000 expected IDs
#    all arrived, none twice, and that the queue is then empty;
# 6. start the killed container again and wait until it is a live voter and
#    its state machine has applied everything the leader had applied.
#
# Every wait is bounded. The cluster is torn down (down -v) on exit, also on
# failure, after printing the nodes' last logs. The last line says PASS or
# FAIL; the exit code is 0 only on PASS.
#
# The cluster uses the fixed host ports of docker-compose.yml (6570, 6670,
# 6770), so the test refuses to run while a cluster of this project is up
# (make down first): it would destroy its data.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

QUEUE=compose-test
N=1000
CLI=bin/raftmq
export RAFTMQ_SERVERS=127.0.0.1:6570,127.0.0.1:6670,127.0.0.1:6770
WORK=$(mktemp -d)
START=$SECONDS
passed=0

log() { printf '[%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() {
  log "FAIL: $*" >&2
  if [ -s "${WORK:-}/last-status" ]; then
    log "the last status seen: $(cat "$WORK/last-status")" >&2
  fi
  exit 1
}

cleanup() {
  code=$?
  set +e
  if [ "$passed" != 1 ]; then
    echo "--- last node logs ---" >&2
    scripts/compose.sh logs --tail=40 >&2 2>&1
  fi
  scripts/compose.sh down -v --remove-orphans >/dev/null 2>&1
  rm -rf "$WORK"
  if [ "$passed" = 1 ]; then
    echo "compose test: PASS ($((SECONDS - START))s)"
  else
    echo "compose test: FAIL ($((SECONDS - START))s)"
    [ "$code" -ne 0 ] || code=1
  fi
  exit "$code"
}

# field JSON NAME prints the first value of "NAME" in one line of JSON (the
# top-level one: the tool prints top-level fields first). Strings lose
# their quotes.
field() {
  { grep -o "\"$2\":[^,}]*" <<<"$1" || true; } | head -n1 | cut -d: -f2- | tr -d '"'
}

# port_of SERVICE prints the host port of a node's client address.
port_of() {
  case "$1" in
    n1) echo 6570 ;;
    n2) echo 6670 ;;
    n3) echo 6770 ;;
    *) return 1 ;;
  esac
}

# metric PORT NAME prints a node's metric, read from its own HTTP port
# (the client port + 10), or nothing when the node does not answer.
metric() {
  { curl -fsS --max-time 2 "http://127.0.0.1:$(($1 + 10))/metrics" 2>/dev/null || true; } |
    awk -v m="$2" '$1 == m { printf "%d\n", $2; exit }'
}

# wait_for SECONDS WHAT COMMAND... runs COMMAND every half second until it
# succeeds, or fails the test after SECONDS.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

# three_voters_alive [SERVICE]: status shows three live voters (and, with
# SERVICE, that one among them).
three_voters_alive() {
  local st
  st=$("$CLI" status --json --timeout 5s 2>/dev/null) || return 1
  [ "$(grep -o '"voter":true' <<<"$st" | wc -l)" -eq 3 ] || return 1
  [ "$(grep -o '"alive":true' <<<"$st" | wc -l)" -eq 3 ] || return 1
  [ -z "${1:-}" ] || grep -q "\"id\":\"$1\",\"leader\":[a-z]*,\"voter\":true,\"suffrage\":\"voter\",\"alive\":true" <<<"$st"
}

# queue_empty: the test queue holds no message, ready or unacknowledged.
queue_empty() {
  local st
  if ! st=$("$CLI" status --json --timeout 5s 2>&1); then
    echo "status failed: $st" >"$WORK/last-status"
    return 1
  fi
  echo "$st" >"$WORK/last-status"
  grep -q "\"name\":\"$QUEUE\",\"messages\":0,\"ready\":0,\"unacked\":0" <<<"$st"
}

# caught_up PORT TARGET: the node at PORT has applied at least TARGET.
caught_up() {
  local applied
  applied=$(metric "$1" raftmq_raft_applied_index)
  [ -n "$applied" ] && [ "$applied" -ge "$2" ]
}

# publish_batch ID: publishes N messages ID-0..ID-(N-1) and checks that all
# were confirmed.
publish_batch() {
  local out
  out=$("$CLI" publish "" "$QUEUE" --count "$N" --size 100 --id "$1" --json --timeout 120s) ||
    fail "publish $1: $out"
  log "publish $1: $out"
  [ "$(field "$out" confirmed)" = "$N" ] || fail "publish $1: not all $N messages confirmed"
}

if [ -n "$(scripts/compose.sh ps -q 2>/dev/null)" ]; then
  echo "a raftmq compose cluster is already running; stop it first (make down)" >&2
  echo "compose test: FAIL (cluster already running)"
  exit 1
fi
trap cleanup EXIT

log "building and starting the cluster"
WAIT_SECONDS=120 scripts/cluster-up.sh >/dev/null
wait_for 60 "three live voters" three_voters_alive
log "cluster up: three live voters"
for n in n1 n2 n3; do
  scripts/compose.sh logs "$n" 2>&1 | grep -q "raised the timer slack of the Go runtime's monitor thread" ||
    fail "$n did not raise its Go monitor thread's timer slack (cap_add SYS_NICE in docker-compose.yml)"
done
log "every node raised its Go monitor thread's timer slack"

"$CLI" declare queue "$QUEUE" >/dev/null || fail "declare queue $QUEUE"
publish_batch batch1

st=$("$CLI" status --json) || fail "status failed"
leader=$(field "$st" leader_id)
leader_port=$(port_of "$leader") || fail "leader is $leader, not one of n1, n2, n3"
leader_cid=$(scripts/compose.sh ps -q "$leader")
[ -n "$leader_cid" ] || fail "no container for $leader"
log "leader is $leader (port $leader_port): docker kill"
docker kill "$leader_cid" >/dev/null

publish_batch batch2
st=$("$CLI" status --json) || fail "status failed after killing $leader"
new_leader=$(field "$st" leader_id)
[ -n "$new_leader" ] && [ "$new_leader" != "$leader" ] || fail "no new leader after killing $leader (status says ${new_leader:-none})"
log "new leader is $new_leader"

log "consuming"
"$CLI" consume "$QUEUE" --json --count $((2 * N)) --timeout 30s --prefetch 500 >"$WORK/consumed.jsonl" 2>"$WORK/consume.err" ||
  fail "consume: $(cat "$WORK/consume.err")"
sed -n 's/^{"id":"\([^"]*\)".*/\1/p' "$WORK/consumed.jsonl" | sort >"$WORK/got"
for b in batch1 batch2; do
  for ((i = 0; i < N; i++)); do echo "$b-$i"; done
done | sort >"$WORK/want"
lines=$(wc -l <"$WORK/consumed.jsonl")
dups=$(uniq -d "$WORK/got" | wc -l)
missing=$(comm -23 "$WORK/want" "$WORK/got" | wc -l)
unexpected=$(comm -13 "$WORK/want" <(sort -u "$WORK/got") | wc -l)
log "consumed $lines messages: $missing missing, $dups duplicated, $unexpected unexpected"
[ "$dups" -eq 0 ] || fail "duplicated: $(uniq -d "$WORK/got" | head -n5 | tr '\n' ' ')"
[ "$missing" -eq 0 ] || fail "missing: $(comm -23 "$WORK/want" "$WORK/got" | head -n5 | tr '\n' ' ')"
[ "$unexpected" -eq 0 ] || fail "unexpected IDs: $(comm -13 "$WORK/want" <(sort -u "$WORK/got") | head -n5 | tr '\n' ' ')"
[ "$lines" -eq $((2 * N)) ] || fail "consumed $lines messages, want $((2 * N))"
wait_for 30 "the queue to be empty (acknowledgements applied)" queue_empty
rm -f "$WORK/last-status"

new_port=$(port_of "$new_leader")
target=$(metric "$new_port" raftmq_raft_applied_index)
[ -n "$target" ] || fail "cannot read the leader's applied index from its metrics"
log "starting $leader again; the leader has applied index $target"
docker start "$leader_cid" >/dev/null
wait_for 60 "$leader to be a live voter again" three_voters_alive "$leader"
wait_for 60 "$leader to apply index $target" caught_up "$leader_port" "$target"
depth=$({ curl -fsS --max-time 2 "http://127.0.0.1:$((leader_port + 10))/metrics" || true; } |
  awk -v q="raftmq_queue_messages{queue=\"$QUEUE\"}" '$1 == q { print $2 }')
[ "$depth" = 0 ] || fail "$leader's copy of the queue holds ${depth:-?} messages, want 0"
log "$leader rejoined and caught up (applied index $(metric "$leader_port" raftmq_raft_applied_index) >= $target, queue empty)"

passed=1
