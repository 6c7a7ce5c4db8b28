// Package backend runs the three-node cluster a jepsen-lite run tests and
// injects its faults.
//
// Two backends share one interface, so that workloads, nemeses and checkers
// never know which they drive:
//
//   - Docker, the real thing: jepsen-lite/docker-compose.yml under the
//     compose project raftmq-jepsen, static addresses on a private network
//     of its own, data bind-mounted from the run's store directory. Kill is
//     docker kill (SIGKILL), pause is docker pause (the cgroup freezer).
//     Partitions are iptables rules in a chain of our own (RAFTMQ-JEPSEN),
//     added from the host inside each node's network namespace with
//     nsenter, matching the peers' static addresses; healing flushes the
//     chain. A cut link drops packets at both ends (OUTPUT at the sender,
//     INPUT at the receiver), so any shape, one-way links included, is a
//     list of directed links. The harness reaches the nodes only through the
//     client ports published on 127.0.0.1, whose traffic comes from the
//     bridge gateway and never matches a rule: no partition cuts it off.
//   - Local: three node processes on 127.0.0.1, kill with SIGKILL, pause
//     with SIGSTOP/SIGCONT. Fast enough for go test and usable without
//     Docker. It refuses partitions (ErrUnsupported): Raft dials its peers
//     without binding a source address, so on loopback every node's
//     packets come from 127.0.0.1 and no rule can tell them apart.
//
// Every external command runs under the caller's context, so a hung docker
// call cannot hang a run.
package backend
