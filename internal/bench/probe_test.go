package bench

import (
	"errors"
	"strings"
	"testing"

	"github.com/raftmq/raftmq/wire"
)

// The two readiness tests: current wants every node to have applied the
// leader's commit index (setup, no traffic); replicated wants every node
// to hold it in its log (W4's recovery watch, under traffic).
func TestViewCurrentAndReplicated(t *testing.T) {
	leader := &wire.StatusInfo{NodeID: "n1", State: "leader", LeaderID: "n1", CommitIndex: 100, AppliedIndex: 100, LastLogIndex: 101}
	follower := func(id string, applied, last uint64) *wire.StatusInfo {
		return &wire.StatusInfo{NodeID: id, State: "follower", LeaderID: "n1", CommitIndex: applied, AppliedIndex: applied, LastLogIndex: last}
	}
	cases := []struct {
		name                string
		v                   view
		current, replicated bool
		currentWhy, replWhy string
	}{
		{"all applied", view{st: []*wire.StatusInfo{leader, follower("n2", 100, 100), follower("n3", 101, 101)}, errs: make([]error, 3)},
			true, true, "all 3 nodes: applied index", "all 3 nodes: last log index"},
		{"trailing under traffic", view{st: []*wire.StatusInfo{leader, follower("n2", 99, 101), follower("n3", 98, 100)}, errs: make([]error, 3)},
			false, true, "n2 applied index 99 < leader commit 100", "all 3 nodes: last log index"},
		{"restarted and behind", view{st: []*wire.StatusInfo{leader, follower("n2", 99, 101), follower("n3", 40, 60)}, errs: make([]error, 3)},
			false, false, "n2 applied index 99", "n3 last log index 60 < leader commit 100"},
		{"one silent", view{st: []*wire.StatusInfo{leader, nil, follower("n3", 100, 100)}, errs: []error{nil, errors.New("refused"), nil}},
			false, false, "does not answer", "does not answer"},
		{"no leader", view{st: []*wire.StatusInfo{follower("n2", 100, 100)}, errs: make([]error, 1)},
			false, false, "no leader", "no leader"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := tc.v.current()
			if ok != tc.current || !strings.Contains(why, tc.currentWhy) {
				t.Errorf("current = %v %q, want %v containing %q", ok, why, tc.current, tc.currentWhy)
			}
			ok, why = tc.v.replicated()
			if ok != tc.replicated || !strings.Contains(why, tc.replWhy) {
				t.Errorf("replicated = %v %q, want %v containing %q", ok, why, tc.replicated, tc.replWhy)
			}
		})
	}
}
