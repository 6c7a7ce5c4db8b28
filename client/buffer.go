package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// bufferBatch bounds the buffered messages published in one batch.
const bufferBatch = 1024

// pubBuffer is the bounded in-memory buffer behind Enqueue.
type pubBuffer struct {
	max int

	mu    sync.Mutex
	items []Publishing  // waiting or in flight, in order
	wake  chan struct{} // cap 1: items were added
	empty chan struct{} // closed and replaced when the buffer becomes empty
}

func newPubBuffer(n int) *pubBuffer {
	return &pubBuffer{max: n, wake: make(chan struct{}, 1), empty: make(chan struct{})}
}

func (b *pubBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// Enqueue hands a message to the publish buffer (WithPublishBuffer) and
// returns at once: a background loop publishes buffered messages in order,
// in batches, retrying until each is confirmed or fails for good (those are
// reported to WithBufferErrorHandler, or logged). It fails with
// ErrBufferFull when the buffer holds its maximum, with ErrClosed after
// Close, and with ErrInvalidArgument without a buffer. The message ID is
// generated now if empty, so retries de-duplicate. A buffered message lives
// only in this process's memory: Close reports how many were never
// confirmed.
func (c *Client) Enqueue(exchange, key string, msg Message) error {
	if c.buf == nil {
		return fmt.Errorf("enqueue: the client has no publish buffer (WithPublishBuffer): %w", ErrInvalidArgument)
	}
	if msg.TTL < 0 {
		return fmt.Errorf("enqueue: message TTL %v is negative: %w", msg.TTL, ErrInvalidArgument)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("enqueue: %w", ErrClosed)
	}
	if msg.ID == "" {
		msg.ID = NewID()
	}
	b := c.buf
	b.mu.Lock()
	if len(b.items) >= b.max {
		b.mu.Unlock()
		return fmt.Errorf("enqueue %s: %d messages waiting: %w", msg.ID, b.max, ErrBufferFull)
	}
	b.items = append(b.items, Publishing{Exchange: exchange, Key: key, Message: msg})
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// Pending returns the number of buffered messages not yet confirmed (0
// without a publish buffer).
func (c *Client) Pending() int {
	if c.buf == nil {
		return 0
	}
	return c.buf.len()
}

// Flush waits until every message buffered so far (and any added meanwhile)
// is confirmed or failed for good, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	if c.buf == nil {
		return nil
	}
	for {
		c.buf.mu.Lock()
		n, empty := len(c.buf.items), c.buf.empty
		c.buf.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-empty:
		case <-ctx.Done():
			return fmt.Errorf("flush: %d messages not confirmed: %w", c.Pending(), ctx.Err())
		case <-c.ctx.Done():
			return fmt.Errorf("flush: %w", ErrClosed)
		}
	}
}

// bufferLoop publishes the buffer's head in batches until Close.
func (c *Client) bufferLoop() {
	b := c.buf
	for {
		b.mu.Lock()
		batch := b.items[:min(len(b.items), bufferBatch):min(len(b.items), bufferBatch)]
		b.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-b.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		_, err := c.PublishBatch(c.ctx, batch)
		if c.ctx.Err() != nil {
			return // what is left counts as unconfirmed
		}
		if err != nil {
			var be *BatchError
			if !errors.As(err, &be) {
				// Not a per-message failure (should not happen with a
				// context that lives until Close): try again.
				c.log.Warn("publishing the buffer failed", "err", err)
				if !c.sleep(c.ctx, 1) {
					return
				}
				continue
			}
			for i, e := range be.Errs {
				if e == nil {
					continue
				}
				if c.opts.onBufferErr != nil {
					c.opts.onBufferErr(batch[i], e)
				} else {
					c.log.Error("buffered message failed for good", "id", batch[i].ID, "exchange", batch[i].Exchange, "key", batch[i].Key, "err", e)
				}
			}
		}
		b.mu.Lock()
		clear(b.items[:len(batch)])
		b.items = b.items[len(batch):]
		if len(b.items) == 0 {
			close(b.empty)
			b.empty = make(chan struct{})
		}
		b.mu.Unlock()
	}
}
