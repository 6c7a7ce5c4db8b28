#!/usr/bin/env bash
# Builds the node binary and image, starts the three-node compose cluster and
# waits until every node is healthy and the cluster has a leader.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/node ./cmd/node
CGO_ENABLED=0 go build -trimpath -o bin/raftmq ./cmd/raftmq
docker build -q -t raftmq-node:dev . >/dev/null
scripts/compose.sh up -d --no-build
deadline=$((SECONDS + ${WAIT_SECONDS:-120}))
for n in n1 n2 n3; do
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "$(scripts/compose.sh ps -q "$n")" 2>/dev/null)" = healthy ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "node $n did not become healthy in time" >&2
      scripts/compose.sh logs --tail=50 >&2 || true
      exit 1
    fi
    sleep 1
  done
done
cat <<TXT
raftmq is running: three nodes, client ports 127.0.0.1:6570, :6670, :6770.
  bin/raftmq --servers 127.0.0.1:6570,127.0.0.1:6670,127.0.0.1:6770 status
  make down     # stop it and remove its data
TXT
