// Package nemesis draws and executes the faults of a jepsen-lite run.
//
// A schedule is drawn up front from the run's seed (math/rand/v2, PCG), so
// the same seed gives the same sequence of fault kinds, start times, hold
// times and node picks, and a failing run can be repeated. Only the
// leader-following kinds (isolate-leader, one-way, kill-leader,
// pause-leader) depend on the cluster at run time: they ask for the leader
// when they start, and the history records the nodes actually hit.
//
// The shape follows Jepsen's nemesis schedules: a quiet start, then faults
// held 5-15 s (pauses 3-10 s, longer than the election timeout, so a paused
// leader is deposed) with quiet gaps of 3-8 s, then a final heal of
// everything. One fault at a time: overlapping faults are harder to explain
// in a report, and a three-node cluster loses its majority to almost any
// two.
//
// Partitions are lists of directed links (backend.Link), so every shape is
// the same operation: isolate one node or the leader (all its links both
// ways), bridge (two nodes cannot reach each other, both reach the third),
// one-way (the leader's peers cannot reach it, it still reaches them), and
// flapping (an isolation healed and cut again every one to two seconds).
package nemesis
