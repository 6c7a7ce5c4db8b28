package backend

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Backend runs a three-node raftmq cluster and injects faults into it. The
// methods may block on external commands; each honours its context. They are
// called from one goroutine at a time (the runner or the nemesis), except
// ClientAddrs and Nodes, which may be called from any goroutine.
type Backend interface {
	// Name is "docker" or "local".
	Name() string
	// Nodes returns the node names (also their Raft IDs), in a fixed order.
	Nodes() []string
	// ClientAddrs returns the nodes' client addresses as the harness
	// reaches them (loopback: 127.0.0.1 for docker, 127.0.0.11–13 for local), in the order of Nodes.
	ClientAddrs() []string
	// Start creates a fresh cluster, its data under the backend's data
	// directory, and starts every node. It returns once the nodes run; the
	// caller waits for a leader.
	Start(ctx context.Context) error
	// Stop stops and removes the cluster, keeping the data directories.
	Stop(ctx context.Context) error
	// Kill stops a node at once (SIGKILL): no graceful shutdown.
	Kill(ctx context.Context, node string) error
	// Restart starts a killed node again on its data.
	Restart(ctx context.Context, node string) error
	// Pause freezes a node's processes; Resume thaws them.
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
	// Partition drops every packet sent over each of the directed links,
	// in addition to the links already cut. ErrUnsupported if the backend
	// cannot.
	Partition(ctx context.Context, cuts []Link) error
	// Heal restores every link.
	Heal(ctx context.Context) error
	// HealAll heals the network, resumes paused nodes and restarts killed
	// ones.
	HealAll(ctx context.Context) error
	// SaveLogs writes each node's log into dir as <node>.log.
	SaveLogs(ctx context.Context, dir string) error
}

// Link is one direction of the network between two nodes.
type Link struct {
	From, To string
}

// String returns "from->to".
func (l Link) String() string { return l.From + "->" + l.To }

// Errors of the backends.
var (
	// ErrUnsupported: the backend cannot inject this fault.
	ErrUnsupported = errors.New("fault not supported by this backend")
	// ErrUnknownNode: no node of that name.
	ErrUnknownNode = errors.New("unknown node")
	// ErrCommand: an external command failed.
	ErrCommand = errors.New("command failed")
)

// run runs a command and returns its combined output; a failure wraps
// ErrCommand with the output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s %s: %w: %s", ErrCommand, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// indexOf returns the position of node in nodes.
func indexOf(nodes []string, node string) (int, error) {
	for i, n := range nodes {
		if n == node {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %q", ErrUnknownNode, node)
}
