package outbox_test

import (
	"context"
	"database/sql"
	"log"

	_ "modernc.org/sqlite"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
)

// Example writes an order and its event in one transaction and runs a
// relay that publishes the event. It needs a running cluster, so it is
// compiled but not run; examples/orders is the whole program.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:orders.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	if err := outbox.Migrate(ctx, db, outbox.SQLite); err != nil {
		log.Fatal(err)
	}
	c, err := client.Dial(ctx, []string{"127.0.0.1:6570"})
	if err != nil {
		log.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, outbox.SQLite, c)
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }() // stop it by ending ctx

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, amount_cents) VALUES ($1, $2)`, "o-42", 1999); err != nil {
		log.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, outbox.Message{
		Exchange: "orders", Key: "order.created", Aggregate: "o-42",
		Headers: map[string]string{"content-type": "application/json"},
		Body:    []byte(`{"order_id":"o-42","amount_cents":1999}`),
	}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	relay.Notify() // publish now rather than at the next poll
}
