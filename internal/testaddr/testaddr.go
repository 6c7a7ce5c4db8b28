// Package testaddr hands out loopback addresses for test servers that are
// stopped and started again at the same address.
//
// A port the kernel picks for "127.0.0.1:0" comes from its ephemeral range,
// the range it also takes the local ports of outgoing connections from. Once
// a test server stops, any connection made meanwhile (by the same test or by
// another package's tests running in parallel) may take its port, and the
// restart fails with "address already in use" for as long as that
// connection lives. The ports handed out here lie below that range, where
// only an explicit bind can take them.
package testaddr

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lowest is the lowest port handed out.
const lowest = 20000

var (
	mu    sync.Mutex
	given = map[int]bool{} // ports handed out by this process
)

// Loopback returns "127.0.0.1:PORT" for a port below the kernel's ephemeral
// range that is free for both TCP and UDP (memberlist binds both) and has not
// been handed out before by this process. It fails the test if it finds none.
func Loopback(t testing.TB) string {
	t.Helper()
	highest := ephemeralLow() - 1
	mu.Lock()
	defer mu.Unlock()
	for range 500 {
		port := lowest + rand.IntN(highest-lowest+1)
		if given[port] || !free(port) {
			continue
		}
		given[port] = true
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	t.Fatalf("testaddr: no free loopback port in %d-%d", lowest, highest)
	return ""
}

// free reports whether port can be bound on 127.0.0.1 for TCP and UDP.
func free(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	_ = u.Close()
	return true
}

// ephemeralLow is the lowest port of Linux's ephemeral range, or 32768 (its
// default) where that cannot be read. It is read once per process.
var ephemeralLow = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= lowest+1000 {
		return 32768
	}
	return low
})
