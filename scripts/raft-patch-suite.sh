#!/usr/bin/env bash
# raft-patch-suite.sh: hashicorp/raft's own test suite against the patched copy in
# third_party/hashicorp-raft, with the patch switched on everywhere: a temporary copy whose
# test helpers set Config.LeaderWritesInParallel and wrap every test cluster's log store in a
# LogCache (the patch only acts on a LogCache). For upgrading the patch; not part of `make test`
# (upstream's suite takes minutes, has flaky tests and permission tests that fail as root).
#
#   scripts/raft-patch-suite.sh [go test flags...]     e.g. -run 'TestRaft_' -count=1
#
# Known failures that are not the patch (third_party/hashicorp-raft/PATCHES.md):
# TestFileSS_BadPerm (as root), TestRaft_LogStoreIsMonotonic (the LogCache wrapper hides
# IsMonotonic), TestRaft_ProtocolVersion_Upgrade_1_2 and
# TestNetworkTransport_AppendEntriesPipeline_CloseStreams (flaky on unpatched v1.7.3 too).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO="${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r "$ROOT/third_party/hashicorp-raft/." "$tmp/"
edit() { # file, anchor line, text to insert after it
  grep -qF -- "$2" "$tmp/$1" || { echo "raft-patch-suite.sh: '$2' not found in $1: update this script" >&2; exit 1; }
  ANCHOR="$2" TEXT="$3" perl -0pi -e 's/\Q$ENV{ANCHOR}\E\n/$ENV{ANCHOR}\n$ENV{TEXT}\n/' "$tmp/$1"
}
edit testing.go '	conf.CommitTimeout = 5 * time.Millisecond' '	conf.LeaderWritesInParallel = true'
edit testing.go '			logs = &MockMonotonicLogStore{s: logs}
		}' '		if lc, err := NewLogCache(512, logs); err == nil {
			logs = lc
		}'
for want in 'conf.LeaderWritesInParallel = true' 'NewLogCache(512, logs)'; do
  grep -qF -- "$want" "$tmp/testing.go" || { echo "raft-patch-suite.sh: could not insert '$want' into testing.go" >&2; exit 1; }
done
cd "$tmp"
"$GO" test -timeout 20m "${@:--count=1}" .
