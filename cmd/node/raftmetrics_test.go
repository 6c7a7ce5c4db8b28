package main

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testcluster"
)

// syncBuffer is a bytes.Buffer safe for the signal goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// With -raft-metrics, SIGUSR1 prints the timings raft reported, among them
// the commit time of the entries a leader committed.
func TestRaftMetricsPrintedOnSIGUSR1(t *testing.T) {
	var out syncBuffer
	sig, err := startRaftMetrics(&out)
	if err != nil {
		t.Fatal(err)
	}
	defer sig.Stop()

	c := testcluster.Start(t, 1)
	c.WaitLeader()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "raftmq.raft.commitTime") {
		if time.Now().After(deadline) {
			t.Fatalf("no raft commit time printed after SIGUSR1; got:\n%s", out.String())
		}
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
