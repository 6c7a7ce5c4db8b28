package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/raftmq/raftmq/client"
)

// defaultIdle is consume's default --timeout: stop when nothing arrived
// for this long.
const defaultIdle = 5 * time.Second

// defaultConsumePrefetch is consume's default --prefetch (capped at
// --count).
const defaultConsumePrefetch = 100

// maxPrefetch is the largest prefetch the broker accepts.
const maxPrefetch = 1 << 16

// deliveryJSON is one line of consume --json.
type deliveryJSON struct {
	ID           string            `json:"id"`
	Queue        string            `json:"queue"`
	Seq          uint64            `json:"seq"`
	Exchange     string            `json:"exchange"`
	RoutingKey   string            `json:"routing_key"`
	Headers      map[string]string `json:"headers"`
	Body         string            `json:"body"`
	BodyEncoding string            `json:"body_encoding,omitempty"`
	Redelivered  bool              `json:"redelivered"`
}

func deliveryOf(d *client.Delivery) deliveryJSON {
	body, enc := encodeBody(d.Body)
	h := d.Headers
	if h == nil {
		h = map[string]string{}
	}
	return deliveryJSON{
		ID: d.ID, Queue: d.Queue, Seq: d.Seq, Exchange: d.Exchange, RoutingKey: d.RoutingKey,
		Headers: h, Body: body, BodyEncoding: enc, Redelivered: d.Redelivered,
	}
}

func cmdConsume(e *env, args []string) error {
	sp := spec{
		usage: "consume QUEUE [--count N] [--timeout DURATION] [--prefetch N] [--requeue]",
		about: "Prints messages from QUEUE and acknowledges each one once printed (with\n" +
			"--requeue: gives them all back at the end instead, marked redelivered). Stops\n" +
			"after --count messages (0: no limit) or when none arrived for --timeout (0:\n" +
			"wait until interrupted), and exits 0 even when fewer than --count arrived,\n" +
			"saying on stderr how many did. Here --timeout is the idle timeout; a global\n" +
			"--timeout before the command name bounds connecting and subscribing.\n" +
			"With --json, one object per line: id, queue, seq, exchange, routing_key,\n" +
			"headers, body (UTF-8 text, or base64 with \"body_encoding\":\"base64\"),\n" +
			"redelivered.",
		example: "  raftmq consume orders --count 10\n" +
			"  raftmq consume orders --json --timeout 30s | jq .body\n" +
			"  raftmq consume orders --count 5 --requeue      # peek",
		min: 1, max: 1,
	}
	connectTimeout := e.g.timeout // the global --timeout, before the command
	fs := e.flagSet("consume", false)
	count := fs.Int("count", 0, "stop after N messages (0: no limit)")
	idle := fs.Duration("timeout", defaultIdle, "stop when no message arrived for this long (0: never)")
	prefetch := fs.Int("prefetch", defaultConsumePrefetch, "most unacknowledged messages held at once (capped at --count)")
	requeue := fs.Bool("requeue", false, "do not acknowledge: give the messages back to the queue at the end")
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	set := setFlags(fs)
	switch {
	case *count < 0:
		return usagef("consume: --count %d is negative", *count)
	case *idle < 0:
		return usagef("consume: --timeout %v is negative", *idle)
	case *prefetch < 1 || *prefetch > maxPrefetch:
		return usagef("consume: --prefetch %d is outside 1..%d", *prefetch, maxPrefetch)
	}
	pf := *prefetch
	if *count > 0 {
		if *requeue && !set["prefetch"] {
			// Nothing is settled until the end: the consumer must be
			// able to hold every message it prints.
			pf = min(*count, maxPrefetch)
		}
		pf = min(pf, *count)
	}
	queue := pos[0]

	cctx, cancel := e.withTimeout(connectTimeout)
	defer cancel()
	c, err := e.dial(cctx)
	if err != nil {
		return err
	}
	// Close writes the queued acknowledgements before it closes the
	// connection, and ends the subscription.
	defer c.Close()
	sub, err := c.Subscribe(cctx, queue, client.WithPrefetch(pf))
	if err != nil {
		return err
	}
	cancel()

	var timer *time.Timer
	var timeout <-chan time.Time
	if *idle > 0 {
		timer = time.NewTimer(*idle)
		defer timer.Stop()
		timeout = timer.C
	}
	var held []*client.Delivery
	got := 0
	why := ""
loop:
	for *count == 0 || got < *count {
		select {
		case d, ok := <-sub.Deliveries():
			if !ok {
				if err := sub.Err(); err != nil {
					return fmt.Errorf("consume %q: after %d messages: %w", queue, got, err)
				}
				why = "the subscription ended"
				break loop
			}
			if err := e.printDelivery(d); err != nil {
				_ = d.Nack(true)
				return fmt.Errorf("consume: write: %w", err)
			}
			got++
			if *requeue {
				held = append(held, d)
			} else if err := d.Ack(); err != nil && !errors.Is(err, client.ErrAlreadySettled) {
				return fmt.Errorf("consume: ack %s: %w", d.ID, err)
			}
			if timer != nil {
				timer.Reset(*idle)
			}
		case <-timeout:
			why = fmt.Sprintf("nothing arrived for %v", *idle)
			break loop
		case <-e.ctx.Done():
			why = "interrupted"
			break loop
		}
	}
	for _, d := range held {
		if err := d.Nack(true); err != nil {
			return fmt.Errorf("consume: requeue %s: %w", d.ID, err)
		}
	}
	if *count > 0 && got < *count {
		fmt.Fprintf(e.stderr, "raftmq: consume: received %d of %d messages from %q (%s)\n", got, *count, queue, why)
	} else if *count == 0 && !e.g.json {
		fmt.Fprintf(e.stderr, "raftmq: consume: received %d messages from %q (%s)\n", got, queue, why)
	}
	return nil
}

// printDelivery prints one message: a JSON line, or a header line and the
// body.
func (e *env) printDelivery(d *client.Delivery) error {
	if e.g.json {
		return writeJSON(e.stdout, deliveryOf(d))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s #%d id=%s exchange=%q key=%q", d.Queue, d.Seq, d.ID, d.Exchange, d.RoutingKey)
	if d.Redelivered {
		fmt.Fprintf(&b, " redelivered(count=%d)", d.DeliveryCount)
	}
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, d.Headers[k])
	}
	body, enc := encodeBody(d.Body)
	if enc != "" {
		fmt.Fprintf(&b, " body_encoding=%s", enc)
	}
	b.WriteByte('\n')
	b.WriteString(body)
	b.WriteByte('\n')
	_, err := fmt.Fprint(e.stdout, b.String())
	return err
}
