//go:build race

package cluster

// raceDetector reports whether the race detector is on; it slows Raft's
// encoding and storage paths by an order of magnitude.
const raceDetector = true
