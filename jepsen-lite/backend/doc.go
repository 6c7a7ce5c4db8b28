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
//   - Local: three node processes on loopback addresses of their own
//     (127.0.0.11, 127.0.0.12, 127.0.0.13; Linux routes all of 127.0.0.0/8
//     to lo), every listener bound to the node's address and advertised as
//     such, ports chosen free per run. Kill with SIGKILL, pause with
//     SIGSTOP/SIGCONT. Fast enough for go test and usable without Docker.
//     Partitions are iptables rules on the host in a chain of the run's own
//     (RAFTMQ-JEPSEN-LOCAL-<random>), jumped to from INPUT and OUTPUT for
//     lo only: Raft dials its peers from its bind address, so a cut link
//     n1->n2 drops packets from 127.0.0.11 to 127.0.0.12. Each rule also
//     names the run's ports, so that runs side by side on the same
//     addresses never cut each other; healing flushes the chain and Stop
//     deletes it. The harness dials from 127.0.0.1, the kernel's source
//     address for 127.0.0.0/8, which no rule names: it is never cut off.
//     Gossip's TCP dials also leave from 127.0.0.1 and pass; only its UDP
//     probes are cut, which is enough, as gossip never decides Raft
//     membership. Partitions need root and a working iptables; without
//     them the local backend refuses partition nemeses (ErrUnsupported,
//     naming what is missing).
//
// Every external command runs under the caller's context, so a hung docker
// call cannot hang a run.
package backend
