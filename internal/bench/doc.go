// Package bench is "raftmq bench": the load generator that runs the anchors'
// workloads W1 to W4 (../shared/anchors/WORKLOADS.md, summarised in
// docs/performance.md) against a running raftmq cluster, so that raftmq's
// figures can be read side by side with NATS JetStream's and RabbitMQ's,
// measured the same way on the same machine.
//
// It is a re-implementation, not a port with a raftmq adapter, because the
// anchors' generator is another module with NATS and AMQP dependencies; the
// workloads are copied parameter for parameter, and where they leave room the
// reference code decides: 1,024-byte bodies carrying the ID and a monotonic
// send time in their first 16 bytes, a window of 256 unconfirmed messages
// per publisher released in publish order by a per-publisher waiter, no
// retries by the bench, consumers started before publishers, the W4 tick,
// kill and restart schedule, and the JSON record with the same field names
// (compare.sh and the anchors' summarize read it unchanged).
//
// Three things are raftmq's own:
//
//   - Placement. "A client on node X" is a client.Dial with X's client
//     address as its only seed. raftmq serves every client on the Raft
//     leader (one log for everything), so each client then follows the
//     leader: every publisher and consumer ends up connected to the leader,
//     and the W4 publisher, dialled through a follower, is connected to the
//     node that is killed. L, the node "relative to which" clients are
//     placed, is the Raft leader after setup.
//   - Readiness. Before measuring, every node is asked for its own status
//     on a connection of its own (probe.go: the client library only sees
//     the leader) until each has applied the leader's commit index. W4's
//     recovery watch uses the same test.
//   - Latencies go into a log-linear bucketed histogram (Histogram, about
//     0.4% precision) instead of a slice sorted at the end: constant memory
//     and O(1) recording, nearest-rank percentiles as WORKLOADS.md defines
//     them.
//
// W4 kills and restarts nodes through shell commands (--kill-cmd,
// --restart-cmd, {node} replaced by the leader's node ID), so the same
// bench drives local processes (scripts/local-cluster.sh) and compose
// containers. CPU figures need the nodes' process IDs: --pids, or the PID
// files of scripts/local-cluster.sh.
package bench
