package main

import (
	"fmt"
	"io"
	"syscall"
	"time"

	metrics "github.com/armon/go-metrics"
)

// startRaftMetrics keeps the timings hashicorp/raft and raft-wal report
// through go-metrics (commit time, log store appends, replication round
// trips, FSM apply...) in memory, in 10-second intervals over the last
// minute, and writes them to out whenever the process gets SIGUSR1, as
// Consul does. hashicorp/raft v1.7 reports to armon/go-metrics' global
// sink by default, hence that import. The caller stops it.
//
// It is opt-in (-raft-metrics): the in-memory sink takes a lock for every
// sample raft reports, a few per Raft entry.
func startRaftMetrics(out io.Writer) (*metrics.InmemSignal, error) {
	sink := metrics.NewInmemSink(10*time.Second, time.Minute)
	cfg := metrics.DefaultConfig("raftmq")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(cfg, sink); err != nil {
		return nil, fmt.Errorf("raft metrics: %w", err)
	}
	return metrics.NewInmemSignal(sink, syscall.SIGUSR1, out), nil
}
