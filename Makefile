# raftmq: the everyday commands. See README.md.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)

.PHONY: build cluster down test test-unit fuzz bench

build:
	mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/node ./cmd/node
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/raftmq ./cmd/raftmq

## cluster: build, start the three-node compose cluster, wait until healthy
cluster:
	scripts/cluster-up.sh

## down: stop the compose cluster and remove its volumes
down:
	scripts/compose.sh down -v --remove-orphans

## test: the whole suite, as CI runs it (formatting, vet, race tests, compose test)
test:
	scripts/test.sh

## test-unit: formatting, vet and the race-enabled Go tests only
test-unit:
	SKIP_COMPOSE=1 scripts/test.sh

## fuzz: every fuzz target for FUZZTIME (default 30s) each
fuzz:
	scripts/fuzz.sh

## bench: the Go benchmarks of the hot paths (see docs/performance.md for raftmq bench)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./exchange/ ./queue/ ./fsm/ ./wire/
