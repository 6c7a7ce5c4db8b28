package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/client"
)

// defaultServers is the seed used without --servers and RAFTMQ_SERVERS.
const defaultServers = "127.0.0.1:6570"

// defaultTimeout bounds one command unless --timeout says otherwise.
const defaultTimeout = 10 * time.Second

// getenv reads the environment; tests replace it.
var getenv = os.Getenv

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit code: 0 success, 1 failure, 2 bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdin, stdout, stderr)
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// globals are the flags every command accepts.
type globals struct {
	servers string
	timeout time.Duration
	json    bool
	verbose bool
}

// env is what a command runs with.
type env struct {
	ctx    context.Context // ends on interrupt
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand. Commands with subcommands (declare, delete,
// cluster) dispatch again on their first argument.
type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"status", "show members, leader, Raft indexes and queues", cmdStatus},
		{"declare", "declare an exchange or a queue (declare exchange|queue NAME)", cmdDeclare},
		{"bind", "bind a queue (or exchange) to an exchange", cmdBind},
		{"unbind", "remove a binding", cmdUnbind},
		{"delete", "delete an exchange or a queue (delete exchange|queue NAME)", cmdDelete},
		{"purge", "remove a queue's ready messages", cmdPurge},
		{"publish", "publish one message, or --count generated ones", cmdPublish},
		{"consume", "print (and acknowledge) messages from a queue", cmdConsume},
		{"cluster", "cluster administration (cluster remove NODE_ID)", cmdCluster},
		{"bench", "run a benchmark workload: w1, w2, w3, w3-paced or w4 (see bench -h)", cmdBench},
	}
}

func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	err := e.dispatch(args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "raftmq: %s\n", oneLine(err.Error()))
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// oneLine folds a multi-line error (errors.Join) into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
}

func (e *env) dispatch(args []string) error {
	fs := flag.NewFlagSet("raftmq", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	e.g.servers = getenv("RAFTMQ_SERVERS")
	if e.g.servers == "" {
		e.g.servers = defaultServers
	}
	e.g.timeout = defaultTimeout
	e.addGlobals(fs, true)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.mainUsage(e.stdout)
			return err
		}
		return usagef("%v (see raftmq -h)", err)
	}
	if fs.NArg() == 0 {
		return usagef("no command given (see raftmq -h)")
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		if len(rest) == 0 {
			e.mainUsage(e.stdout)
			return nil
		}
		name, rest = rest[0], append(rest[1:], "-h")
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(e, rest)
		}
	}
	return usagef("unknown command %q (see raftmq -h)", name)
}

func (e *env) mainUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: raftmq [--servers host:port,...] [--timeout 10s] [--json] COMMAND [ARGS] [FLAGS]

raftmq inspects and uses a raftmq cluster. Any node's client address will do
for --servers: the tool finds the leader.

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Global flags (before or after the command):
  --servers   comma-separated client addresses (default $RAFTMQ_SERVERS, else 127.0.0.1:6570)
  --timeout   how long a command may take, connecting included (default 10s)
  --json      print JSON instead of text
  --verbose   log the client's connection events to stderr

Example:
  raftmq --servers 127.0.0.1:6570,127.0.0.1:6670 status
  raftmq consume orders --count 10 --json

Run "raftmq COMMAND -h" for a command's flags and an example.
`)
}

// addGlobals adds the global flags to fs; withTimeout false leaves
// --timeout to the command (consume).
func (e *env) addGlobals(fs *flag.FlagSet, withTimeout bool) {
	fs.StringVar(&e.g.servers, "servers", e.g.servers, "comma-separated client addresses of cluster nodes (env RAFTMQ_SERVERS)")
	if withTimeout {
		fs.DurationVar(&e.g.timeout, "timeout", e.g.timeout, "how long the command may take, connecting included (0: no limit)")
	}
	fs.BoolVar(&e.g.json, "json", e.g.json, "print JSON")
	fs.BoolVar(&e.g.verbose, "verbose", e.g.verbose, "log the client's connection events to stderr")
}

// spec describes a command for its help text.
type spec struct {
	usage   string // after "raftmq "
	about   string
	example string
	min     int // positional arguments
	max     int // -1: no limit
}

// flagSet returns a flag set for a command with the global flags added.
func (e *env) flagSet(name string, withTimeout bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	e.addGlobals(fs, withTimeout)
	return fs
}

// parse parses a command's arguments, flags and positional arguments in any
// order, and checks the number of positional arguments. -h prints the
// command's help to stdout and returns flag.ErrHelp.
func (e *env) parse(fs *flag.FlagSet, sp spec, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			e.commandUsage(e.stdout, fs, sp)
			return nil, err
		}
		if err != nil {
			return nil, usagef("%s: %v (see raftmq %s -h)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < sp.min:
		return nil, usagef("%s: missing arguments: usage: raftmq %s (see raftmq %s -h)", fs.Name(), argsUsage(sp.usage), fs.Name())
	case sp.max >= 0 && len(pos) > sp.max:
		return nil, usagef("%s: unexpected arguments %q: usage: raftmq %s (see raftmq %s -h)", fs.Name(), pos[sp.max:], argsUsage(sp.usage), fs.Name())
	}
	return pos, nil
}

// argsUsage returns a usage line without its flags: "bind DEST SOURCE".
func argsUsage(usage string) string {
	var words []string
	for _, w := range strings.Fields(usage) {
		if strings.HasPrefix(w, "[") {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

func (e *env) commandUsage(w io.Writer, fs *flag.FlagSet, sp spec) {
	fmt.Fprintf(w, "Usage: raftmq %s\n\n%s\n\nFlags:\n", sp.usage, sp.about)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nExample:\n%s\n", sp.example)
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// withTimeout bounds ctx by the command's --timeout (none when 0).
func (e *env) withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(e.ctx)
	}
	return context.WithTimeout(e.ctx, d)
}

// seeds returns the --servers addresses.
func (e *env) seeds() ([]string, error) {
	var out []string
	for _, s := range strings.Split(e.g.servers, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, usagef("--servers is empty: give at least one host:port")
	}
	return out, nil
}

// dial connects to the cluster's leader; ctx bounds the attempt.
func (e *env) dial(ctx context.Context, opts ...client.Option) (*client.Client, error) {
	seeds, err := e.seeds()
	if err != nil {
		return nil, err
	}
	level := slog.Level(100) // nothing
	if e.g.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	opts = append([]client.Option{client.WithName("raftmq-cli"), client.WithLogger(logger)}, opts...)
	c, err := client.Dial(ctx, seeds, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(seeds, ","), err)
	}
	return c, nil
}

// kvFlag is a repeatable k=v flag (--header).
type kvFlag map[string]string

func (f kvFlag) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + f[k]
	}
	return strings.Join(parts, ",")
}

func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	f[k] = v
	return nil
}

// orNil returns nil for an empty map.
func (f kvFlag) orNil() map[string]string {
	if len(f) == 0 {
		return nil
	}
	return f
}
