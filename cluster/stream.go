package cluster

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer is Raft's TCP stream layer with one difference from the
// library's: when the node binds Raft to a specific IP (not 0.0.0.0 or ::),
// its outgoing connections leave from that IP too. Nodes that share a host
// on different loopback addresses (127.0.0.11, 127.0.0.12, ...) can then be
// told apart by source address, which lets fault-injection tests cut the
// link between two of them with packet filters, as between real hosts.
type streamLayer struct {
	ln        *net.TCPListener
	advertise net.Addr
	local     *net.TCPAddr // nil: let the kernel choose
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(bind string, advertise net.Addr) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &streamLayer{ln: ln.(*net.TCPListener), advertise: advertise}
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

// Dial connects to another node's Raft address.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: s.local}
	return d.Dial("tcp", string(address))
}

// Accept waits for the next incoming connection.
func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }

// Close stops listening.
func (s *streamLayer) Close() error { return s.ln.Close() }

// Addr is the address other nodes dial: the advertised one if set.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}
