package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/raftmq/raftmq/client"
)

// defaultSize is the body size of generated messages (--count without
// --size or a body).
const defaultSize = 64

// maxErrorsShown bounds the distinct errors a --count run reports.
const maxErrorsShown = 5

// confirmJSON is the --json output of a single publish.
type confirmJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Queues int    `json:"queues"`
	Term   uint64 `json:"term"`
	Index  uint64 `json:"index"`
}

// publishSummary is the --json output of publish --count.
type publishSummary struct {
	Messages  int      `json:"messages"`
	Confirmed int      `json:"confirmed"`
	Routed    int      `json:"routed"`
	Duplicate int      `json:"duplicate"`
	Dropped   int      `json:"dropped"`
	Failed    int      `json:"failed"`
	Seconds   float64  `json:"seconds"`
	Rate      float64  `json:"rate"`
	Errors    []string `json:"errors,omitempty"`
}

func cmdPublish(e *env, args []string) error {
	sp := spec{
		usage: "publish EXCHANGE ROUTING_KEY [--body TEXT | --body-file F | stdin] [--header k=v ...] [--id ID]\n" +
			"       [--count N [--size BYTES]] [--ttl DURATION] [--mandatory]",
		about: "Publishes one message and prints its confirm (the message is on disk on a\n" +
			"majority), or with --count N publishes N messages and prints how many were\n" +
			"confirmed, by status. EXCHANGE \"\" is the default exchange (ROUTING_KEY names\n" +
			"the queue). The body is --body, the file --body-file, or stdin when it is not\n" +
			"a terminal; with --count and no body, each message gets a generated body of\n" +
			"--size bytes. With --id and --count the IDs are ID-0 ... ID-(N-1), so running\n" +
			"the same command again enqueues nothing twice (status \"duplicate\").\n" +
			"Unconfirmed messages are resent with the same IDs, through leader failovers,\n" +
			"until --timeout.",
		example: "  raftmq publish logs app.error --body 'disk full' --header host=web1\n" +
			"  echo '{\"order\":42}' | raftmq publish \"\" orders --id order-42\n" +
			"  raftmq publish \"\" orders --count 100000 --size 256 --id run1 --timeout 2m",
		min: 2, max: 2,
	}
	fs := e.flagSet("publish", true)
	body := fs.String("body", "", "message body")
	bodyFile := fs.String("body-file", "", "read the message body from this file")
	headers := kvFlag{}
	fs.Var(headers, "header", "message header k=v (repeatable)")
	id := fs.String("id", "", "message ID (default: a new unique one); with --count, the prefix of ID-0 ... ID-(N-1)")
	count := fs.Int("count", 0, "publish N messages (0: one message, confirm printed)")
	size := fs.Int("size", defaultSize, "body size in bytes of generated messages (with --count)")
	ttl := fs.Duration("ttl", 0, "message TTL, e.g. 30s (0: none)")
	mandatory := fs.Bool("mandatory", false, "fail if the message routes to no queue instead of dropping it")
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	set := setFlags(fs)
	switch {
	case set["body"] && set["body-file"]:
		return usagef("publish: give --body or --body-file, not both")
	case set["size"] && (set["body"] || set["body-file"]):
		return usagef("publish: --size generates bodies: it does not go with --body or --body-file")
	case *count < 0:
		return usagef("publish: --count %d is negative", *count)
	case *size < 0:
		return usagef("publish: --size %d is negative", *size)
	case *ttl < 0:
		return usagef("publish: --ttl %v is negative", *ttl)
	}
	if set["size"] && *count == 0 {
		return usagef("publish: --size needs --count")
	}
	msg := client.Message{ID: *id, Headers: headers.orNil(), TTL: *ttl, Mandatory: *mandatory}
	var fixed []byte // the body, unless generated
	generate := false
	switch {
	case set["body"]:
		fixed = []byte(*body)
	case set["body-file"]:
		if fixed, err = os.ReadFile(*bodyFile); err != nil {
			return fmt.Errorf("publish: read body: %w", err)
		}
	case *count > 0:
		generate = true
	case readableStdin(e.stdin):
		if fixed, err = io.ReadAll(e.stdin); err != nil {
			return fmt.Errorf("publish: read body from stdin: %w", err)
		}
	default:
		return usagef("publish: no body: give --body, --body-file, or pipe it on stdin")
	}
	exchange, key := pos[0], pos[1]

	ctx, cancel := e.withTimeout(e.g.timeout)
	defer cancel()
	c, err := e.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	if *count == 0 {
		msg.Body = fixed
		conf, err := c.Publish(ctx, exchange, key, msg)
		if err != nil {
			return err
		}
		if e.g.json {
			return writeJSON(e.stdout, confirmJSON{ID: conf.ID, Status: conf.Status.String(), Queues: conf.Queues, Term: conf.Term, Index: conf.Index})
		}
		_, err = fmt.Fprintf(e.stdout, "confirmed %s: %s to %d queue(s) (term %d, index %d)\n",
			conf.ID, conf.Status, conf.Queues, conf.Term, conf.Index)
		return err
	}

	gen := func(i int) client.Message {
		m := msg
		if *id != "" {
			m.ID = *id + "-" + strconv.Itoa(i)
		}
		if generate {
			m.Body = generatedBody(i, *size)
		} else {
			m.Body = fixed
		}
		return m
	}
	var bar *progress
	if !e.g.json && isTerminal(e.stdout) {
		bar = startProgress(e.stderr, *count)
	}
	sum := publishMany(ctx, c, exchange, key, *count, gen, bar)
	if bar != nil {
		bar.stop()
	}
	if e.g.json {
		if err := writeJSON(e.stdout, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "published %d messages in %.2fs (%.0f msg/s): %d confirmed (routed %d, duplicate %d, dropped %d), %d failed\n",
			sum.Messages, sum.Seconds, sum.Rate, sum.Confirmed, sum.Routed, sum.Duplicate, sum.Dropped, sum.Failed)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("publish: %d of %d messages not confirmed; first error: %s", sum.Failed, sum.Messages, sum.Errors[0])
	}
	return nil
}

