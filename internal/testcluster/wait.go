package testcluster

import (
	"context"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
)

// WaitQueue polls a queue's state through c until cond holds, and fails t
// when ctx ends first.
func WaitQueue(t testing.TB, ctx context.Context, c *client.Client, queue string, cond func(client.QueueInfo) bool) client.QueueInfo {
	t.Helper()
	var last client.QueueInfo
	var err error
	for {
		var qi client.QueueInfo
		qi, err = c.InspectQueue(ctx, queue)
		if err == nil {
			last = qi
			if cond(qi) {
				return qi
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("queue %s: condition not met before the deadline; last state %+v, last error %v", queue, last, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
