// Package cluster runs one raftmq server's consensus and membership: a
// hashicorp/raft instance (raft-wal or raft-boltdb log and stable store,
// every append synced before it counts; a file snapshot store keeping two
// snapshots; the TCP transport) and hashicorp/memberlist gossip. It knows
// nothing of messages: the caller supplies the raft.FSM and proposes opaque
// commands with Node.Apply.
//
// # Why it is built this way
//
// Gossip discovers, Raft decides. memberlist finds servers and notices
// failures; it never changes the Raft configuration by itself. Every
// configuration change is made by the leader, one at a time, in a single
// leader loop driven by raft's NotifyCh (as Consul does):
//
//   - on election the loop issues a barrier, so every entry of earlier terms
//     is applied before Config.OnLeaderChange(true) lets the caller act as
//     leader; it calls OnLeaderChange(false) when leadership ends;
//   - while leading it reconciles every ReconcileInterval and on each gossip
//     event: a live member missing from Raft joins as a non-voter and is
//     promoted once caught up (it publishes its applied index in gossip
//     metadata about once a second). Non-voters first, so a slow new server
//     never counts towards the quorum before it holds the log.
//   - nobody is removed because gossip thinks it is dead: a crashed voter
//     stays a voter until an admin calls RemoveServer. Shutdown keeps the
//     node a voter too, so a rolling restart never shrinks the cluster.
//
// A member seen in gossip that already has Raft state but is not in the
// configuration is never added: it is a server an admin removed (possibly
// under an earlier leader, which kept the only tombstone) or one that
// belongs to another cluster. A removed server can come back only with a
// wiped data directory, which gives it a new ID. (An operator who pins
// NodeID and wipes the data directory brings a voter back with an empty
// log, which Raft cannot detect: remove such a node first.)
//
// Bootstrapping a new cluster is the one dangerous moment: two nodes that
// each bootstrap alone make two clusters. So a node bootstraps only when it
// has no Raft state and either runs alone (BootstrapExpect 0 or 1, no Join
// seeds) or sees at least the expected number of servers in gossip, none
// of which has state; all of them then propose the same sorted
// configuration, which Raft tolerates. Set BootstrapExpect to the number
// of servers started together. A node given Join seeds and BootstrapExpect 0 or 1 never
// bootstraps: it waits for the leader of the cluster it joined to add it.
//
// Node.Apply reports the term and index of the entry that holds a command:
// the FSM is wrapped so that the term comes from the entry itself. Raft
// errors are translated to this package's sentinels; after a command has
// been handed to Raft, losing leadership yields ErrIndeterminate because
// the entry may still commit.
//
// # Timing
//
// Defaults suit a LAN: heartbeat and election timeouts of 200 ms, a 200 ms
// leader lease and a 20 ms commit timeout. A follower detects a dead leader
// within 0.2 to 0.4 s and an election takes a few round trips, so failover
// is typically 0.3 to 0.7 s (the package tests log the measured time). The
// lease is as long as raft allows (the heartbeat timeout): with a 250 ms
// lease under a 500 ms heartbeat a busy leader on an overloaded machine
// stepped down for no reason, and a
// shorter lease buys nothing here because reads that must not be stale
// use VerifyLeader or Barrier, never the lease. Raft
// keeps 10240 entries after each snapshot (taken every 8192 entries), so a
// follower that was down for longer than that catches up by snapshot
// install (with the WAL store, only once whole segments have been deleted).
//
// # Log store
//
// A new data dir gets hashicorp/raft-wal (LogStoreWAL): append-only,
// preallocated segment files and one fsync per append, where raft-boltdb's
// B-tree syncs twice (data pages, then the meta page). Measured on the same
// machine, it gave 57% more confirmed publishes per second at 42% less CPU
// per message and 40% lower single-publish latency; Consul made the same
// move. raft-boltdb (LogStoreBolt) stays available with Config.LogStore, and
// a data dir keeps the kind it was created with. The store sits behind a
// raft.LogCache of the newest 64 entries.
//
// # The leader writes while it replicates
//
// hashicorp/raft comes from third_party/hashicorp-raft (a go.mod replace):
// v1.7.3 with four patches, described in its PATCHES.md. The third is a
// hand-written codec for AppendEntries. The fourth, Config.CompactionFloor,
// lets an FSM that reads applied entries back from the log (LogReadingFSM:
// raftmq's keeps queued message bodies there) hold back compaction. The second makes
// a shutdown answer ErrRaftShutdown to the futures of committed entries still
// queued for the FSM, which stock v1.7.3 never answers (a stop under load
// hung on them). The first: the leader hands new
// entries to the replicators before it writes them to its own log, instead
// of after (Raft thesis, section 10.2.1), and writes them on a goroutine of
// its own while its loop goes on, so an entry commits as soon as any
// majority holds it on disk, the two followers without the leader too: a
// commit waits for the faster two of the three fsyncs (a follower's with
// its round trip), not for their sum nor for a slow leader disk. The leader
// counts towards the majority only after its own write.
// Config.SerialLeaderWrite restores the stock order.
//
// The stream layer retries a refused dial until the dial timeout (see
// streamLayer): hashicorp/raft backs off exponentially, up to 10 s, after
// each failed RPC to a peer, which used to delay the replication to a
// restarted follower by as much.
//
// # Goroutines and locks
//
// Every goroutine is started through Node.spawn and stopped by Shutdown or
// Kill, which stop gossip and Raft in reverse start order and wait for
// them. memberlist calls the event delegate with its own locks held: the
// delegate only updates a cache under its mutex and signals buffered
// channels, and no code calls memberlist or Raft while holding that mutex.
package cluster
