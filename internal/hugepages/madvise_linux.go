package hugepages

import "golang.org/x/sys/unix"

// errGone is what madvise returns for a range no longer mapped.
var errGone = unix.ENOMEM

func adviseHuge(start, length uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, length, unix.MADV_HUGEPAGE)
	if errno != 0 {
		return errno
	}
	return nil
}
