package backend

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needPartitions skips the test when this host cannot partition, except
// under CI, which runs as root with iptables and must not skip.
func needPartitions(t *testing.T) {
	t.Helper()
	if err := CheckLocalPartitions(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must be able to partition: %v", err)
		}
		t.Skipf("partitions unavailable here: %v", err)
	}
}

// newTestLocal returns a local backend whose ports are allocated but whose
// nodes are not started; the test binary stands in for the node binary.
func newTestLocal(t *testing.T) *Local {
	t.Helper()
	l, err := NewLocal(LocalConfig{Binary: os.Args[0], DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.allocate(); err != nil {
		t.Fatal(err)
	}
	return l
}

// serve accepts and closes TCP connections on addr until the test ends.
func serve(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // owned by the test: ends when ln is closed
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// dialFrom reports whether a TCP connection from srcIP (any port; "" lets
// the kernel choose) to addr is established within half a second.
func dialFrom(srcIP, addr string) bool {
	d := net.Dialer{Timeout: 500 * time.Millisecond}
	if srcIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(srcIP)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func chainExists(chain string) bool {
	_, err := hostIPTables(context.Background(), "-S", chain)
	return err == nil
}

func TestLocalPartitionCutsOnlyTheLinks(t *testing.T) {
	needPartitions(t)
	ctx := context.Background()
	l := newTestLocal(t)
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	// Stand-ins for the nodes: every node's client and Raft port listen on
	// its own address.
	addr := func(i, port int) string { return net.JoinHostPort(l.ips[i], strconv.Itoa(l.ports[i][port])) }
	for i := range l.nodes {
		serve(t, addr(i, 0))
		serve(t, addr(i, 1))
	}
	// Another run on the same addresses, on ports of its own.
	other := newTestLocal(t)
	otherN2 := net.JoinHostPort(other.ips[1], strconv.Itoa(other.ports[1][1]))
	serve(t, otherN2)

	for _, c := range [][2]int{{0, 1}, {1, 0}, {0, 2}, {2, 1}} {
		if !dialFrom(l.ips[c[0]], addr(c[1], 1)) {
			t.Fatalf("before any partition, %s cannot reach %s", l.nodes[c[0]], l.nodes[c[1]])
		}
	}
	if err := l.Partition(ctx, []Link{{From: "n1", To: "n2"}}); err != nil {
		t.Fatal(err)
	}
	if !chainExists(l.Chain()) {
		t.Fatalf("chain %s missing after a partition", l.Chain())
	}
	if dialFrom(l.ips[0], addr(1, 1)) {
		t.Error("n1 -> n2 cut, yet n1 connects to n2")
	}
	// TCP needs both directions: n2's handshake with n1 cannot complete
	// when n1's answers are dropped.
	if dialFrom(l.ips[1], addr(0, 1)) {
		t.Error("n1 -> n2 cut, yet n2 connects to n1")
	}
	if !dialFrom(l.ips[2], addr(1, 1)) || !dialFrom(l.ips[0], addr(2, 1)) {
		t.Error("links not cut are cut")
	}
	if !dialFrom(l.ips[0], otherN2) {
		t.Error("a partition of one run cuts another run on the same addresses")
	}

	// The cut is one way: UDP from n2 to n1 arrives, from n1 to n2 not.
	udp := func(from, to int) bool {
		src, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(l.ips[from]), Port: l.ports[from][2]})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(l.ips[to]), Port: l.ports[to][2]})
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		_, _ = src.WriteToUDP([]byte("ping"), dst.LocalAddr().(*net.UDPAddr)) // EPERM when dropped in OUTPUT
		_ = dst.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 16)
		n, _, err := dst.ReadFromUDP(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	if udp(0, 1) {
		t.Error("n1 -> n2 cut, yet a datagram from n1 reaches n2")
	}
	if !udp(1, 0) {
		t.Error("only n1 -> n2 is cut, yet a datagram from n2 does not reach n1")
	}

	// Every node cut off from every other: the harness, dialing from
	// 127.0.0.1, still reaches every node.
	var all []Link
	for _, a := range l.nodes {
		for _, b := range l.nodes {
			if a != b {
				all = append(all, Link{From: a, To: b})
			}
		}
	}
	if err := l.Partition(ctx, all); err != nil {
		t.Fatal(err)
	}
	for i := range l.nodes {
		for port := range 2 {
			if !dialFrom("", addr(i, port)) {
				t.Errorf("the harness cannot reach %s at %s during a full partition", l.nodes[i], addr(i, port))
			}
		}
	}
	if dialFrom(l.ips[2], addr(0, 1)) {
		t.Error("full partition, yet n3 connects to n1")
	}

	if err := l.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]int{{0, 1}, {1, 0}, {2, 0}} {
		if !dialFrom(l.ips[c[0]], addr(c[1], 1)) {
			t.Errorf("after Heal, %s cannot reach %s", l.nodes[c[0]], l.nodes[c[1]])
		}
	}
	// A link cut again after a heal is cut again.
	if err := l.Partition(ctx, []Link{{From: "n3", To: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if dialFrom(l.ips[2], addr(0, 1)) {
		t.Error("n3 -> n1 cut after a heal, yet n3 connects to n1")
	}
}

func TestLocalStopRemovesTheChain(t *testing.T) {
	needPartitions(t)
	ctx := context.Background()
	l := newTestLocal(t)
	if err := l.Partition(ctx, []Link{{From: "n1", To: "n3"}, {From: "n3", To: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if !chainExists(l.Chain()) {
		t.Fatalf("chain %s missing after a partition", l.Chain())
	}
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := hostIPTables(ctx, "-S", l.Chain()); err == nil {
		t.Fatalf("iptables -S %s succeeds after Stop:\n%s", l.Chain(), out)
	}
	for _, parent := range []string{"INPUT", "OUTPUT"} {
		out, err := hostIPTables(ctx, "-S", parent)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, l.Chain()) {
			t.Errorf("%s still jumps to %s after Stop:\n%s", parent, l.Chain(), out)
		}
	}
	// Stop is idempotent.
	if err := l.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestLocalPartitionWithoutIptables(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no iptables to be found
	l := newTestLocal(t)
	err := l.Partition(context.Background(), nil)
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Partition without iptables: %v, want ErrUnsupported", err)
	}
	if !strings.Contains(err.Error(), "iptables") {
		t.Errorf("error %q does not name iptables", err)
	}
	if err := l.Partition(context.Background(), []Link{{From: "n1", To: "n2"}}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Partition of a link without iptables: %v, want ErrUnsupported", err)
	}
	// Nothing was created, so healing and stopping have nothing to undo.
	if err := l.Heal(context.Background()); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestLocalPartitionRejectsBadLinks(t *testing.T) {
	needPartitions(t)
	l := newTestLocal(t)
	t.Cleanup(func() { _ = l.Stop(context.Background()) })
	for _, c := range []Link{{From: "n1", To: "n9"}, {From: "n2", To: "n2"}} {
		if err := l.Partition(context.Background(), []Link{c}); err == nil {
			t.Errorf("Partition(%s) succeeded", c)
		}
	}
	if err := l.Partition(context.Background(), []Link{{From: "n9", To: "n1"}}); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Partition of an unknown node: %v, want ErrUnknownNode", err)
	}
	if chainExists(l.Chain()) {
		t.Errorf("a rejected partition created chain %s", l.Chain())
	}
}

func TestLocalAddressesAndPorts(t *testing.T) {
	l := newTestLocal(t)
	addrs := l.ClientAddrs()
	seen := map[int]bool{}
	for i, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		if host != localIPs[i] {
			t.Errorf("client address of %s is %s, want it on %s", l.nodes[i], a, localIPs[i])
		}
		for _, p := range l.ports[i] {
			if seen[p] {
				t.Errorf("port %d given twice", p)
			}
			seen[p] = true
		}
		args := strings.Join(l.args(i), " ")
		for _, flag := range []string{"-client-addr", "-raft-addr", "-gossip-addr", "-http-addr", "-advertise-raft"} {
			if !strings.Contains(args, flag+" "+localIPs[i]+":") {
				t.Errorf("%s's command line lacks %s on %s: %s", l.nodes[i], flag, localIPs[i], args)
			}
		}
	}
}
