package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/wire"
)

var errBoom = errors.New("boom")

func TestRetryMiddleware(t *testing.T) {
	var waits []int
	backoff := func(attempt int) time.Duration {
		waits = append(waits, attempt)
		return time.Microsecond
	}
	tests := []struct {
		name      string
		failures  int   // calls that fail before one succeeds
		failWith  error // the failure
		wantCalls int
		wantErr   []error // errors.Is targets; none for success
		wantWaits []int
	}{
		{"succeeds first", 0, errBoom, 1, nil, nil},
		{"succeeds third", 2, errBoom, 3, nil, []int{1, 2}},
		{"always fails", 99, errBoom, 3, []error{client.ErrReject, errBoom}, []int{1, 2}},
		{"reject is not retried", 99, fmt.Errorf("bad: %w", client.ErrReject), 1, []error{client.ErrReject}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waits = nil
			calls := 0
			h := client.Retry(3, backoff)(func(context.Context, *client.Delivery) error {
				calls++
				if calls <= tt.failures {
					return tt.failWith
				}
				return nil
			})
			err := h(context.Background(), &client.Delivery{ID: "m"})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Errorf("err = %v", err)
			}
			for _, w := range tt.wantErr {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want it to match %v", err, w)
				}
			}
			if fmt.Sprint(waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("backoffs = %v, want %v", waits, tt.wantWaits)
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	h := client.Retry(5, func(int) time.Duration { return time.Hour })(func(context.Context, *client.Delivery) error {
		calls++
		cancel()
		return errBoom
	})
	err := h(ctx, &client.Delivery{})
	if calls != 1 || !errors.Is(err, errBoom) || errors.Is(err, client.ErrReject) {
		t.Fatalf("calls %d, err %v: want one call and a plain error (requeue)", calls, err)
	}
}

func TestRetryRecoversPanics(t *testing.T) {
	calls := 0
	h := client.Retry(2, func(int) time.Duration { return 0 })(func(context.Context, *client.Delivery) error {
		calls++
		panic("bug")
	})
	err := h(context.Background(), &client.Delivery{})
	var pe *client.PanicError
	if calls != 2 || !errors.Is(err, client.ErrReject) || !errors.As(err, &pe) || pe.Value != "bug" {
		t.Fatalf("calls %d, err %v", calls, err)
	}
}

func TestRecoverMiddleware(t *testing.T) {
	h := client.Recover()(func(context.Context, *client.Delivery) error { panic(errBoom) })
	err := h(context.Background(), &client.Delivery{})
	var pe *client.PanicError
	if !errors.As(err, &pe) || pe.Value != errBoom || len(pe.Stack) == 0 {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeoutMiddleware(t *testing.T) {
	h := client.Timeout(20 * time.Millisecond)(func(ctx context.Context, _ *client.Delivery) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	err := h(context.Background(), &client.Delivery{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

type event struct {
	Name  string `json:"name" msgpack:"name"`
	Count int    `json:"count" msgpack:"count"`
}

func TestCodecs(t *testing.T) {
	var got event
	fn := func(_ context.Context, _ *client.Delivery, e event) error {
		got = e
		return nil
	}
	packed, err := msgpack.Marshal(event{Name: "b", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		h       client.Handler
		body    []byte
		want    event
		wantErr bool
	}{
		{"json", client.JSON(fn), []byte(`{"name":"a","count":1}`), event{"a", 1}, false},
		{"json bad", client.JSON(fn), []byte(`{"name":`), event{}, true},
		{"json wrong type", client.JSON(fn), []byte(`{"count":"x"}`), event{}, true},
		{"msgpack", client.Msgpack(fn), packed, event{"b", 2}, false},
		{"msgpack bad", client.Msgpack(fn), []byte{0xc1}, event{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = event{}
			err := tt.h(context.Background(), &client.Delivery{ID: "m", Body: tt.body})
			if tt.wantErr {
				if !errors.Is(err, client.ErrReject) {
					t.Fatalf("err = %v, want ErrReject", err)
				}
				if got != (event{}) {
					t.Fatalf("handler ran with %+v", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := client.ExponentialBackoff(10*time.Millisecond, 100*time.Millisecond)
	for attempt, want := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 5: 100 * time.Millisecond, 50: 100 * time.Millisecond} {
		for range 20 {
			if d := b(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{client.ErrNoLeader, true},
		{fmt.Errorf("x: %w", client.ErrIndeterminate), true},
		{client.ErrResourceLimit, true},
		{client.ErrBufferFull, true},
		{&wire.Error{Code: wire.CodeNotLeader}, true},
		{&wire.Error{Code: wire.CodeNotFound}, false},
		{client.ErrNotFound, false},
		{client.ErrPrecondition, false},
		{client.ErrUnroutable, false},
		{client.ErrRejected, false},
		{client.ErrClosed, false},
		{context.Canceled, false},
		{fmt.Errorf("%w: %w", context.DeadlineExceeded, client.ErrIndeterminate), true},
	}
	for _, tt := range tests {
		if got := client.IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	prev := ""
	for range 1000 {
		id := client.NewID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("id %q: bad length or repeated", id)
		}
		if id[:12] < prev[:min(12, len(prev))] {
			t.Fatalf("id %q sorts before the earlier %q", id, prev)
		}
		seen[id] = true
		prev = id
	}
}
