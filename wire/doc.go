// Package wire is raftmq's client protocol: the frames a client and a node
// exchange over TCP, their msgpack payloads, the size limits and the error
// codes. The broker (server side) and the client library both build on it.
//
// # Frames
//
// Every frame is a 4-byte big-endian length N, then N bytes: a type byte, an
// 8-byte big-endian request ID and a msgpack payload of N-9 bytes. The client
// picks request IDs and the server echoes them in responses, so a client may
// have many requests in flight on one connection and match the answers as
// they come; server pushes (TDeliver, TCancelled) carry request ID 0. The
// first client frame is THello; the server answers THelloOK, or TError with
// CodeProtocol and closes the connection. THelloOK says whether the node
// leads and, if not, the leader's client address; a node that knows no
// leader (an election is under way) holds its THelloOK for up to a second
// until one is known, so a client reconnecting after a failover learns the
// new leader as soon as it is elected.
//
// A Reader refuses a frame whose N exceeds its maximum (DefaultMaxFrameSize,
// 16 MiB) with ErrFrameTooLarge before reading or allocating the body, and a
// frame shorter than its header with ErrMalformed; the server then answers an
// Error and closes the connection, and the node carries on. A Reader hands out
// payloads that fit its 64 KiB buffer without copying them, and grows a
// scratch buffer for larger ones only as their bytes arrive. A Writer appends
// frames to one buffer, encoding payloads in place, and the caller flushes
// once per batch, so a burst of confirms or deliveries costs one write.
//
// # Encoding
//
// Payloads are msgpack. Every payload type here has an encoder and a decoder
// written out field by field instead of the msgpack library's reflection,
// for two reasons:
//
//   - Speed. Publish, Confirm, Deliver, Ack and Nack carry every message;
//     encoding appends straight into the Writer's buffer without allocating,
//     and decoding allocates only the strings and bodies it keeps. Repeated
//     exchange, routing key and queue names within a batch are shared, and a
//     Publish, which the server turns into a Raft command at once, copies
//     its payload once and slices the bodies out of that copy. A Deliver,
//     whose bodies reach application code, copies each body on its own.
//   - Safety on hostile bytes. The decoders check every length prefix against
//     the bytes left before allocating (an array of n structs needs at least
//     n times the struct's minimum encoded size), skip unknown values without
//     recursion, and report every problem as an error wrapping ErrMalformed.
//     No input makes them panic, exhaust the stack or allocate more than a
//     small multiple of the input's size. The library's reflection decoder
//     preallocates slices and maps from the length prefix alone, so it is not
//     used on anything a peer sends.
//
// The types also implement msgpack.CustomEncoder and msgpack.CustomDecoder,
// so they can be embedded in values that the msgpack library encodes.
//
// # Compatibility
//
// Frame types, error codes and publish statuses are append-only: a number is
// never renumbered or reused. A struct is a msgpack array of its fields in
// declaration order (no field names on the wire). A field added later goes at
// the end; decoders skip fields they do not know, and require only the fields
// of the version that introduced the struct, so older and newer peers
// interoperate within one protocol Version. A change that cannot follow these
// rules needs a new Version, which the handshake negotiates.
//
// # Errors
//
// An *Error is both the TError payload and a Go error. errors.Is matches two
// Errors by code, so errors.Is(err, ErrNotFound) holds for any not-found
// answer and for anything wrapping one. Code.Retryable says which failures a
// client may retry: not-leader, unavailable and resource-limit because
// nothing happened; indeterminate because the broker de-duplicates message
// IDs, so a retry with the same IDs cannot enqueue twice.
package wire
