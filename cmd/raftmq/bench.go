package main

import (
	"errors"
	"fmt"

	"github.com/raftmq/raftmq/internal/bench"
)

// cmdBench runs a benchmark workload (package internal/bench). The global
// --servers, --json and --verbose carry over; flags after "bench" win.
// --timeout does not apply: a run takes as long as its workload.
func cmdBench(e *env, args []string) error {
	pre := []string{"--servers", e.g.servers}
	if e.g.json {
		pre = append(pre, "--json")
	}
	if e.g.verbose {
		pre = append(pre, "--verbose")
	}
	err := bench.Run(e.ctx, append(pre, args...), e.stdout, e.stderr)
	if errors.Is(err, bench.ErrUsage) {
		return &usageError{msg: "bench: " + err.Error()}
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
