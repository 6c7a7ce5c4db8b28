// Package checker decides whether a jepsen-lite history shows an anomaly.
//
// The definitions are issue 5's, all over message IDs:
//
//   - lost: a confirmed publish never delivered;
//   - unexpected: delivered but never published;
//   - aborted delivery: delivered although its publish definitely failed;
//   - duplicate enqueue: one ID delivered as two different entries
//     (sequence numbers) of one queue, while redeliveries of one entry are
//     allowed and only counted;
//   - reorder in the fifo queue: a producer's a was confirmed before b was
//     sent, yet b was delivered first with neither redelivered;
//   - routing: a message delivered from a queue its bindings do not name,
//     or missing from one they do;
//   - linearizability of metadata operations, by Porcupine, per key.
//
// The checker trusts nothing from the broker beyond what the history shows:
// the queues a message must reach are computed by a small reference router
// (Topology.Route) written apart from the broker's exchange package, so a
// routing bug cannot hide behind the same code.
//
// Verdicts are three-valued. An anomaly is definite evidence (Invalid). A
// lost message is definite only when the final drain saw every queue empty:
// otherwise the message may merely be late, and the verdict is Unknown, as
// it is when Porcupine times out. Unknown is never reported as a pass.
package checker
