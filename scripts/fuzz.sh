#!/usr/bin/env bash
# Runs every fuzz target of the project for FUZZTIME each (default 30s), one
# after another: the decoders of bytes from the network (wire frames and
# payloads, gossip metadata, Raft commands) and the topic matcher.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
t="${FUZZTIME:-30s}"
for f in $(git grep -l '^func Fuzz' -- '*_test.go'); do
  pkg="./$(dirname "$f")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "== $pkg $target ($t)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
  done
done
