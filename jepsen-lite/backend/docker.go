package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The docker cluster's fixed layout; it must match jepsen-lite/docker-compose.yml.
var (
	dockerNodes       = []string{"n1", "n2", "n3"}
	dockerIPs         = []string{"172.29.77.11", "172.29.77.12", "172.29.77.13"}
	dockerClientAddrs = []string{"127.0.0.1:19570", "127.0.0.1:19670", "127.0.0.1:19770"}
)

// DockerProject is the compose project name of the jepsen-lite cluster.
const DockerProject = "raftmq-jepsen"

// Chain is the iptables chain the partition nemesis owns inside each node's
// network namespace.
const Chain = "RAFTMQ-JEPSEN"

// DockerConfig configures the docker backend.
type DockerConfig struct {
	// ComposeFile is the path of jepsen-lite/docker-compose.yml.
	ComposeFile string
	// DataDir receives the nodes' bind-mounted data directories n1..n3.
	DataDir string
	// Logger receives progress messages; nil means slog.Default().
	Logger *slog.Logger
}

// Docker runs the cluster with docker compose; faults are docker kill,
// start, pause, unpause, and iptables rules inside a node's network
// namespace (entered from the host with nsenter).
type Docker struct {
	cfg     DockerConfig
	compose []string // the compose command and its fixed arguments
	log     *slog.Logger

	mu  sync.Mutex
	ids map[string]string // node -> container ID
	// killed and paused are the nodes the nemesis has stopped.
	killed, paused map[string]bool
}

// NewDocker returns a docker backend. It checks that docker, docker compose
// (or docker-compose), nsenter and iptables are there.
func NewDocker(cfg DockerConfig) (*Docker, error) {
	if cfg.ComposeFile == "" || cfg.DataDir == "" {
		return nil, errors.New("docker backend: ComposeFile and DataDir are required")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("docker backend: data directory: %w", err)
	}
	cfg.DataDir = abs
	d := &Docker{cfg: cfg, log: cfg.Logger, ids: map[string]string{}, killed: map[string]bool{}, paused: map[string]bool{}}
	if d.log == nil {
		d.log = slog.Default()
	}
	for _, tool := range []string{"docker", "nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("docker backend needs %s: %w", tool, err)
		}
	}
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		d.compose = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		d.compose = []string{"docker-compose"}
	} else {
		return nil, errors.New("docker backend needs docker compose or docker-compose")
	}
	d.compose = append(d.compose, "-p", DockerProject, "-f", cfg.ComposeFile)
	return d, nil
}

// Name returns "docker".
func (d *Docker) Name() string { return "docker" }

// Nodes returns n1, n2, n3.
func (d *Docker) Nodes() []string { return append([]string(nil), dockerNodes...) }

// ClientAddrs returns the published client ports on 127.0.0.1.
func (d *Docker) ClientAddrs() []string { return append([]string(nil), dockerClientAddrs...) }

