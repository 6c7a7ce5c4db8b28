package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// writeBulk proposes at least count entries through whichever node of
// nodes leads, pipelined. After a leadership change it carries on with
// the new leader; entries in doubt are simply written again, so the
// caller must compare FSMs rather than count entries.
func writeBulk(tb testing.TB, nodes []*tnode, count int) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	written := 0
	for written < count {
		if time.Now().After(deadline) {
			tb.Fatalf("bulk write: %d of %d entries after 2m", written, count)
		}
		l := leaderOf(nodes)
		if l == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		n, err := applyPipelined(l.Raft(), fmt.Sprintf("bulk-%d", written), count-written, 1024)
		written += n
		if err != nil && !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) &&
			!errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			tb.Fatalf("bulk write: %v", err)
		}
	}
}

// applyPipelined proposes count entries through r keeping up to window
// proposals outstanding. It stops at the first error and returns how many
// entries were committed before it.
func applyPipelined(r *raft.Raft, prefix string, count, window int) (int, error) {
	queue := make([]raft.ApplyFuture, 0, window)
	done := 0
	for i := range count {
		if len(queue) == window {
			if err := queue[0].Error(); err != nil {
				return done, err
			}
			done++
			queue = queue[1:]
		}
		queue = append(queue, r.Apply([]byte(fmt.Sprintf("%s-%d", prefix, i)), 0))
	}
	for _, f := range queue {
		if err := f.Error(); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// BenchmarkApplyPipelined measures committed entries per second on a
// three-node loopback cluster with 1024 proposals outstanding.
func BenchmarkApplyPipelined(b *testing.B) {
	nodes := startCluster(b, 3, nil)
	r := leaderOf(nodes).Raft()
	b.ResetTimer()
	if _, err := applyPipelined(r, "bench", b.N, 1024); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApplySequential measures the latency of one Node.Apply at a time
// (propose, replicate, fsync on a majority, apply) on a three-node loopback
// cluster.
func BenchmarkApplySequential(b *testing.B) {
	nodes := startCluster(b, 3, nil)
	leader := leaderOf(nodes)
	ctx := ctxT(b, 10*time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := leader.Apply(ctx, []byte("bench")); err != nil {
			b.Fatal(err)
		}
	}
}
