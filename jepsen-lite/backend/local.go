package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LocalConfig configures the local backend.
type LocalConfig struct {
	// Binary is the node binary (go build -o bin/node ./cmd/node).
	Binary string
	// DataDir receives the nodes' data directories and logs.
	DataDir string
	// ExtraArgs are appended to every node's command line.
	ExtraArgs []string
	// Logger receives progress messages; nil means slog.Default().
	Logger *slog.Logger
}

// Local runs three node processes on loopback, each on an address of its
// own (n1 on 127.0.0.11, n2 on 127.0.0.12, n3 on 127.0.0.13) with ports
// chosen per run. Kill is SIGKILL, pause is SIGSTOP/SIGCONT.
//
// Partitions are iptables rules on the host, in a chain of the run's own
// (LocalChainPrefix and a random suffix, see Chain) that INPUT and OUTPUT
// jump to for loopback traffic. A node binds Raft, gossip, client and HTTP
// to its own address and Raft dials its peers from it, so a cut link n1->n2
// is a rule dropping packets from 127.0.0.11 to 127.0.0.12. Each rule also
// names this run's ports, so that runs side by side on the same addresses
// never cut each other. The harness dials from 127.0.0.1 (the kernel's
// source for 127.0.0.0/8) and is never cut off. Partitions need root and a
// working iptables (CheckLocalPartitions); without them Partition fails with
// ErrUnsupported. Heal flushes the chain; Stop deletes it.
type Local struct {
	cfg   LocalConfig
	log   *slog.Logger
	nodes []string
	ips   []string

	mu     sync.Mutex
	ports  [][4]int // client, raft, gossip, http per node
	procs  map[string]*localProc
	paused map[string]bool
	killed map[string]bool
	logs   map[string]*os.File

	part *localPartitions // the partition state
}

// localProc is one running node process; done closes when it exited.
type localProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// NewLocal returns a local backend.
func NewLocal(cfg LocalConfig) (*Local, error) {
	if cfg.Binary == "" || cfg.DataDir == "" {
		return nil, errors.New("local backend: Binary and DataDir are required")
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("local backend: node binary: %w", err)
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("local backend: data directory: %w", err)
	}
	cfg.DataDir = abs
	l := &Local{cfg: cfg, log: cfg.Logger, nodes: []string{"n1", "n2", "n3"}, ips: append([]string(nil), localIPs...),
		procs: map[string]*localProc{}, paused: map[string]bool{}, killed: map[string]bool{}, logs: map[string]*os.File{},
		part: newLocalPartitions()}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l, nil
}

// Name returns "local".
func (l *Local) Name() string { return "local" }

// Nodes returns n1, n2, n3.
func (l *Local) Nodes() []string { return append([]string(nil), l.nodes...) }

// ClientAddrs returns the nodes' client addresses (valid after Start).
func (l *Local) ClientAddrs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.ports))
	for i, p := range l.ports {
		out[i] = net.JoinHostPort(l.ips[i], strconv.Itoa(p[0]))
	}
	return out
}