func (d *Docker) composeRun(ctx context.Context, args ...string) (string, error) {
	full := append(append([]string(nil), d.compose[1:]...), args...)
	cmd := exec.CommandContext(ctx, d.compose[0], full...)
	cmd.Env = append(os.Environ(), "RAFTMQ_JEPSEN_DATA="+d.cfg.DataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s %s: %w: %s", ErrCommand, d.compose[0], strings.Join(full, " "), err, lastLines(string(out), 5))
	}
	return string(out), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Start removes any earlier jepsen-lite cluster, creates the data
// directories and starts the three containers.
func (d *Docker) Start(ctx context.Context) error {
	if _, err := run(ctx, "docker", "image", "inspect", "raftmq-node:dev"); err != nil {
		return fmt.Errorf("docker backend: image raftmq-node:dev is missing; build it first (CGO_ENABLED=0 go build -o bin/node ./cmd/node && docker build -t raftmq-node:dev .): %w", err)
	}
	if _, err := d.composeRun(ctx, "down", "-v", "--remove-orphans", "-t", "1"); err != nil {
		return fmt.Errorf("remove an earlier cluster: %w", err)
	}
	for _, n := range dockerNodes {
		if err := os.MkdirAll(filepath.Join(d.cfg.DataDir, n), 0o755); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	if _, err := d.composeRun(ctx, "up", "-d", "--no-build"); err != nil {
		return fmt.Errorf("start the cluster: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.killed, d.paused = map[string]bool{}, map[string]bool{}
	for _, n := range dockerNodes {
		out, err := d.composeRun(ctx, "ps", "-q", n)
		if err != nil {
			return fmt.Errorf("find the container of %s: %w", n, err)
		}
		id := strings.TrimSpace(out)
		if id == "" {
			return fmt.Errorf("find the container of %s: compose lists none", n)
		}
		d.ids[n] = id
	}
	d.log.Info("docker cluster started", "data", d.cfg.DataDir)
	return nil
}

// Stop removes the containers and the network; the bind-mounted data stays.
func (d *Docker) Stop(ctx context.Context) error {
	d.mu.Lock()
	paused := d.paused
	d.mu.Unlock()
	for n := range paused {
		_ = d.Resume(ctx, n) // a paused container cannot be stopped
	}
	if _, err := d.composeRun(ctx, "down", "-v", "--remove-orphans", "-t", "2"); err != nil {
		return fmt.Errorf("stop the cluster: %w", err)
	}
	return nil
}

func (d *Docker) id(node string) (string, error) {
	if _, err := indexOf(dockerNodes, node); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.ids[node]
	if !ok {
		return "", fmt.Errorf("docker backend: node %s has no container (not started)", node)
	}
	return id, nil
}

// Kill sends SIGKILL to the node's container.
func (d *Docker) Kill(ctx context.Context, node string) error {
	id, err := d.id(node)
	if err != nil {
		return err
	}
	d.mu.Lock()
	wasPaused := d.paused[node]
	d.mu.Unlock()
	if wasPaused {
		if err := d.Resume(ctx, node); err != nil {
			return err
		}
	}
	if _, err := run(ctx, "docker", "kill", "-s", "KILL", id); err != nil {
		return fmt.Errorf("kill %s: %w", node, err)
	}
	d.mu.Lock()
	d.killed[node] = true
	d.mu.Unlock()
	return nil
}

// Restart starts a killed container again.
func (d *Docker) Restart(ctx context.Context, node string) error {
	id, err := d.id(node)
	if err != nil {
		return err
	}
	if _, err := run(ctx, "docker", "start", id); err != nil {
		return fmt.Errorf("start %s: %w", node, err)
	}
	d.mu.Lock()
	delete(d.killed, node)
	d.mu.Unlock()
	return nil
}

// Pause freezes the container (docker pause: the cgroup freezer).
func (d *Docker) Pause(ctx context.Context, node string) error {
	id, err := d.id(node)
	if err != nil {
		return err
	}
	if _, err := run(ctx, "docker", "pause", id); err != nil {
		return fmt.Errorf("pause %s: %w", node, err)
	}
	d.mu.Lock()
	d.paused[node] = true
	d.mu.Unlock()
	return nil
}

// Resume unpauses the container.
func (d *Docker) Resume(ctx context.Context, node string) error {
	id, err := d.id(node)
	if err != nil {
		return err
	}
	if _, err := run(ctx, "docker", "unpause", id); err != nil {
		return fmt.Errorf("unpause %s: %w", node, err)
	}
	d.mu.Lock()
	delete(d.paused, node)
	d.mu.Unlock()
	return nil
}

// pid returns the PID of the container's init process, 0 if it is not
// running.
func (d *Docker) pid(ctx context.Context, node string) (int, error) {
	id, err := d.id(node)
	if err != nil {
		return 0, err
	}
	out, err := run(ctx, "docker", "inspect", "-f", "{{.State.Pid}}", id)
	if err != nil {
		return 0, fmt.Errorf("inspect %s: %w", node, err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(out), &pid); err != nil {
		return 0, fmt.Errorf("inspect %s: pid %q: %w", node, out, err)
	}
	return pid, nil
}

// iptables runs iptables inside the network namespace of pid.
func iptables(ctx context.Context, pid int, args ...string) (string, error) {
	full := append([]string{"-t", fmt.Sprint(pid), "-n", "iptables", "-w", "5"}, args...)
	return run(ctx, "nsenter", full...)
}

// ensureChain creates our chain in the namespace of pid and jumps to it from
// INPUT and OUTPUT, once.
func ensureChain(ctx context.Context, pid int) error {
	if _, err := iptables(ctx, pid, "-L", Chain, "-n"); err != nil {
		if _, err := iptables(ctx, pid, "-N", Chain); err != nil {
			return fmt.Errorf("create chain %s: %w", Chain, err)
		}
	}
	for _, parent := range []string{"INPUT", "OUTPUT"} {
		if _, err := iptables(ctx, pid, "-C", parent, "-j", Chain); err != nil {
			if _, err := iptables(ctx, pid, "-I", parent, "1", "-j", Chain); err != nil {
				return fmt.Errorf("jump from %s to %s: %w", parent, Chain, err)
			}
		}
	}
	return nil
}

// Partition drops the packets of each link: in the sender's namespace,
// OUTPUT to the receiver's address; in the receiver's, INPUT from the
// sender's address. A node that is not running is skipped (its namespace is
// gone; it comes back healed).
func (d *Docker) Partition(ctx context.Context, cuts []Link) error {
	for _, l := range cuts {
		fi, err := indexOf(dockerNodes, l.From)
		if err != nil {
			return err
		}
		ti, err := indexOf(dockerNodes, l.To)
		if err != nil {
			return err
		}
		for _, side := range []struct {
			node string
			rule []string
		}{
			{l.From, []string{"-A", Chain, "-d", dockerIPs[ti], "-j", "DROP"}},
			{l.To, []string{"-A", Chain, "-s", dockerIPs[fi], "-j", "DROP"}},
		} {
			pid, err := d.pid(ctx, side.node)
			if err != nil {
				return err
			}
			if pid == 0 {
				continue
			}
			if err := ensureChain(ctx, pid); err != nil {
				return fmt.Errorf("partition %s on %s: %w", l, side.node, err)
			}
			if _, err := iptables(ctx, pid, side.rule...); err != nil {
				return fmt.Errorf("partition %s on %s: %w", l, side.node, err)
			}
		}
	}
	return nil
}

// Heal flushes our chain in every running node.
func (d *Docker) Heal(ctx context.Context) error {
	var errs []error
	for _, n := range dockerNodes {
		pid, err := d.pid(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pid == 0 {
			continue
		}
		if _, err := iptables(ctx, pid, "-L", Chain, "-n"); err != nil {
			continue // never partitioned
		}
		if _, err := iptables(ctx, pid, "-F", Chain); err != nil {
			errs = append(errs, fmt.Errorf("heal %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// HealAll heals the network, unpauses and restarts what the nemesis stopped.
func (d *Docker) HealAll(ctx context.Context) error {
	var errs []error
	d.mu.Lock()
	var paused, killed []string
	for _, n := range dockerNodes {
		if d.paused[n] {
			paused = append(paused, n)
		}
		if d.killed[n] {
			killed = append(killed, n)
		}
	}
	d.mu.Unlock()
	for _, n := range paused {
		errs = append(errs, d.Resume(ctx, n))
	}
	errs = append(errs, d.Heal(ctx))
	for _, n := range killed {
		errs = append(errs, d.Restart(ctx, n))
	}
	return errors.Join(errs...)
}

// SaveLogs writes `docker logs` of each container to dir/<node>.log.
func (d *Docker) SaveLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save logs: %w", err)
	}
	var errs []error
	for _, n := range dockerNodes {
		id, err := d.id(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := os.Create(filepath.Join(dir, n+".log"))
		if err != nil {
			errs = append(errs, fmt.Errorf("save logs of %s: %w", n, err))
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(cctx, "docker", "logs", "-t", id)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Run(); err != nil {
			errs = append(errs, fmt.Errorf("save logs of %s: %w", n, err))
		}
		cancel()
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("save logs of %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}
