package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Both log stores keep a node's log across a restart, an empty LogStore
// picks the kind the data dir holds, and a node never opens a data dir with
// the other kind's log.
func TestLogStoreKinds(t *testing.T) {
	for _, tc := range []struct {
		kind      string // configured at creation; "" is the default
		want      string // kind opened
		file      string // what the data dir holds afterwards
		otherKind string
	}{
		{kind: "", want: DefaultLogStore, file: walDir, otherKind: LogStoreBolt},
		{kind: LogStoreWAL, want: LogStoreWAL, file: walDir, otherKind: LogStoreBolt},
		{kind: LogStoreBolt, want: LogStoreBolt, file: boltFile, otherKind: LogStoreWAL},
	} {
		t.Run(fmt.Sprintf("%q", tc.kind), func(t *testing.T) {
			cfg := newConfig(t)
			cfg.LogStore = tc.kind
			n := startNode(t, cfg)
			if got := n.LogStore(); got != tc.want {
				t.Fatalf("log store %q, want %q", got, tc.want)
			}
			waitFor(t, 10*time.Second, "single node leadership", n.IsLeader)
			for i := range 5 {
				mustApply(t, n, fmt.Sprintf("e%d", i))
			}
			if err := n.Shutdown(ctxT(t, 10*time.Second)); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, tc.file)); err != nil {
				t.Fatalf("data dir after a %q node: %v", tc.want, err)
			}

			// The other kind is refused, and the refusal leaves the dir as
			// it was.
			other := cfg
			other.LogStore = tc.otherKind
			if _, err := Start(context.Background(), other, &testFSM{}); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("start a %q dir as %q: %v, want ErrInvalidConfig", tc.want, tc.otherKind, err)
			}

			// Restart with LogStore empty: the kind in the dir is used and
			// the log is replayed.
			again := cfg
			again.LogStore = ""
			n2 := startNode(t, again)
			if got := n2.LogStore(); got != tc.want {
				t.Fatalf("restarted with log store %q, want %q", got, tc.want)
			}
			waitFor(t, 10*time.Second, "log replayed after restart", func() bool {
				return n2.IsLeader() && n2.fsm.len() == 5
			})
			mustApply(t, n2, "after restart")
			if got := n2.fsm.snapshotEntries(); string(got[0]) != "e0" || string(got[5]) != "after restart" {
				t.Fatalf("entries after restart %q", got)
			}
		})
	}
}

func TestLogStoreUnknownKind(t *testing.T) {
	cfg := newConfig(t)
	cfg.LogStore = "rocksdb"
	if _, err := Start(context.Background(), cfg, &testFSM{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("unknown log store: %v, want ErrInvalidConfig", err)
	}
	if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
		t.Fatalf("a refused start wrote %d entries into the data dir", len(entries))
	}
}
