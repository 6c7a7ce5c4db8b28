// Command raftmq is the command-line tool of raftmq: it inspects a cluster
// and declares, binds, publishes and consumes without writing Go.
//
//	raftmq [--servers host:port,...] [--timeout 10s] [--json] COMMAND [ARGS] [FLAGS]
//
// Commands: status; declare exchange|queue; bind and unbind; delete
// exchange|queue; purge; publish; consume; cluster remove. `raftmq COMMAND
// -h` prints a command's flags and an example.
//
// # Why it is built this way
//
// Everything goes through the Go client library (package client), never raw
// wire frames, so the tool exercises exactly what applications use: leader
// discovery and redirects, retries with the same message IDs, confirms,
// re-subscription after a failover. What the tool shows is what a program
// would see.
//
// Subcommands use the standard flag package and a small dispatcher rather
// than a CLI framework: the surface is small, and a framework would be the
// biggest dependency of the binary. Flags may follow positional arguments
// (`raftmq declare queue q --max-length 5`): parsing loops over fs.Parse,
// taking one positional argument out each time it stops. An argument after
// `--` is always positional.
//
// The global flags (--servers, --timeout, --json, --verbose) may be given
// before or after the command name. --servers defaults to $RAFTMQ_SERVERS,
// then 127.0.0.1:6570; any node of the cluster will do, the client finds the
// leader. --timeout bounds a whole command (connecting included), with one
// exception: for consume, --timeout given after the command name is the
// idle timeout (stop when no message arrived for that long), and a
// --timeout before the command name bounds only connecting and subscribing.
//
// # Output and exit codes
//
// Human output goes to stdout (tables are aligned with text/tabwriter);
// --json prints one JSON object (consume: one per message, one per line).
// Exit code 0 is success, 1 an error from the cluster or the system, 2 bad
// usage. Every error is one line on stderr: "raftmq: <error>". Client logs
// are off unless --verbose.
//
// # Publishing many messages
//
// `publish --count N` sends N messages through the client's asynchronous
// publishing (PublishAsync): up to several thousand are in flight at once
// and the client coalesces them into few publish frames, which the leader
// commits as few Raft entries. With --id ID the messages are ID-0 ...
// ID-(N-1), so running the same command again is de-duplicated by the
// broker (within its de-duplication window) and reported as "duplicate".
// Because the client retries every unconfirmed message with its ID until
// the command's timeout, a leader failover in the middle of a run loses and
// duplicates nothing.
//
// # Consuming
//
// consume acknowledges each message after printing it (with --requeue it
// acknowledges none and gives them all back at the end, marked redelivered),
// stops after --count messages or when none arrived for --timeout, and exits
// 0 even when fewer than --count arrived: it then says on stderr how many
// did. Acknowledgements are written before the connection closes. A
// consumer holds up to --prefetch unsettled messages; messages the server
// sent beyond --count go back to the queue marked redelivered, which is why
// the prefetch is capped at --count.
package main
