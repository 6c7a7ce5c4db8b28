//go:build !linux

package sysmonslack

import (
	"context"
	"time"
)

// Find returns ErrUnsupported: only Linux has per-thread timer slack.
func Find(ctx context.Context) (int, error) { return 0, ErrUnsupported }

// Set returns ErrUnsupported: only Linux has per-thread timer slack.
func Set(ctx context.Context, slack time.Duration) (int, error) { return 0, ErrUnsupported }

// SetThread returns ErrUnsupported: only Linux has per-thread timer slack.
func SetThread(tid int, slack time.Duration) error { return ErrUnsupported }

// Default returns ErrUnsupported: only Linux has per-thread timer slack.
func Default() (time.Duration, error) { return 0, ErrUnsupported }

// Confine returns ErrUnsupported: only Linux has per-thread timer slack.
func Confine(ctx context.Context, monitor int, interval time.Duration) error {
	return ErrUnsupported
}

// Slack returns ErrUnsupported: only Linux has per-thread timer slack.
func Slack(tid int) (time.Duration, error) { return 0, ErrUnsupported }
