package broker

import "testing"

// A publish to a queue nobody consumes on this leader must not wake the
// dispatch loop; once the queue has dispatch state (a consumer came), it
// must, and a tick (every queue) always does.
func TestMarkDirtyWakesOnlyForQueuesWithDispatchState(t *testing.T) {
	d := newDispatcher(nil)
	woke := func() bool {
		select {
		case <-d.wake:
			return true
		default:
			return false
		}
	}
	d.markDirty("orders")
	if woke() {
		t.Fatal("woke for a queue without dispatch state")
	}

	d.mu.Lock()
	d.queue("orders")
	d.mu.Unlock()
	d.markDirty("orders")
	if !woke() {
		t.Fatal("no wake for a queue with dispatch state")
	}
	if _, ok := d.dirty["orders"]; !ok {
		t.Fatal("queue with dispatch state not marked dirty")
	}
	d.markDirty("invoices")
	if woke() {
		t.Fatal("woke for another queue without dispatch state")
	}

	d.markDirty("")
	if !woke() || !d.dirtyAll {
		t.Fatal("a mark of every queue did not wake the loop")
	}

	d.deactivate()
	d.markDirty("orders")
	if woke() {
		t.Fatal("woke for a queue whose state went with the leadership")
	}
}
