package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftmq/raftmq/wire"
)

// Admin requests go to the leader through Raft. Each retries, with back-off,
// on no leader, a lost connection and an unknown outcome until ctx ends;
// domain errors (not found, precondition, invalid argument) return at once.
// A change is done once the call returns nil: it is committed on a majority.

// DeclareExchange creates an exchange, or does nothing if one exists with
// the same kind and options (ErrPrecondition if they differ).
func (c *Client) DeclareExchange(ctx context.Context, name string, kind ExchangeKind, opts ...ExchangeOption) error {
	var o exchangeOptions
	for _, opt := range opts {
		opt(&o)
	}
	req := &wire.DeclareExchange{Name: name, Kind: string(kind), AlternateExchange: o.alternate}
	if err := c.request(ctx, wire.TDeclareExchange, req, wire.TOK, nil, idempotent); err != nil {
		return fmt.Errorf("declare exchange %q: %w", name, err)
	}
	return nil
}

// DeleteExchange removes an exchange and its bindings (ErrNotFound if it
// does not exist).
func (c *Client) DeleteExchange(ctx context.Context, name string) error {
	err := c.request(ctx, wire.TDeleteExchange, &wire.DeleteExchange{Name: name}, wire.TOK, nil, goneIsDone)
	if err != nil && !errors.Is(err, errGoneAfterRetry) {
		return fmt.Errorf("delete exchange %q: %w", name, err)
	}
	return nil
}

// DeclareQueue creates a queue, or does nothing if one exists with the same
// arguments (ErrPrecondition if they differ).
func (c *Client) DeclareQueue(ctx context.Context, name string, args QueueArgs) error {
	if args.MessageTTL < 0 {
		return fmt.Errorf("declare queue %q: message TTL %v is negative: %w", name, args.MessageTTL, ErrInvalidArgument)
	}
	req := &wire.DeclareQueue{Name: name, Args: args.toWire()}
	if err := c.request(ctx, wire.TDeclareQueue, req, wire.TOK, nil, idempotent); err != nil {
		return fmt.Errorf("declare queue %q: %w", name, err)
	}
	return nil
}

// DeleteQueue removes a queue with its messages and bindings and returns
// the number of messages deleted (0 when a retry found the queue already
// deleted by an earlier attempt). Its consumers are cancelled.
func (c *Client) DeleteQueue(ctx context.Context, name string) (int64, error) {
	var ok wire.OK
	err := c.request(ctx, wire.TDeleteQueue, &wire.DeleteQueue{Name: name}, wire.TOK, decodeInto(&ok), goneIsDone)
	if errors.Is(err, errGoneAfterRetry) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("delete queue %q: %w", name, err)
	}
	return ok.Count, nil
}

// PurgeQueue removes a queue's ready messages and returns their number
// (after a retry, the number the last attempt removed).
func (c *Client) PurgeQueue(ctx context.Context, name string) (int64, error) {
	var ok wire.OK
	if err := c.request(ctx, wire.TPurgeQueue, &wire.PurgeQueue{Name: name}, wire.TOK, decodeInto(&ok), idempotent); err != nil {
		return 0, fmt.Errorf("purge queue %q: %w", name, err)
	}
	return ok.Count, nil
}

// Bind adds a binding (ErrNotFound if its source or destination does not
// exist). Binding twice is harmless.
func (c *Client) Bind(ctx context.Context, b Binding) error {
	req, err := b.toWire()
	if err == nil {
		err = c.request(ctx, wire.TBind, req, wire.TOK, nil, idempotent)
	}
	if err != nil {
		return fmt.Errorf("bind %q to %q with key %q: %w", b.Source, b.Dest, b.Key, err)
	}
	return nil
}

// Unbind removes a binding.
func (c *Client) Unbind(ctx context.Context, b Binding) error {
	req, err := b.toWire()
	if err == nil {
		err = c.request(ctx, wire.TUnbind, req, wire.TOK, nil, goneIsDone)
	}
	if err != nil && !errors.Is(err, errGoneAfterRetry) {
		return fmt.Errorf("unbind %q from %q with key %q: %w", b.Dest, b.Source, b.Key, err)
	}
	return nil
}

