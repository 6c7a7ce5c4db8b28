// Package systemtest holds the end-to-end tests of a replicated raftmq
// cluster: real nodes in-process on loopback (Raft with fsynced logs, gossip,
// the client protocol) driven through the Go client, with leaders killed,
// nodes restarted and the cluster rolled while load runs. Each test checks
// the promise that matters: every confirmed message is delivered, and
// enqueued once.
package systemtest
