package report

import (
	"sort"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
)

// Stats are the figures of a run at a glance.
type Stats struct {
	Verdict checker.Validity `json:"verdict"`
	// Operations counts client requests (publishes and metadata
	// operations), not deliveries.
	Operations int `json:"operations"`
	// Publishes.
	Attempted     int `json:"attempted"`
	Confirmed     int `json:"confirmed"`
	Failed        int `json:"failed"`
	Indeterminate int `json:"indeterminate"`
	Recovered     int `json:"recovered"`
	// Deliveries.
	Deliveries   int `json:"deliveries"`
	Redeliveries int `json:"redeliveries"`
	// Anomalies.
	Lost         int `json:"lost"`
	Unexpected   int `json:"unexpected"`
	Aborted      int `json:"aborted"`
	Duplicates   int `json:"duplicates"`
	Reorders     int `json:"reorders"`
	Misrouted    int `json:"misrouted"`
	MissingRoute int `json:"missing_route"`
	// Metadata.
	MetadataOps int    `json:"metadata_ops"`
	Porcupine   string `json:"porcupine,omitempty"`
	// Faults is the number of faults injected.
	Faults int `json:"faults"`
	// LongestUnavailable is the longest stretch without a successful client
	// request; UnavailableAt is when it began (from the start of the run)
	// and UnavailableFault the fault active then ("" for none).
	LongestUnavailable time.Duration `json:"longest_unavailable"`
	UnavailableAt      time.Duration `json:"unavailable_at"`
	UnavailableFault   string        `json:"unavailable_fault,omitempty"`
	// Duration is the length of the history.
	Duration time.Duration `json:"duration"`
}

// isRequest reports whether f is a client request (not an observation, a
// drain or a fault).
func isRequest(f string) bool {
	switch f {
	case history.FDeliver, history.FDrain, history.FStartFault, history.FStopFault:
		return false
	}
	return true
}

// ComputeStats sums a run up.
func ComputeStats(ops []history.Op, ivs []nemesis.Interval, res checker.Result) Stats {
	s := Stats{Verdict: res.Valid, Faults: len(ivs)}
	if m := res.Messages; m != nil {
		s.Attempted, s.Confirmed, s.Failed, s.Indeterminate, s.Recovered = m.Attempted, m.Confirmed, m.Failed, m.Indeterminate, m.Recovered
		s.Deliveries, s.Redeliveries = m.Deliveries, m.Redeliveries
		s.Lost, s.Unexpected, s.Aborted, s.Duplicates = m.Lost, m.Unexpected, m.Aborted, m.Duplicates
		s.Reorders, s.Misrouted, s.MissingRoute = m.Reorders, m.Misrouted, m.MissingRoute
	}
	if m := res.Metadata; m != nil {
		s.MetadataOps, s.Porcupine = m.Operations, m.Porcupine
	}
	var oks []int64
	var end int64
	drainAt := int64(-1)
	for _, op := range ops {
		end = max(end, op.Time)
		if op.F == history.FDrain && op.Type == history.Invoke {
			drainAt = op.Time
		}
		if !isRequest(op.F) {
			continue
		}
		if op.Type == history.Invoke {
			s.Operations++
		} else if op.Type == history.Ok {
			oks = append(oks, op.Time)
		}
	}
	s.Duration = time.Duration(end)
	sort.Slice(oks, func(i, j int) bool { return oks[i] < oks[j] })
	// Gaps between successes, while the workload ran (before the drain).
	limit := end
	if drainAt >= 0 {
		limit = drainAt
	}
	for i := 1; i < len(oks); i++ {
		if oks[i] > limit {
			break
		}
		if gap := time.Duration(oks[i] - oks[i-1]); gap > s.LongestUnavailable {
			s.LongestUnavailable, s.UnavailableAt = gap, time.Duration(oks[i-1])
		}
	}
	for _, iv := range ivs {
		at := int64(s.UnavailableAt)
		if s.LongestUnavailable > 0 && iv.Start <= at+int64(s.LongestUnavailable) && at <= iv.End {
			s.UnavailableFault = iv.Kind
			break
		}
	}
	return s
}
