// Package testcluster starts real raftmq nodes in-process, on loopback
// addresses with ports chosen by the kernel, for tests of the packages above
// the broker (client, command-line tools, fault injection).
//
// Nodes are real brokers: Raft with fsynced log stores in t.TempDir(),
// memberlist gossip, and the client listener. A node keeps its data
// directory and its addresses across Kill/Stop and Restart, so a restart is
// what an operator's restart is. Waiting is by polling with a deadline,
// never by fixed sleeps. Logs are discarded unless RAFTMQ_TEST_LOG is set
// ("debug", "info", "warn" or "error").
package testcluster
