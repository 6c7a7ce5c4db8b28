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

// Local runs three node processes on 127.0.0.1. Kill is SIGKILL, pause is
// SIGSTOP/SIGCONT. Partitions are not supported: Raft's TCP transport dials
// from 127.0.0.1 whatever address a node binds, so packets of one loopback
// node cannot be told from another's.
type Local struct {
	cfg   LocalConfig
	log   *slog.Logger
	nodes []string

	mu     sync.Mutex
	ports  [][4]int // client, raft, gossip, http per node
	procs  map[string]*localProc
	paused map[string]bool
	killed map[string]bool
	logs   map[string]*os.File
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
	l := &Local{cfg: cfg, log: cfg.Logger, nodes: []string{"n1", "n2", "n3"},
		procs: map[string]*localProc{}, paused: map[string]bool{}, killed: map[string]bool{}, logs: map[string]*os.File{}}
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
		out[i] = fmt.Sprintf("127.0.0.1:%d", p[0])
	}
	return out
}

// freePorts returns n distinct ports that were free on 127.0.0.1 for both
// TCP and UDP a moment ago.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for tries := 0; len(out) < n && tries < 10*n; tries++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			ln.Close()
			continue
		}
		pc.Close()
		lns = append(lns, ln)
		out = append(out, port)
	}
	if len(out) < n {
		return nil, errors.New("find free ports: too many collisions")
	}
	return out, nil
}

func (l *Local) args(i int) []string {
	p := l.ports[i]
	var join []string
	for _, q := range l.ports {
		join = append(join, fmt.Sprintf("127.0.0.1:%d", q[2]))
	}
	args := []string{
		"-id", l.nodes[i],
		"-data", filepath.Join(l.cfg.DataDir, l.nodes[i]),
		"-client-addr", fmt.Sprintf("127.0.0.1:%d", p[0]),
		"-raft-addr", fmt.Sprintf("127.0.0.1:%d", p[1]),
		"-gossip-addr", fmt.Sprintf("127.0.0.1:%d", p[2]),
		"-http-addr", fmt.Sprintf("127.0.0.1:%d", p[3]),
		"-join", strings.Join(join, ","),
		"-bootstrap-expect", "3",
		"-shutdown-timeout", "5s",
	}
	return append(args, l.cfg.ExtraArgs...)
}

// Start picks free ports and starts the three nodes.
func (l *Local) Start(ctx context.Context) error {
	ports, err := freePorts(4 * len(l.nodes))
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ports = make([][4]int, len(l.nodes))
	for i := range l.nodes {
		copy(l.ports[i][:], ports[4*i:4*i+4])
	}
	l.mu.Unlock()
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

// Partition is not supported by the local backend.
func (l *Local) Partition(ctx context.Context, cuts []Link) error {
	return fmt.Errorf("local backend: partitions need the docker backend (loopback nodes all dial Raft from 127.0.0.1): %w", ErrUnsupported)
}

// Heal does nothing: the local backend never partitions.
func (l *Local) Heal(ctx context.Context) error { return nil }

// HealAll resumes paused nodes and restarts killed ones.
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
	for _, n := range killed {
		errs = append(errs, l.Restart(ctx, n))
	}
	return errors.Join(errs...)
}

// Stop resumes and terminates every node (SIGTERM, then SIGKILL after five
// seconds) and closes the log files.
func (l *Local) Stop(ctx context.Context) error {
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
	var errs []error
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
