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

// Slack returns ErrUnsupported: only Linux has per-thread timer slack.
func Slack(tid int) (time.Duration, error) { return 0, ErrUnsupported }