// freePorts returns, for each address of ips, four ports that were free on
// it for both TCP and UDP a moment ago. All the ports differ from each other,
// so that a port names one node of the run.
func freePorts(ips []string) ([][4]int, error) {
	out := make([][4]int, len(ips))
	seen := map[int]bool{}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i, ip := range ips {
		got := 0
		for tries := 0; got < 4 && tries < 40; tries++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
			if err != nil {
				return nil, fmt.Errorf("find a free port on %s: %w", ip, err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil || seen[port] {
				if pc != nil {
					pc.Close()
				}
				ln.Close()
				continue
			}
			pc.Close()
			lns = append(lns, ln)
			seen[port] = true
			out[i][got] = port
			got++
		}
		if got < 4 {
			return nil, fmt.Errorf("find free ports on %s: too many collisions", ip)
		}
	}
	return out, nil
}

// args is node i's command line: every address on the node's own IP,
// advertised as bound.
func (l *Local) args(i int) []string {
	p := l.ports[i]
	addr := func(port int) string { return net.JoinHostPort(l.ips[i], strconv.Itoa(port)) }
	var join []string
	for j, q := range l.ports {
		join = append(join, net.JoinHostPort(l.ips[j], strconv.Itoa(q[2])))
	}
	args := []string{
		"-id", l.nodes[i],
		"-data", filepath.Join(l.cfg.DataDir, l.nodes[i]),
		"-client-addr", addr(p[0]), "-advertise-client", addr(p[0]),
		"-raft-addr", addr(p[1]), "-advertise-raft", addr(p[1]),
		"-gossip-addr", addr(p[2]), "-advertise-gossip", addr(p[2]),
		"-http-addr", addr(p[3]), "-advertise-http", addr(p[3]),
		"-join", strings.Join(join, ","),
		"-bootstrap-expect", "3",
		"-shutdown-timeout", "5s",
	}
	return append(args, l.cfg.ExtraArgs...)
}

// allocate picks the run's ports.
func (l *Local) allocate() error {
	ports, err := freePorts(l.ips)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ports = ports
	l.mu.Unlock()
	return nil
}

// Start picks free ports on the nodes' addresses and starts the three nodes.
func (l *Local) Start(ctx context.Context) error {
	if err := l.allocate(); err != nil {
		return err
	}
	for i, n := range l.nodes {
		if err := os.MkdirAll(filepath.Join(l.cfg.DataDir, n), 0o755); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		if err := l.start(i); err != nil {
			return err
		}
	}
	l.log.Info("local cluster started", "data", l.cfg.DataDir, "clients", l.ClientAddrs())
	return nil
}

// start launches node i. Its output is appended to <data>/<node>.log.
func (l *Local) start(i int) error {
	n := l.nodes[i]
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.logs[n]
	if f == nil {
		var err error
		f, err = os.OpenFile(filepath.Join(l.cfg.DataDir, n+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open the log of %s: %w", n, err)
		}
		l.logs[n] = f
	}
	cmd := exec.Command(l.cfg.Binary, l.args(i)...)
	cmd.Stdout, cmd.Stderr = f, f
	// Keep the caller's RAFTMQ_* settings away from the nodes.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RAFTMQ_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n, err)
	}
	p := &localProc{cmd: cmd, done: make(chan struct{})}
	go func() { // owned by p: ends when the process exits
		_ = cmd.Wait()
		close(p.done)
	}()
	l.procs[n] = p
	delete(l.killed, n)
	delete(l.paused, n)
	return nil
}

func (l *Local) proc(node string) (*localProc, int, error) {
	i, err := indexOf(l.nodes, node)
	if err != nil {
		return nil, 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[node], i, nil
}

// Kill sends SIGKILL and waits for the process to exit.
func (l *Local) Kill(ctx context.Context, node string) error {
	p, _, err := l.proc(node)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("kill %s: not running", node)
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-ctx.Done():
		return fmt.Errorf("kill %s: %w", node, ctx.Err())
	}
	l.mu.Lock()
	delete(l.procs, node)
	delete(l.paused, node)
	l.killed[node] = true
	l.mu.Unlock()
	return nil
}

// Restart starts a killed node again.
func (l *Local) Restart(ctx context.Context, node string) error {
	p, i, err := l.proc(node)
	if err != nil {
		return err
	}
	if p != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("restart %s: still running", node)
		}
	}
	return l.start(i)
}

func (l *Local) signal(node string, sig syscall.Signal) error {
	p, _, err := l.proc(node)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("signal %s: not running", node)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, node, err)
	}
	return nil
}

// Pause sends SIGSTOP.
func (l *Local) Pause(ctx context.Context, node string) error {
	if err := l.signal(node, syscall.SIGSTOP); err != nil {
		return err
	}
	l.mu.Lock()
	l.paused[node] = true
	l.mu.Unlock()
	return nil
}

// Resume sends SIGCONT.
func (l *Local) Resume(ctx context.Context, node string) error {
	if err := l.signal(node, syscall.SIGCONT); err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.paused, node)
	l.mu.Unlock()
	return nil
}

// HealAll heals the network, resumes paused nodes and restarts killed ones.
func (l *Local) HealAll(ctx context.Context) error {
	l.mu.Lock()
	var paused, killed []string
	for _, n := range l.nodes {
		if l.paused[n] {
			paused = append(paused, n)
		}
		if l.killed[n] {
			killed = append(killed, n)
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, n := range paused {
		errs = append(errs, l.Resume(ctx, n))
	}
	errs = append(errs, l.Heal(ctx))
	for _, n := range killed {
		errs = append(errs, l.Restart(ctx, n))
	}
	return errors.Join(errs...)
}

// Stop removes the partition chain, resumes and terminates every node
// (SIGTERM, then SIGKILL after five seconds) and closes the log files.
func (l *Local) Stop(ctx context.Context) error {
	var errs []error
	if err := l.removeChain(ctx); err != nil {
		errs = append(errs, err)
	}
	l.mu.Lock()
	procs := make(map[string]*localProc, len(l.procs))
	for n, p := range l.procs {
		procs[n] = p
	}
	l.procs = map[string]*localProc{}
	l.paused = map[string]bool{}
	l.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for n, p := range procs {
		select {
		case <-p.done:
		case <-timer.C:
			l.log.Warn("node did not stop in time; killing it", "node", n)
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		case <-ctx.Done():
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, f := range l.logs {
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the log of %s: %w", n, err))
		}
	}
	l.logs = map[string]*os.File{}
	return errors.Join(errs...)
}

// SaveLogs copies the nodes' log files into dir.
func (l *Local) SaveLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save logs: %w", err)
	}
	var errs []error
	for _, n := range l.nodes {
		src := filepath.Join(l.cfg.DataDir, n+".log")
		dst := filepath.Join(dir, n+".log")
		if src == dst {
			continue
		}
		if err := copyFile(src, dst); err != nil {
			errs = append(errs, fmt.Errorf("save the log of %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
