package fsm

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// BenchmarkApplyPublishBatch applies 100-message publish batches (1 KiB
// bodies) through a topic exchange bound to 3 queues, decode included, and
// reports the cost per message. Messages are settled as they go so that the
// queues stay small.
func BenchmarkApplyPublishBatch(b *testing.B) {
	a := newApplier(b)
	a.declareExchange("events", exchange.Topic)
	for i, key := range []string{"orders.*", "orders.#", "#.created"} {
		q := fmt.Sprintf("q%d", i)
		a.declareQueue(q, queue.Args{})
		a.bind("events", q, key)
	}
	body := make([]byte, 1024)
	cmds := make([][]byte, 64)
	for c := range cmds {
		p := &Publish{Time: int64(c+1) * int64(time.Millisecond)}
		for i := 0; i < 100; i++ {
			p.Messages = append(p.Messages, PublishMessage{ID: fmt.Sprintf("%08d-%04d", c, i), Exchange: "events", RoutingKey: "orders.created", Body: body})
		}
		cmds[c] = MustEncode(OpPublish, p)
	}
	b.ReportAllocs()
	b.SetBytes(100 * 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(cmds) == 0 && i > 0 {
			b.StopTimer()
			a.f.ApplyCommand(MustEncode(OpPurgeQueue, &PurgeQueue{Name: "q0"}))
			a.f.ApplyCommand(MustEncode(OpPurgeQueue, &PurgeQueue{Name: "q1"}))
			a.f.ApplyCommand(MustEncode(OpPurgeQueue, &PurgeQueue{Name: "q2"}))
			a.f.ApplyCommand(MustEncode(OpTick, &Tick{Time: int64(i) * int64(time.Hour)}))
			b.StartTimer()
		}
		a.index++
		// Every round reuses IDs; jump the clock past the window so that
		// they count as new.
		data := cmds[i%len(cmds)]
		a.f.Apply(&raft.Log{Index: a.index, Type: raft.LogCommand, Data: data})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/msg")
}

// BenchmarkSnapshot1M persists a snapshot of 1,000,000 queued 1 KiB
// messages and reports the time and the heap it took beyond the state.
func BenchmarkSnapshot1M(b *testing.B) {
	a := newApplier(b)
	a.declareQueue("big", queue.Args{})
	publishBacklog(1_000, 1_000, "big", 1024, func(cmd []byte) { a.f.ApplyCommand(cmd) })
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		s, err := a.f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		sink := &discardSink{}
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() { done <- samplePeakHeap(stop) }()
		if err := s.Persist(sink); err != nil {
			b.Fatal(err)
		}
		close(stop)
		if p := <-done; p > peak {
			peak = p
		}
		b.SetBytes(sink.n)
	}
	b.StopTimer()
	extra := float64(0)
	if peak > before.HeapAlloc {
		extra = float64(peak - before.HeapAlloc)
	}
	b.ReportMetric(extra/(1<<20), "MiB-extra-peak")
	b.ReportMetric(float64(before.HeapAlloc)/(1<<20), "MiB-state")
}

// samplePeakHeap reads the heap size until stop is closed and returns the
// largest value seen.
func samplePeakHeap(stop <-chan struct{}) uint64 {
	var peak uint64
	var ms runtime.MemStats
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak {
			peak = ms.HeapAlloc
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// BenchmarkMemoryPerMessage publishes 100,000 messages with 16-byte IDs
// and 1 KiB bodies into one queue through Apply and reports the heap each
// queued message takes: the message, its queue slot, its de-duplication
// entry and, with bodies=memory, its body. With bodies=log (a node's
// default) the body stays in the Raft log, which is not counted.
func BenchmarkMemoryPerMessage(b *testing.B) {
	const n = 100_000
	for _, mode := range []string{"memory", "log"} {
		b.Run("bodies="+mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				a := newMemApplier(b)
				if mode == "log" {
					a = newApplier(b)
				}
				a.declareQueue("orders.created.eu-west-1", queue.Args{})
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				cmds := make([][]byte, 0, n/100)
				for c := 0; c < n/100; c++ {
					p := &Publish{Time: 1}
					for j := 0; j < 100; j++ {
						p.Messages = append(p.Messages, PublishMessage{ID: fmt.Sprintf("%016d", c*100+j), RoutingKey: "orders.created.eu-west-1", Body: make([]byte, 1024)})
					}
					cmds = append(cmds, MustEncode(OpPublish, p))
				}
				for _, c := range cmds {
					a.raw(c)
				}
				cmds = nil
				if a.log != nil {
					a.log.compactBelow(a.index + 1) // the log's copy is not the heap's
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/n, "heap-bytes/msg")
				runtime.KeepAlive(a)
			}
		})
	}
}

// BenchmarkLogFloor asks for the compaction floor of an FSM holding a
// backlog of 500,000 messages whose bodies are all in recent entries (the
// common case: nothing to move into memory). It runs under the state
// machine's lock at every compaction, so Apply waits for it.
func BenchmarkLogFloor(b *testing.B) {
	a := newApplier(b)
	a.declareQueue("backlog", queue.Args{})
	publishBacklog(5_000, 100, "backlog", 300, func(cmd []byte) { a.raw(cmd) })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if floor := a.f.LogFloor(10_240); floor != 2 {
			b.Fatalf("floor %d, want 2 (the first publish's entry)", floor)
		}
	}
}

// BenchmarkSnapshotFreeze takes the part of a snapshot that holds the
// state machine's lock (Apply waits for it), with 1,000,000 queued messages
// and as many IDs in the de-duplication window; Persist runs after, without
// the lock, and is not measured.
func BenchmarkSnapshotFreeze(b *testing.B) {
	a := newApplier(b)
	a.declareQueue("big", queue.Args{})
	publishBacklog(1_000, 1_000, "big", 300, func(cmd []byte) { a.raw(cmd) })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := a.f.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// publishBacklog hands apply commands publishes of entries batches of
// perEntry messages, with bodyLen-byte bodies and distinct IDs, routed to
// queue by the default exchange.
func publishBacklog(entries, perEntry int, queue string, bodyLen int, apply func(cmd []byte)) {
	body := make([]byte, bodyLen)
	for c := 0; c < entries; c++ {
		p := &Publish{Time: 1}
		for i := 0; i < perEntry; i++ {
			p.Messages = append(p.Messages, PublishMessage{ID: fmt.Sprintf("%016d", c*perEntry+i), RoutingKey: queue, Body: body})
		}
		apply(MustEncode(OpPublish, p))
	}
}

// BenchmarkApplyAmongManyQueues applies one-message publishes, settling each
// as it goes, in an FSM that has 10,000 queues: one-at-a-time publishes on a
// broker with many queues, where what Apply costs must not grow with the
// queues it does not touch.
func BenchmarkApplyAmongManyQueues(b *testing.B) {
	a := newApplier(b)
	for i := 0; i < 10_000; i++ {
		a.declareQueue(fmt.Sprintf("q%05d", i), queue.Args{})
	}
	body := make([]byte, 300)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := fmt.Sprintf("q%05d", i%10_000)
		r := a.raw(MustEncode(OpPublish, &Publish{Time: 1, Messages: []PublishMessage{{ID: fmt.Sprint(i), RoutingKey: q, Body: body}}}))
		if len(r.Messages) != 1 || r.Messages[0].Status != Routed {
			b.Fatalf("publish to %s: %+v", q, r.Messages)
		}
		a.raw(MustEncode(OpSettle, &Settle{Entries: []QueueSeqs{{Queue: q, Seqs: []uint64{uint64(i/10_000 + 1)}}}}))
	}
}
