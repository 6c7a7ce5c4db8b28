package cluster

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is Raft's TCP stream layer with one difference from the
// library's: when the node binds Raft to a specific IP (not 0.0.0.0 or ::),
// its outgoing connections leave from that IP too. Nodes that share a host
// on different loopback addresses (127.0.0.11, 127.0.0.12, ...) can then be
// told apart by source address, which lets fault-injection tests cut the
// link between two of them with packet filters, as between real hosts.
//
// The other difference: a dial that is refused (the peer's host answers but
// nothing listens, as while a node restarts) is retried every
// dialRetryInterval until it connects, the dial timeout passes or the node
// stops. hashicorp/raft counts every failed RPC to a peer and backs off
// exponentially, up to 10 s between attempts, so a follower that was down
// for 15 s used to wait up to 10 s more after its restart before the leader
// tried again (W4's "all nodes current" in docs/performance.md). With the
// retries a down peer costs raft one failure per dial timeout instead of one
// per attempt, and replication resumes within a retry interval of the
// restart. Only the dial waits: an RPC that was sent and failed still fails
// at once.
type streamLayer struct {
	ln        *net.TCPListener
	advertise net.Addr
	local     *net.TCPAddr // nil: let the kernel choose

	stopOnce sync.Once
	stopped  chan struct{} // closed by stopDialing
}

// dialRetryInterval is the pause between refused dials of one Dial call.
const dialRetryInterval = 20 * time.Millisecond

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(bind string, advertise net.Addr) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &streamLayer{ln: ln.(*net.TCPListener), advertise: advertise, stopped: make(chan struct{})}
	bound := s.ln.Addr().(*net.TCPAddr)
	if !bound.IP.IsUnspecified() {
		s.local = &net.TCPAddr{IP: bound.IP}
	}
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok || addr.IP == nil || addr.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("%w: raft address %v cannot be advertised; set RaftAdvertise", ErrInvalidConfig, s.Addr())
	}
	return s, nil
}

// Dial connects to another node's Raft address, retrying refused dials
// until timeout (see streamLayer).
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		d := net.Dialer{Deadline: deadline, LocalAddr: s.local}
		conn, err := d.Dial("tcp", string(address))
		if err == nil || !refused(err) || time.Until(deadline) < dialRetryInterval {
			return conn, err
		}
		t := time.NewTimer(dialRetryInterval)
		select {
		case <-t.C:
		case <-s.stopped:
			t.Stop()
			return nil, err
		}
	}
}

// refused reports whether a dial failed because nothing listens at the
// address or its host is unreachable, as opposed to a timeout.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH)
}

// stopDialing ends every retrying Dial at once and makes later ones fail
// after their first attempt. The node calls it before shutting Raft down,
// which waits for Raft's goroutines, some of which may be dialling.
func (s *streamLayer) stopDialing() { s.stopOnce.Do(func() { close(s.stopped) }) }

// Accept waits for the next incoming connection.
func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }

// Close stops listening and dialling.
func (s *streamLayer) Close() error {
	s.stopDialing()
	return s.ln.Close()
}

// Addr is the address other nodes dial: the advertised one if set.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}
