package queue

import (
	"fmt"
	"runtime"
	"testing"
)

func BenchmarkQueuePushSettle(b *testing.B) {
	q := New("q", Args{MessageTTL: 60_000})
	body := make([]byte, 1024)
	// Keep a window of 1,000 unsettled messages, as with a consumer's prefetch.
	const window = 1000
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		m := &Message{ID: "0123456789abcdef", Exchange: "x", RoutingKey: "k", Body: body}
		if _, err := q.Push(m, i); err != nil {
			b.Fatal(err)
		}
		if m.Seq > window && !q.Settle(m.Seq-window) {
			b.Fatal("settle failed")
		}
		i++
	}
}

// BenchmarkQueueMemoryPerMessage reports the heap held per queued message
// beyond its body: 100,000 messages with 16-byte IDs and 1 KiB bodies.
func BenchmarkQueueMemoryPerMessage(b *testing.B) {
	const n = 100_000
	const bodyLen = 1024
	var perMsg float64
	for b.Loop() {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%016x", i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		q := New("q", Args{MessageTTL: 60_000})
		for i := 0; i < n; i++ {
			m := &Message{ID: ids[i], Exchange: "orders", RoutingKey: "eu.orders.created", Body: make([]byte, bodyLen), PublishedAt: int64(i)}
			if _, err := q.Push(m, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		// The IDs were allocated before the measurement: add their 16 bytes.
		held := float64(after.HeapAlloc-before.HeapAlloc)/n + 16
		perMsg = held - bodyLen
		runtime.KeepAlive(q)
		runtime.KeepAlive(ids)
	}
	b.ReportMetric(perMsg, "bytes/msg")
}
