// Command orders is the transactional outbox and inbox example: an
// "orders" service writes each order and its order.created event in one
// database transaction (outbox.Add), and its relay publishes the events to
// raftmq; a "billing" service consumes them and writes one invoice per
// order through the inbox, so a redelivered event is not billed twice.
//
//	go run ./examples/orders demo    --servers 127.0.0.1:6570 --count 10
//	go run ./examples/orders orders  --servers ... --db orders.db --count 0
//	go run ./examples/orders billing --servers ... --db billing.db
//
// "demo" runs both services in one process, each with its own database,
// and exits once every order is invoiced. --db (or --orders-db and
// --billing-db for demo) takes an SQLite file path or a postgres:// URL.
// Kill either service, or a broker node, while it runs, and start it
// again: no order is lost and none is invoiced twice.
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
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

const usage = `usage: orders COMMAND [flags]

Commands:
  demo     run the orders and billing services together until every order is invoiced
  orders   create orders and publish their events through the outbox
  billing  invoice each order once, through the inbox

Run "orders COMMAND -h" for its flags.
`

// config is the flags of all commands.
type config struct {
	servers   []string
	db        string // orders or billing
	ordersDB  string // demo
	billingDB string // demo
	count     int
	every     time.Duration
	verbose   bool
	logger    *slog.Logger
	out       io.Writer
}

// run is the program, for main and the tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	cfg := config{out: &lockedWriter{w: stdout}}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	servers := os.Getenv("RAFTMQ_SERVERS")
	if servers == "" {
		servers = "127.0.0.1:6570"
	}
	fs.StringVar(&servers, "servers", servers, "comma-separated client addresses of cluster nodes (env RAFTMQ_SERVERS)")
	fs.BoolVar(&cfg.verbose, "verbose", false, "log the relay's and the client's progress")
	switch cmd {
	case "demo":
		fs.StringVar(&cfg.ordersDB, "orders-db", "orders.db", "orders database: SQLite file or postgres:// URL")
		fs.StringVar(&cfg.billingDB, "billing-db", "billing.db", "billing database: SQLite file or postgres:// URL")
		fs.IntVar(&cfg.count, "count", 10, "orders to create")
		fs.DurationVar(&cfg.every, "every", 50*time.Millisecond, "pause between two orders")
	case "orders":
		fs.StringVar(&cfg.db, "db", "orders.db", "database: SQLite file or postgres:// URL")
		fs.IntVar(&cfg.count, "count", 10, "orders to create, then exit once all are published (0: one every --every until stopped)")
		fs.DurationVar(&cfg.every, "every", time.Second, "pause between two orders")
	case "billing":
		fs.StringVar(&cfg.db, "db", "billing.db", "database: SQLite file or postgres:// URL")
		fs.IntVar(&cfg.count, "count", 0, "exit once this many orders are invoiced by this run (0: run until stopped)")
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", cmd, flag.ErrHelp)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.servers = append(cfg.servers, s)
		}
	}
	if len(cfg.servers) == 0 {
		return fmt.Errorf("%s: no --servers", cmd)
	}
	if cfg.count < 0 {
		return fmt.Errorf("%s: --count %d is negative", cmd, cfg.count)
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	cfg.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	switch cmd {
	case "orders":
		return runOrders(ctx, cfg, cfg.db)
	case "billing":
		return runBilling(ctx, cfg, cfg.db, cfg.count)
	default:
		return runDemo(ctx, cfg)
	}
}

// runDemo runs both services until billing has invoiced every order.
func runDemo(ctx context.Context, cfg config) error {
	if cfg.count == 0 {
		return errors.New("demo: --count must be at least 1")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		if err := runOrders(ctx, cfg, cfg.ordersDB); err != nil {
			errs <- fmt.Errorf("orders service: %w", err)
			cancel()
		}
	})
	wg.Go(func() {
		if err := runBilling(ctx, cfg, cfg.billingDB, cfg.count); err != nil {
			errs <- fmt.Errorf("billing service: %w", err)
			cancel()
		}
	})
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("demo: stopped before every order was invoiced: %w", context.Cause(ctx))
	}
	fmt.Fprintf(cfg.out, "demo: %d orders created, %d invoiced\n", cfg.count, cfg.count)
	return nil
}

// lockedWriter serialises the services' lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
