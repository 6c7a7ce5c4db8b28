package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Retry returns a middleware that runs the handler up to maxAttempts times
// for one delivery, waiting backoff(attempt) between attempts (attempt
// counts from 1; nil means ExponentialBackoff(100ms, 10s)). When the last
// attempt fails, the message is rejected: it goes to the queue's
// dead-letter exchange, if any, instead of being redelivered forever. The
// broker records no per-message reason on a reject: the dead-lettered
// message carries a death record with reason "rejected", and the handler's
// last error is returned wrapped in ErrReject, which Consume logs with the
// message's ID. A handler error that already wraps ErrReject, a
// delivery the handler settled itself, and the context's end stop the
// retries at once (the latter nacks with requeue as usual).
func Retry(maxAttempts int, backoff func(attempt int) time.Duration) Middleware {
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	if backoff == nil {
		backoff = ExponentialBackoff(100*time.Millisecond, 10*time.Second)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			var err error
			for attempt := 1; ; attempt++ {
				err = runHandler(ctx, next, d)
				if err == nil || errors.Is(err, ErrReject) || d.Settled() {
					return err
				}
				if attempt >= maxAttempts {
					break
				}
				t := time.NewTimer(backoff(attempt))
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return err
				}
			}
			return fmt.Errorf("%w after %d attempts: %w", ErrReject, maxAttempts, err)
		}
	}
}

// ExponentialBackoff returns a back-off for Retry: base doubled for each
// attempt, at most limit, with jitter over the upper half.
func ExponentialBackoff(base, limit time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < limit; i++ {
			d *= 2
		}
		d = min(d, limit)
		if d <= 1 {
			return d
		}
		half := d / 2
		return half + rand.N(half+1)
	}
}

// Recover returns a middleware that turns a handler's panic into a
// *PanicError, so the middleware outside it (Retry, say) sees an error.
// Consume recovers panics on its own (nack with requeue) even without it.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			return runHandler(ctx, next, d)
		}
	}
}

// Timeout returns a middleware that gives each handler call a context that
// ends after d. The handler must honour its context: the call is not
// abandoned, and an error it returns nacks with requeue as usual.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, dl *Delivery) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, dl)
		}
	}
}

// JSON returns a handler that decodes each delivery's body as JSON into a T
// and calls fn with it. A body that cannot be decoded is rejected (ErrReject:
// to the dead-letter exchange) instead of being redelivered forever.
func JSON[T any](fn func(ctx context.Context, d *Delivery, v T) error) Handler {
	return func(ctx context.Context, d *Delivery) error {
		var v T
		if err := json.Unmarshal(d.Body, &v); err != nil {
			return fmt.Errorf("%w: decode JSON body of message %s into %T: %w", ErrReject, d.ID, v, err)
		}
		return fn(ctx, d, v)
	}
}

// Msgpack returns a handler that decodes each delivery's body as msgpack
// into a T and calls fn with it. A body that cannot be decoded is rejected
// (ErrReject) instead of being redelivered forever.
func Msgpack[T any](fn func(ctx context.Context, d *Delivery, v T) error) Handler {
	return func(ctx context.Context, d *Delivery) error {
		var v T
		if err := msgpack.Unmarshal(d.Body, &v); err != nil {
			return fmt.Errorf("%w: decode msgpack body of message %s into %T: %w", ErrReject, d.ID, v, err)
		}
		return fn(ctx, d, v)
	}
}