// publishMany publishes n messages made by gen through PublishAsync and
// tallies their confirms. One goroutine (this one) publishes; another,
// owned here, waits for the confirms in order.
func publishMany(ctx context.Context, c *client.Client, exchange, key string, n int, gen func(int) client.Message, bar *progress) publishSummary {
	sum := publishSummary{Messages: n}
	start := time.Now()
	pending := make(chan *client.PendingConfirm, 1024)
	collected := make(chan struct{})
	errs := make(map[string]bool)
	fail := func(err error) {
		sum.Failed++
		if s := oneLine(err.Error()); !errs[s] && len(sum.Errors) < maxErrorsShown {
			errs[s] = true
			sum.Errors = append(sum.Errors, s)
		}
	}
	var failedToSend int
	var sendErr error
	go func() {
		defer close(collected)
		for p := range pending {
			// The publish context bounds the outcome: Wait returns once
			// ctx ends at the latest.
			conf, err := p.Wait(context.Background())
			if bar != nil {
				bar.add(1)
			}
			if err != nil {
				fail(err)
				continue
			}
			sum.Confirmed++
			switch conf.Status {
			case client.Routed:
				sum.Routed++
			case client.Duplicate:
				sum.Duplicate++
			case client.Dropped:
				sum.Dropped++
			}
		}
	}()
	for i := range n {
		p, err := c.PublishAsync(ctx, exchange, key, gen(i))
		if err != nil {
			// Nothing more can be sent once ctx has ended or the client
			// refuses; the rest count as failed with this error.
			failedToSend = n - i
			sendErr = err
			break
		}
		pending <- p
	}
	close(pending)
	<-collected
	for range failedToSend {
		fail(sendErr)
	}
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.Rate = float64(sum.Confirmed) / sum.Seconds
	}
	return sum
}

// generatedBody returns the body of generated message i: printable, so
// that consume shows it as text, and exactly size bytes.
func generatedBody(i, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, "raftmq message "...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ' ')
	for j := 0; len(b) < size; j++ {
		b = append(b, byte('a'+j%26))
	}
	return b[:size]
}

// readableStdin reports whether stdin can supply a body: it exists and is
// not a terminal.
func readableStdin(r io.Reader) bool {
	if r == nil {
		return false
	}
	if f, ok := r.(*os.File); ok {
		return !isTerminal(f)
	}
	return true
}
