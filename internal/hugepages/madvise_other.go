//go:build !linux

package hugepages

import "errors"

var errGone = errors.New("mapping gone")

func adviseHuge(start, length uintptr) error { return ErrUnsupported }
