// Package history records what the clients of a jepsen-lite run did and saw,
// one JSON line per entry, and reads it back.
//
// The format follows Jepsen's: an operation is an invoke entry followed by
// exactly one completion on the same process, ok (it took effect), fail (it
// certainly did not) or info (unknown). The distinction between fail and
// info is the whole point: a checker may only assume that a failed publish
// left no trace, so a workload records fail only when the error proves that
// nothing was sent or that the broker refused the request outright, and info
// for everything else. A process has one operation in flight at a time and
// is replaced by a new process number after an info, as in Jepsen, so that
// an operation of unknown outcome never overlaps the next one of the same
// client.
//
// Deliveries are observations rather than requests: they are recorded as a
// single ok entry. Nemesis faults share the history, on process -1, so the
// report can draw them on the same timeline.
//
// Times are nanoseconds since the start of the run, taken from the
// monotonic clock, so they order events of one machine correctly.
package history
