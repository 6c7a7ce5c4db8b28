package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the relay's options.
const (
	DefaultBatchSize       = 100
	DefaultPollInterval    = time.Second
	DefaultPublishTimeout  = 30 * time.Second
	DefaultLease           = 30 * time.Second
	DefaultRetention       = 24 * time.Hour
	DefaultCleanupInterval = 10 * time.Minute
	// DefaultMaxBackoff bounds the wait after a failed round.
	DefaultMaxBackoff = 30 * time.Second
)

// Option configures a Relay.
type Option func(*options)

type options struct {
	batchSize       int
	pollInterval    time.Duration
	publishTimeout  time.Duration
	lease           time.Duration
	retention       time.Duration
	cleanupInterval time.Duration
	maxBackoff      time.Duration
	name            string
	logger          *slog.Logger
	afterPublish    func() error
}

func defaultOptions() options {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return options{
		batchSize:       DefaultBatchSize,
		pollInterval:    DefaultPollInterval,
		publishTimeout:  DefaultPublishTimeout,
		lease:           DefaultLease,
		retention:       DefaultRetention,
		cleanupInterval: DefaultCleanupInterval,
		maxBackoff:      DefaultMaxBackoff,
		name:            "relay-" + hex.EncodeToString(b[:]),
		logger:          slog.Default(),
	}
}

func (o *options) validate() error {
	switch {
	case o.batchSize < 1:
		return fmt.Errorf("batch size %d < 1: %w", o.batchSize, ErrInvalidArgument)
	case o.pollInterval <= 0:
		return fmt.Errorf("poll interval %v <= 0: %w", o.pollInterval, ErrInvalidArgument)
	case o.publishTimeout <= 0:
		return fmt.Errorf("publish timeout %v <= 0: %w", o.publishTimeout, ErrInvalidArgument)
	case o.lease < 2*o.pollInterval:
		return fmt.Errorf("lease %v shorter than two poll intervals (%v): %w", o.lease, o.pollInterval, ErrInvalidArgument)
	case o.retention < 0:
		return fmt.Errorf("retention %v < 0: %w", o.retention, ErrInvalidArgument)
	case o.cleanupInterval <= 0:
		return fmt.Errorf("cleanup interval %v <= 0: %w", o.cleanupInterval, ErrInvalidArgument)
	case o.maxBackoff <= 0:
		return fmt.Errorf("max backoff %v <= 0: %w", o.maxBackoff, ErrInvalidArgument)
	case o.name == "":
		return fmt.Errorf("empty relay name: %w", ErrInvalidArgument)
	case o.logger == nil:
		return fmt.Errorf("nil logger: %w", ErrInvalidArgument)
	}
	return nil
}

// WithBatchSize sets the most rows one round claims and publishes in one
// PublishBatch (default DefaultBatchSize).
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = n } }

// WithPollInterval sets how long an idle relay waits before it looks for
// new rows again; Notify wakes it earlier (default DefaultPollInterval).
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithPublishTimeout bounds one round's publish, retries included (default
// DefaultPublishTimeout). On PostgreSQL the round's transaction, and its
// row locks, last that long at most while the broker is unreachable; the
// rows are then claimed again by the next round.
func WithPublishTimeout(d time.Duration) Option { return func(o *options) { o.publishTimeout = d } }

// WithLease sets, on SQLite, how long the lease that makes one relay the
// publisher lasts without renewal (default DefaultLease). A standby relay
// takes over that long after the publisher died; a relay that stops
// normally gives the lease up at once. It must be at least two poll
// intervals.
func WithLease(d time.Duration) Option { return func(o *options) { o.lease = d } }

// WithRetention sets how long sent rows are kept before cleanup deletes
// them (default DefaultRetention); 0 deletes them at the next cleanup.
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithCleanupInterval sets how often Run deletes the sent rows older than
// the retention (default DefaultCleanupInterval).
func WithCleanupInterval(d time.Duration) Option { return func(o *options) { o.cleanupInterval = d } }

// WithMaxBackoff bounds the growing wait after failed rounds (default
// DefaultMaxBackoff).
func WithMaxBackoff(d time.Duration) Option { return func(o *options) { o.maxBackoff = d } }

// WithName names the relay in logs and, on SQLite, in the lease (default:
// "relay-" and random hex). A relay restarted with the same name takes its
// lease back at once.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAfterPublishHook sets a function the relay calls after the broker
// confirmed a round's messages and before it marks their rows sent. If it
// returns an error, the relay does not mark them and Run returns an error
// wrapping ErrAborted and the hook's error: what a crash at that point does.
// It is meant for tests of that crash.
func WithAfterPublishHook(f func() error) Option { return func(o *options) { o.afterPublish = f } }
