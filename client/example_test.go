package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/raftmq/raftmq/client"
)

// Example declares a topic exchange and a queue bound to it, publishes a
// message with a confirm, and consumes it. It is the README's example and
// needs a running cluster (make cluster), so it is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Any nodes will do: the client finds the leader and follows it.
	c, err := client.Dial(ctx, []string{"127.0.0.1:6570", "127.0.0.1:6670", "127.0.0.1:6770"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.DeclareExchange(ctx, "orders", client.Topic); err != nil {
		log.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, "eu-orders", client.QueueArgs{MaxLength: 100_000}); err != nil {
		log.Fatal(err)
	}
	if err := c.Bind(ctx, client.Binding{Source: "orders", Dest: "eu-orders", Key: "eu.*"}); err != nil {
		log.Fatal(err)
	}

	// Publish returns once the message is on disk on a majority of the
	// nodes. It retries through failovers with the same ID, and the broker
	// drops the copies, so the message is enqueued once.
	conf, err := c.Publish(ctx, "orders", "eu.created", client.Message{
		ID:      "order-42",
		Headers: map[string]string{"content-type": "application/json"},
		Body:    []byte(`{"order":42}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s to %d queue(s) at index %d\n", conf.ID, conf.Status, conf.Queues, conf.Index)

	// Consume until the context ends. A handler that returns nil acks the
	// message; one that returns an error gives it back (redelivered).
	cctx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	err = c.Consume(cctx, "eu-orders", func(ctx context.Context, d *client.Delivery) error {
		fmt.Printf("got %s: %s (redelivered: %v)\n", d.ID, d.Body, d.Redelivered)
		return nil
	}, client.WithPrefetch(50))
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Fatal(err)
	}
}