// InspectQueue returns a queue's state. The leader confirms it still leads
// before answering, so the answer is never stale.
func (c *Client) InspectQueue(ctx context.Context, name string) (QueueInfo, error) {
	var qi wire.QueueInfo
	if err := c.request(ctx, wire.TInspectQueue, &wire.InspectQueue{Name: name}, wire.TQueueInfo, decodeInto(&qi), idempotent); err != nil {
		return QueueInfo{}, fmt.Errorf("inspect queue %q: %w", name, err)
	}
	return queueInfoOf(qi), nil
}

// ListQueues returns every queue's state.
func (c *Client) ListQueues(ctx context.Context) ([]QueueInfo, error) {
	var ql wire.QueueList
	if err := c.request(ctx, wire.TListQueues, &wire.ListQueues{}, wire.TQueueList, decodeInto(&ql), idempotent); err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	out := make([]QueueInfo, len(ql.Queues))
	for i, q := range ql.Queues {
		out[i] = queueInfoOf(q)
	}
	return out, nil
}

// ListExchanges returns every exchange.
func (c *Client) ListExchanges(ctx context.Context) ([]ExchangeInfo, error) {
	var el wire.ExchangeList
	if err := c.request(ctx, wire.TListExchanges, &wire.ListExchanges{}, wire.TExchangeList, decodeInto(&el), idempotent); err != nil {
		return nil, fmt.Errorf("list exchanges: %w", err)
	}
	out := make([]ExchangeInfo, len(el.Exchanges))
	for i, x := range el.Exchanges {
		out[i] = ExchangeInfo{Name: x.Name, Kind: ExchangeKind(x.Kind), AlternateExchange: x.AlternateExchange}
	}
	return out, nil
}

// ListBindings returns the bindings whose source is exchange, or every
// binding when exchange is "" (ErrNotFound for a missing exchange).
func (c *Client) ListBindings(ctx context.Context, exchange string) ([]Binding, error) {
	var bl wire.BindingList
	if err := c.request(ctx, wire.TListBindings, &wire.ListBindings{Exchange: exchange}, wire.TBindingList, decodeInto(&bl), idempotent); err != nil {
		return nil, fmt.Errorf("list bindings of %q: %w", exchange, err)
	}
	out := make([]Binding, len(bl.Bindings))
	for i, b := range bl.Bindings {
		out[i] = bindingOf(b)
	}
	return out, nil
}

// RemoveNode removes a server from the cluster's Raft configuration for
// good (scale-down). ErrNotFound if it is not a member.
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	err := c.request(ctx, wire.TRemoveNode, &wire.RemoveNode{ID: id}, wire.TOK, nil, goneIsDone)
	if err != nil && !errors.Is(err, errGoneAfterRetry) {
		return fmt.Errorf("remove node %q: %w", id, err)
	}
	return nil
}

// Status returns the cluster's state as the node the client is connected to
// sees it. Without a leader connection, it asks the known nodes in turn
// (any node answers), so it works while the cluster has no leader.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var si wire.StatusInfo
	c.mu.Lock()
	cur, closed := c.cur, c.closed
	addrs := append([]string(nil), c.addrs...)
	c.mu.Unlock()
	if closed {
		return Status{}, fmt.Errorf("status: %w", ErrClosed)
	}
	if cur != nil && cur.alive() {
		err := cur.do(ctx, wire.TStatus, &wire.Status{}, wire.TStatusInfo, decodeInto(&si))
		if err == nil {
			c.learnMembers(si.Members)
			return statusOf(&si), nil
		}
		if ctx.Err() != nil {
			return Status{}, fmt.Errorf("status: %w", err)
		}
	}
	var errs []error
	for _, addr := range addrs {
		cn, err := c.dial(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = cn.do(ctx, wire.TStatus, &wire.Status{}, wire.TStatusInfo, decodeInto(&si))
		cn.close(errors.New("status done"))
		if err == nil {
			c.learnMembers(si.Members)
			return statusOf(&si), nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return Status{}, fmt.Errorf("status: no node answered: %w", errors.Join(errs...))
}
