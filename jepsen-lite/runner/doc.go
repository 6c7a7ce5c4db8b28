// Package runner carries out one jepsen-lite run from start to verdict.
//
// The order of a run is Jepsen's: start a fresh cluster, wait for a leader
// with three voters, declare the workloads' topology, run the workloads and
// the nemesis for the time limit, heal everything, wait for a leader again,
// stop the workers, drain every queue, then check the history and write the
// run directory (params.json, history.jsonl, results.json, summary.txt,
// report.html, and the node logs when the verdict is not valid).
//
// Operations already in flight when the time limit ends are not cut short:
// each has its own timeout, so the end of a run does not turn a burst of
// healthy publishes into operations of unknown outcome.
//
// The drain is what makes "lost" meaningful. It subscribes to every queue
// with fresh clients and stops when every confirmed message was seen and the
// leader reports every queue empty; when the queues stay empty while
// confirmed messages are still missing, those are lost; when the drain
// timeout passes first, the run's verdict on them is unknown.
package runner
