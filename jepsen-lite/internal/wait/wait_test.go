package wait

import (
	"context"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("an elapsed sleep reported false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Minute) {
		t.Fatal("a cancelled sleep reported true")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("a cancelled sleep did not return at once")
	}
	if Sleep(ctx, 0) {
		t.Fatal("a zero sleep on an ended context reported true")
	}
}
