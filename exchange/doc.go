// Package exchange holds raftmq's exchanges and bindings and routes a message
// to the set of queues it reaches.
//
// The package is pure: no I/O, no clock, no goroutines, and no result depends
// on map iteration order. It runs inside the replicated state machine, where
// every node must compute the same routes from the same log, so every list it
// returns is sorted and every error is a value (wrapping one of the exported
// sentinels), never a panic, whatever the input.
//
// # Semantics
//
// The exchange kinds follow RabbitMQ:
//
//   - direct: every binding whose key equals the routing key, not only the
//     first one found.
//   - fanout: every binding.
//   - topic: keys are words separated by "."; in a binding key "*" matches
//     exactly one word and "#" zero or more. Empty words are words: "a..b"
//     has three and "a." has two. The empty key "" has zero words, as in
//     RabbitMQ's split_topic_key: so "" matches the binding keys "" and "#"
//     (and "#.#"), but not "*". A routing key word "*" or "#" is an ordinary
//     word.
//   - headers: the binding argument "x-match" is all (default), any,
//     all-with-x or any-with-x. The compared headers are the other binding
//     arguments, without the ones starting with "x-" unless the mode ends in
//     "-with-x"; "x-match" itself is never compared. A binding value ""
//     matches on the presence of the header. A binding that compares nothing
//     matches every message under all and none under any.
//
// The default exchange "" is a direct exchange to which every queue is bound
// by its own name; it cannot be declared, deleted, or bound from or to.
// Route asks the caller whether the queue exists.
//
// Route follows exchange-to-exchange bindings and alternate exchanges with
// RabbitMQ's algorithm: a work list of exchanges, each visited at most once;
// an exchange whose own bindings matched nothing passes the message to its
// alternate exchange, if that exists. A queue reached through several paths
// is listed once, and cycles of bindings or of alternate exchanges end.
//
// # Data structures
//
// Each exchange keeps its bindings by identity (source, destination, key,
// arguments) plus an index for its kind: a map from key for direct, a list
// for fanout and headers (header arguments are parsed once, at Bind), and a
// trie of words for topic (see topic.go). The topic trie costs one map
// lookup per word and per live branch instead of one pattern test per
// binding, and a memo on "#" nodes bounds a match by nodes × words even for
// patterns like "#.*.#". A reverse index from destination to bindings makes
// deleting a queue or an exchange proportional to its own bindings.
//
// Route allocates only its result: its working memory (split words, the
// work list, the memo) comes from a sync.Pool owned by the Router, which is
// also what lets concurrent readers call Route under a shared lock.
//
// Names and routing keys are at most 255 bytes of valid UTF-8, checked at
// every entry point.
package exchange
