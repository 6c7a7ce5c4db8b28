package bench

import (
	"encoding/binary"
	"math/rand"
	"strconv"
	"time"
)

// Workload is the broker-independent definition of one benchmark run, as
// WORKLOADS.md of the anchors defines it. It is reported as the "params" of
// the JSON record, with the anchors' field names.
type Workload struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	MsgSize     int    `json:"msg_size_bytes"`
	Publishers  int    `json:"publishers"`
	InFlight    int    `json:"inflight_per_publisher"`
	Messages    int    `json:"messages"`
	Warmup      int    `json:"warmup_messages"`
	Consumers   int    `json:"consumers"`
	Prefetch    int    `json:"prefetch_per_consumer"`

	// Paced publishing (W3-paced) and the failover schedule (W4).
	RateHz         int           `json:"rate_hz,omitempty"`
	KillAfter      time.Duration `json:"kill_after_ns,omitempty"`
	RestartAfter   time.Duration `json:"restart_after_ns,omitempty"`
	Duration       time.Duration `json:"duration_ns,omitempty"`
	PublishTimeout time.Duration `json:"publish_timeout_ns,omitempty"`
	// Connect is where the W4 publisher dials: "follower" or "leader".
	Connect string `json:"connect,omitempty"`
}

// Workload timeouts that WORKLOADS.md fixes.
const (
	confirmTimeout  = 60 * time.Second // W1, W3: one confirm
	w2Timeout       = 10 * time.Second // W2: one publish and its confirm
	consumeTimeout  = 3 * time.Minute  // W3: after the publishers finished
	recoverTimeout  = 3 * time.Minute  // W4: restart to all replicas current
	drainIdle       = 10 * time.Second // W4: nothing delivered for this long ends the drain
	drainPrefetch   = 1000             // W4: drain consumer's prefetch
	recoverInterval = time.Second      // W4: recovery poll interval
)

// workloads returns the five workloads by name.
func workloads() map[string]Workload {
	return map[string]Workload{
		"w1": {Name: "w1", Description: "confirmed-publish throughput: 4 publishers x 256 unconfirmed in flight, 1 KiB",
			MsgSize: 1024, Publishers: 4, InFlight: 256, Messages: 200000},
		"w2": {Name: "w2", Description: "confirmed-publish latency: 1 publisher, 1 in flight, 1 KiB",
			MsgSize: 1024, Publishers: 1, InFlight: 1, Messages: 5000, Warmup: 200},
		"w3": {Name: "w3", Description: "end-to-end: W1 publishers + 2 acking consumers (256 unacked each)",
			MsgSize: 1024, Publishers: 4, InFlight: 256, Messages: 200000, Consumers: 2, Prefetch: 256},
		"w3-paced": {Name: "w3-paced", Description: "end-to-end below saturation: W3 but publishers paced to 5,000 msgs/s in total, 50,000 msgs",
			MsgSize: 1024, Publishers: 4, InFlight: 256, Messages: 50000, Consumers: 2, Prefetch: 256, RateHz: 5000},
		"w4": {Name: "w4", Description: "failover: 1 sync publisher at a steady rate, kill -9 the leader, restart it later, verify",
			MsgSize: 1024, Publishers: 1, InFlight: 1, RateHz: 100,
			KillAfter: 10 * time.Second, RestartAfter: 25 * time.Second, Duration: 40 * time.Second,
			PublishTimeout: time.Second, Connect: "follower"},
	}
}

// t0 is the origin of the send times written into message bodies: a
// monotonic clock private to this process, as WORKLOADS.md asks.
var t0 = time.Now()

// nowNs returns the nanoseconds since t0 on the monotonic clock.
func nowNs() int64 { return int64(time.Since(t0)) }

// bodyMaker builds message bodies: bytes 0-7 the message ID, 8-15 the send
// time (nowNs), big-endian; the rest the same incompressible filler in every
// message (math/rand seeded with 42, as the reference generator).
type bodyMaker struct{ tmpl []byte }

func newBodyMaker(size int) *bodyMaker {
	size = max(size, 16)
	b := make([]byte, size)
	r := rand.New(rand.NewSource(42))
	r.Read(b)
	return &bodyMaker{tmpl: b}
}

// make returns a new body for id stamped with the current time. Each body is
// a fresh slice: the client keeps it until the confirm.
func (m *bodyMaker) make(id uint64) []byte {
	b := make([]byte, len(m.tmpl))
	copy(b, m.tmpl)
	binary.BigEndian.PutUint64(b[0:8], id)
	binary.BigEndian.PutUint64(b[8:16], uint64(nowNs()))
	return b
}

// msgID is the workload's message ID: publisher << 40 | seq.
func msgID(pub, seq int) uint64 { return uint64(pub)<<40 | uint64(seq) }

// parseBody returns the ID and send time stamped into b.
func parseBody(b []byte) (id uint64, sentNs int64, ok bool) {
	if len(b) < 16 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[0:8]), int64(binary.BigEndian.Uint64(b[8:16])), true
}

// idMaker turns workload IDs into broker message IDs. The broker
// de-duplicates message IDs across the cluster, so each run prefixes its
// own tag: a run never collides with an earlier one.
type idMaker struct{ prefix string }

func newIDMaker(runNanos int64) idMaker {
	return idMaker{prefix: "b" + strconv.FormatInt(runNanos, 36) + "."}
}

func (m idMaker) id(v uint64) string { return m.prefix + strconv.FormatUint(v, 36) }
