package client

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// Defaults of the client's options.
const (
	// DefaultDialTimeout bounds one connection attempt.
	DefaultDialTimeout = 3 * time.Second
	// DefaultBackoffMin is the first back-off between attempts.
	DefaultBackoffMin = 50 * time.Millisecond
	// DefaultBackoffMax is the longest back-off between attempts.
	DefaultBackoffMax = 2 * time.Second
	// DefaultMaxInFlight bounds the unconfirmed messages.
	DefaultMaxInFlight = 4096
	// DefaultHeartbeat is how long a connection may stay silent before it
	// is probed.
	DefaultHeartbeat = 5 * time.Second
	// DefaultPrefetch is the prefetch a consumer asks for unless
	// WithPrefetch says otherwise.
	DefaultPrefetch = 256
)

// Option configures a Client.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	dialTimeout  time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration
	name         string
	bufferSize   int
	maxFrameSize int
	maxInFlight  int
	heartbeat    time.Duration
	onBufferErr  func(Publishing, error)
}

func defaultOptions() options {
	return options{
		logger:       slog.Default(),
		dialTimeout:  DefaultDialTimeout,
		backoffMin:   DefaultBackoffMin,
		backoffMax:   DefaultBackoffMax,
		maxFrameSize: wire.DefaultMaxFrameSize,
		maxInFlight:  DefaultMaxInFlight,
		heartbeat:    DefaultHeartbeat,
	}
}

func (o *options) validate() error {
	switch {
	case o.logger == nil:
		return fmt.Errorf("logger is nil: %w", ErrInvalidArgument)
	case o.dialTimeout <= 0:
		return fmt.Errorf("dial timeout %v is not positive: %w", o.dialTimeout, ErrInvalidArgument)
	case o.backoffMin <= 0 || o.backoffMax < o.backoffMin:
		return fmt.Errorf("backoff %v..%v is not a positive range: %w", o.backoffMin, o.backoffMax, ErrInvalidArgument)
	case o.bufferSize < 0:
		return fmt.Errorf("publish buffer size %d is negative: %w", o.bufferSize, ErrInvalidArgument)
	case o.maxFrameSize < 1024:
		return fmt.Errorf("max frame size %d is below 1 KiB: %w", o.maxFrameSize, ErrInvalidArgument)
	case o.maxInFlight <= 0:
		return fmt.Errorf("max in flight %d is not positive: %w", o.maxInFlight, ErrInvalidArgument)
	case o.heartbeat <= 0:
		return fmt.Errorf("heartbeat %v is not positive: %w", o.heartbeat, ErrInvalidArgument)
	}
	return nil
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDialTimeout bounds one connection attempt, TCP connect and handshake
// (default DefaultDialTimeout).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithBackoff sets the range of the exponential back-off (with jitter)
// between reconnection rounds and between retries of a request (default
// DefaultBackoffMin to DefaultBackoffMax).
func WithBackoff(lo, hi time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = lo, hi }
}

// WithName names the client in the server's logs and is the default
// consumer tag.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithPublishBuffer enables Enqueue with a buffer of at most n messages
// waiting to be confirmed. 0 (the default) disables it.
func WithPublishBuffer(n int) Option { return func(o *options) { o.bufferSize = n } }

// WithMaxFrameSize sets the largest frame the client sends or accepts
// (default wire.DefaultMaxFrameSize; keep it at or below the server's).
func WithMaxFrameSize(n int) Option { return func(o *options) { o.maxFrameSize = n } }

// WithMaxInFlight bounds the messages published and not yet confirmed;
// PublishAsync blocks while that many are in flight (default
// DefaultMaxInFlight).
func WithMaxInFlight(n int) Option { return func(o *options) { o.maxInFlight = n } }

// WithHeartbeat sets how long the connection may stay silent before the
// client probes it with a status request; after three intervals without
// any frame it is considered dead and replaced (default DefaultHeartbeat).
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }

// WithBufferErrorHandler sets a function called (from the buffer's
// goroutine) for each buffered message that failed for good, such as an
// unroutable or rejected one. Without it such failures are logged.
func WithBufferErrorHandler(f func(Publishing, error)) Option {
	return func(o *options) { o.onBufferErr = f }
}

// ConsumeOption configures Consume and Subscribe.
type ConsumeOption func(*consumeOptions)

type consumeOptions struct {
	prefetch    int
	tag         string
	concurrency int
	middleware  []Middleware
}

func (o *consumeOptions) validate() error {
	switch {
	case o.prefetch <= 0 || o.prefetch > 1<<16:
		return fmt.Errorf("prefetch %d is outside 1..65536: %w", o.prefetch, ErrInvalidArgument)
	case o.concurrency <= 0:
		return fmt.Errorf("concurrency %d is not positive: %w", o.concurrency, ErrInvalidArgument)
	}
	return nil
}

// WithPrefetch sets the most unsettled deliveries the consumer holds at once
// (default DefaultPrefetch).
func WithPrefetch(n int) ConsumeOption { return func(o *consumeOptions) { o.prefetch = n } }

// WithTag labels the consumer in the server's listings.
func WithTag(tag string) ConsumeOption { return func(o *consumeOptions) { o.tag = tag } }

// WithConcurrency sets how many handler goroutines Consume runs (default 1).
// With more than one, messages are handled out of order.
func WithConcurrency(n int) ConsumeOption { return func(o *consumeOptions) { o.concurrency = n } }

// WithMiddleware wraps Consume's handler; the first middleware is the
// outermost.
func WithMiddleware(m ...Middleware) ConsumeOption {
	return func(o *consumeOptions) { o.middleware = append(o.middleware, m...) }
}

// ExchangeOption configures DeclareExchange.
type ExchangeOption func(*exchangeOptions)

type exchangeOptions struct {
	alternate string
}

// WithAlternateExchange names the exchange that receives the messages this
// exchange routes nowhere.
func WithAlternateExchange(name string) ExchangeOption {
	return func(o *exchangeOptions) { o.alternate = name }
}
