// Command jepsen-lite is raftmq's fault-injection suite: it proves, run
// after run, that a confirmed message survives node crashes, pauses and
// network partitions, instead of asking users to trust it.
//
// It is built the way Jepsen is, in Go and small:
//
//   - backend/ starts a three-node cluster (docker compose, or three local
//     processes on loopback addresses of their own) and injects faults:
//     kill, pause, and iptables partitions, inside each container's network
//     namespace or, for the local processes, on the host in a chain of the
//     run's own that matches the nodes' addresses and ports (root only).
//   - workload/ drives real traffic through the client library: queue
//     (publish with confirms, consume with manual acks, abandoned
//     deliveries), routing (every exchange kind) and metadata (declare,
//     delete, bind, unbind and their reads).
//   - nemesis/ draws a fault schedule from the seed and executes it.
//   - history/ records every operation as JSON lines: invoke, then ok,
//     fail (certainly no effect) or info (unknown).
//   - checker/ decides: lost, unexpected, aborted, duplicate, reorder,
//     routing, and linearizability with Porcupine.
//   - report/ writes summary.txt, results.json and a self-contained
//     report.html.
//   - runner/ ties one run together.
//
// The suite is deliberately separate from the broker's packages: it imports
// only the client library, and its checker carries its own reference
// router, so a bug in the broker cannot be mirrored by the code that judges
// it.
//
// Exit status: 0 valid, 1 anomaly found, 2 unknown (the evidence was
// incomplete, or the run could not be carried out).
package main
