package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// Log store kinds, the values of Config.LogStore. Both keep the Raft log and
// the stable store (current term, vote) on disk and sync every append before
// it returns, so an entry raft counts on this node is on disk.
const (
	// LogStoreBolt is hashicorp/raft-boltdb/v2: one bbolt B-tree file,
	// raft.db. bbolt syncs twice per append (data pages, then the meta
	// page).
	LogStoreBolt = "bolt"
	// LogStoreWAL is hashicorp/raft-wal: append-only segment files,
	// preallocated, plus a small bbolt file for segment metadata and the
	// stable store, in wal/. One sync per append, into space already
	// allocated; about half the latency of LogStoreBolt per append on the
	// disks measured (docs/performance.md).
	LogStoreWAL = "wal"
)

// DefaultLogStore is the log store of a new data dir when Config.LogStore
// is empty. An empty LogStore with an existing data dir uses the kind the
// dir holds, so nodes created before the default changed keep their log.
//
// WAL is the default because it measured faster on every workload: on the
// machine of docs/performance.md, W1 throughput +57% with -42% broker CPU
// per message, W2 p50 latency -40% (one sync per append instead of two).
const DefaultLogStore = LogStoreWAL

// Bounds of Config.WALSegmentSize: raft-wal refuses files over 2 GiB, and
// below 64 KiB a new file would start every few entries. (An append larger
// than a segment is still written whole: the segment closes after it.)
const (
	minWALSegmentSize = 64 << 10
	maxWALSegmentSize = 1<<31 - 1
)

// store is what a node needs of its log store.
type store interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// Data-dir names of the two stores. A node refuses to start with the kind
// that is not in its data dir, rather than start empty beside a log it
// ignores.
const (
	boltFile = "raft.db"
	walDir   = "wal"
)

// openStore opens (or creates) the log store of kind in dataDir; an empty
// kind means the one dataDir holds, or DefaultLogStore for a new dir. It
// returns the store and its kind.
func openStore(kind, dataDir string, walSegmentSize int, hlog *hclogAdapter) (store, string, error) {
	boltPath := filepath.Join(dataDir, boltFile)
	walPath := filepath.Join(dataDir, walDir)
	if kind == "" {
		kind = DefaultLogStore
		if exists(boltPath) {
			kind = LogStoreBolt
		} else if exists(walPath) {
			kind = LogStoreWAL
		}
	}
	switch kind {
	case LogStoreBolt:
		if exists(walPath) {
			return nil, "", fmt.Errorf("%w: log store %q requested but %s holds a %q log (%s)",
				ErrInvalidConfig, kind, dataDir, LogStoreWAL, walPath)
		}
		s, err := raftboltdb.New(raftboltdb.Options{
			Path:        boltPath,
			BoltOptions: &bbolt.Options{Timeout: time.Second},
			NoSync:      false,
		})
		if err != nil {
			return nil, "", fmt.Errorf("open bolt log store %s: %w", boltPath, err)
		}
		return s, kind, nil
	case LogStoreWAL:
		if exists(boltPath) {
			return nil, "", fmt.Errorf("%w: log store %q requested but %s holds a %q log (%s)",
				ErrInvalidConfig, kind, dataDir, LogStoreBolt, boltPath)
		}
		if err := os.MkdirAll(walPath, 0o750); err != nil {
			return nil, "", fmt.Errorf("create wal dir: %w", err)
		}
		if walSegmentSize == 0 {
			walSegmentSize = wal.DefaultSegmentSize
		}
		w, err := wal.Open(walPath, wal.WithLogger(hlog.Named("wal")), wal.WithSegmentSize(walSegmentSize))
		if err != nil {
			return nil, "", fmt.Errorf("open wal log store %s: %w", walPath, err)
		}
		return w, kind, nil
	default:
		return nil, "", fmt.Errorf("%w: unknown log store %q (%q or %q)", ErrInvalidConfig, kind, LogStoreBolt, LogStoreWAL)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
