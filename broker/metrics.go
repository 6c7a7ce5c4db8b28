package broker

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/fsm"
)

// metrics are the node's Prometheus metrics, in a registry of its own so
// that several nodes can live in one process (tests).
type metrics struct {
	reg            *prometheus.Registry
	published      prometheus.Counter
	confirmed      prometheus.Counter
	publishRefused prometheus.Counter
	delivered      prometheus.Counter
	acked          prometheus.Counter
	nacked         prometheus.Counter
	connections    prometheus.Gauge
	protocolErrors prometheus.Counter
	applyLatency   prometheus.Histogram
}

func newMetrics(b *Broker) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg:            reg,
		published:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_published_messages_total", Help: "Messages received in publish frames by this node as leader."}),
		confirmed:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_confirmed_messages_total", Help: "Messages confirmed to publishers (committed and applied)."}),
		publishRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_publish_refused_messages_total", Help: "Messages refused because of the memory high watermark."}),
		delivered:      prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_delivered_messages_total", Help: "Messages delivered to consumers."}),
		acked:          prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_acked_messages_total", Help: "Messages acknowledged by consumers."}),
		nacked:         prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_nacked_messages_total", Help: "Messages returned (nack/reject) by consumers."}),
		connections:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftmq_client_connections", Help: "Open client connections."}),
		protocolErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftmq_protocol_errors_total", Help: "Connections closed because of a protocol error."}),
		applyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "raftmq_apply_latency_seconds", Help: "Time from proposing a batch to Raft until it is committed and applied.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
	}
	reg.MustRegister(m.published, m.confirmed, m.publishRefused, m.delivered, m.acked, m.nacked,
		m.connections, m.protocolErrors, m.applyLatency,
		// The scheduler's metrics too: go_sched_latencies_seconds is how long
		// goroutines waited to run once runnable, what a starved CPU adds
		// to every hand-off between a connection, Raft and the disk.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{b: b})
	return m
}

func (m *metrics) observeApply(d time.Duration) { m.applyLatency.Observe(d.Seconds()) }

var (
	descRaftState    = prometheus.NewDesc("raftmq_raft_state", "Raft state of this node: 0 follower, 1 candidate, 2 leader, 3 shutdown.", nil, nil)
	descRaftTerm     = prometheus.NewDesc("raftmq_raft_term", "Current Raft term.", nil, nil)
	descCommitIndex  = prometheus.NewDesc("raftmq_raft_commit_index", "Raft commit index.", nil, nil)
	descAppliedIndex = prometheus.NewDesc("raftmq_raft_applied_index", "Index of the last Raft log entry applied on this node (as in cluster status).", nil, nil)
	descQueueDepth   = prometheus.NewDesc("raftmq_queue_messages", "Unsettled messages in a queue.", []string{"queue"}, nil)
	descQueueBytes   = prometheus.NewDesc("raftmq_queue_bytes", "Sum of the body sizes of a queue's unsettled messages.", []string{"queue"}, nil)
	descQueueUnacked = prometheus.NewDesc("raftmq_queue_unacked", "Messages of a queue held by consumers (on the leader).", []string{"queue"}, nil)
	descLogWrites    = prometheus.NewDesc("raftmq_raft_log_write_seconds", "Time the Raft log store took to store each batch of entries (encode, write, fsync). A commit waits for these writes on a majority of the nodes, so this is the disk latency every publish and ack pays.", nil, nil)
	descBodyErrors   = prometheus.NewDesc("raftmq_body_read_errors_total", "Message bodies kept in the Raft log that could not be read back; anything but 0 means the log store lost or cannot read an entry.", nil, nil)
)

// stateCollector reads Raft and queue state at scrape time.
type stateCollector struct{ b *Broker }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descCommitIndex, descAppliedIndex, descQueueDepth, descQueueBytes, descQueueUnacked, descBodyErrors, descLogWrites} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.b.node == nil {
		return
	}
	r := c.b.node.Raft()
	ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, float64(r.State()))
	ch <- prometheus.MustNewConstMetric(descRaftTerm, prometheus.GaugeValue, float64(r.CurrentTerm()))
	ch <- prometheus.MustNewConstMetric(descCommitIndex, prometheus.GaugeValue, float64(r.CommitIndex()))
	ch <- prometheus.MustNewConstMetric(descAppliedIndex, prometheus.GaugeValue, float64(r.AppliedIndex()))
	ch <- prometheus.MustNewConstMetric(descBodyErrors, prometheus.CounterValue, float64(c.b.fsm.BodyReadErrors()))
	ch <- logWritesMetric(c.b.node.LogWrites())
	type qm struct {
		name         string
		depth, bytes int64
	}
	var qs []qm
	c.b.fsm.View(func(v fsm.View) {
		for _, n := range v.QueueNames() {
			q, _ := v.Queue(n)
			qs = append(qs, qm{n, int64(q.Len()), q.Bytes()})
		}
	})
	for _, q := range qs {
		ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(q.depth), q.name)
		ch <- prometheus.MustNewConstMetric(descQueueBytes, prometheus.GaugeValue, float64(q.bytes), q.name)
		_, unacked := c.b.dispatch.consumerCount(q.name)
		ch <- prometheus.MustNewConstMetric(descQueueUnacked, prometheus.GaugeValue, float64(unacked), q.name)
	}
}

// logWritesMetric is the log store's write histogram as Prometheus wants it:
// cumulative counts by upper bound in seconds.
func logWritesMetric(s cluster.LogWriteStats) prometheus.Metric {
	buckets := make(map[float64]uint64, len(s.Bounds))
	var cum uint64
	for i, b := range s.Bounds {
		cum += s.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(descLogWrites, s.Count, s.Sum.Seconds(), buckets)
}

// httpHandler serves /healthz (the process is up), /readyz (the node is in a
// cluster that has a leader), /metrics and, with Config.Profiling,
// /debug/pprof/.
func (b *Broker) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := b.node.Leader(); !ok {
			http.Error(w, "no leader", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	if b.cfg.Profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
