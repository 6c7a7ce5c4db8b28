#!/usr/bin/env bash
# The whole test suite: formatting, vet, the race-enabled Go tests, then the
# tests against real containers (compose cluster, jepsen-lite).
#
#   scripts/test.sh                 # everything (what `make test` and CI run)
#   SKIP_COMPOSE=1 scripts/test.sh  # Go tests only (not allowed under CI=true)
#
# Docker is required for the container tests. Without it they are skipped
# with a message, except under CI=true, where a missing Docker fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:-} -count=1"

step() { printf '\n==> %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -race -timeout 25m ./...

if [ "${SKIP_COMPOSE:-}" = 1 ] && [ "${CI:-}" != true ]; then
  echo "SKIP_COMPOSE=1: container tests skipped"
  exit 0
fi

if ! docker info >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "FAIL: Docker is not available, and CI=true requires the container tests" >&2
    exit 1
  fi
  echo "SKIP: Docker is not available here; the compose and jepsen-lite tests did not run"
  exit 0
fi

step "compose test"
scripts/compose-test.sh

if [ -x scripts/jepsen-ci.sh ]; then
  step "jepsen-lite"
  scripts/jepsen-ci.sh
fi
