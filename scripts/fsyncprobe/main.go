//go:build linux

// Command fsyncprobe measures the disk the way a Raft log uses it: a few
// writers (one per node of a local cluster) each appending small records to
// a preallocated file of its own (as raft-wal's segments are) and fsyncing
// after every one, at once. It prints each
// writer's fsync latencies and, for every call slower than -slow, where in
// the wall-clock second it started, which shows stalls that come at fixed
// times (a virtual disk's, for example) whatever program writes.
//
//	go run ./scripts/fsyncprobe [-dir /tmp] [-writers 3] [-for 3s] [-size 1200] [-slow 3ms] [-every 0] [-fill fallocate|zero] [-sync fsync|fdatasync]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// fileSize is the size of each writer's file.
const fileSize = 64 << 20

func main() {
	dir := flag.String("dir", os.TempDir(), "directory for the probe's files (on the disk to measure)")
	writers := flag.Int("writers", 3, "writers at once")
	dur := flag.Duration("for", 3*time.Second, "how long each writer writes")
	size := flag.Int("size", 1200, "bytes per append")
	slow := flag.Duration("slow", 3*time.Millisecond, "report every fsync at least this slow")
	every := flag.Duration("every", 0, "start an append at most this often per writer (0: back to back)")
	fill := flag.String("fill", "fallocate", "how each file is prepared: fallocate (as raft-wal does) or zero (written full of zeros and synced)")
	syncCall := flag.String("sync", "fsync", "the call after each append: fsync or fdatasync")
	flag.Parse()
	if *writers < 1 || *size < 1 || *dur <= 0 {
		fmt.Fprintln(os.Stderr, "fsyncprobe: -writers, -size and -for must be positive")
		os.Exit(2)
	}
	if (*fill != "fallocate" && *fill != "zero") || (*syncCall != "fsync" && *syncCall != "fdatasync") {
		fmt.Fprintln(os.Stderr, "fsyncprobe: -fill is fallocate or zero, -sync is fsync or fdatasync")
		os.Exit(2)
	}
	zero, datasync := *fill == "zero", *syncCall == "fdatasync"

	results := make([]string, *writers)
	var wg sync.WaitGroup
	for w := range *writers {
		wg.Go(func() {
			r, err := probe(filepath.Join(*dir, fmt.Sprintf("fsyncprobe-%d-%d", os.Getpid(), w)), *size, *dur, *slow, *every, zero, datasync)
			if err != nil {
				r = "error: " + err.Error()
			}
			results[w] = fmt.Sprintf("writer %d: %s", w, r)
		})
	}
	wg.Wait()
	fmt.Println(strings.Join(results, "\n"))
}

// probe appends size-byte records to a new file at path, syncing after
// each (fdatasync with datasync, else fsync), for d, and removes the file.
// With zero the file is first written full of zeros and synced, else it is
// preallocated.
func probe(path string, size int, d, slow, every time.Duration, zero, datasync bool) (string, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	defer os.Remove(path)
	defer f.Close()
	sync := f.Sync
	if datasync {
		sync = func() error { return syscall.Fdatasync(int(f.Fd())) }
	}
	if zero {
		if _, err := f.Write(make([]byte, fileSize)); err != nil {
			return "", fmt.Errorf("zero-fill: %w", err)
		}
		if err := f.Sync(); err != nil {
			return "", fmt.Errorf("zero-fill: %w", err)
		}
	} else if err := syscall.Fallocate(int(f.Fd()), 0, 0, fileSize); err != nil {
		// raft-wal preallocates its segments the same way (fallocate, mode 0).
		return "", fmt.Errorf("preallocate: %w", err)
	}
	buf := make([]byte, size)
	var lat []time.Duration
	var slowAt []string
	end := time.Now().Add(d)
	next := time.Now()
	for off := int64(0); time.Now().Before(end) && off+int64(size) <= fileSize; off += int64(size) {
		if every > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(every)
		}
		start := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return "", fmt.Errorf("write: %w", err)
		}
		if err := sync(); err != nil {
			return "", fmt.Errorf("fsync: %w", err)
		}
		took := time.Since(start)
		lat = append(lat, took)
		if took >= slow {
			slowAt = append(slowAt, fmt.Sprintf("%d ms (%.1f ms)", start.Nanosecond()/1e6, float64(took.Microseconds())/1000))
		}
	}
	if len(lat) == 0 {
		return "", fmt.Errorf("no append finished within %v", d)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return fmt.Sprintf("%d fsyncs, p50 %v p99 %v max %v; %d slow, started at (ms past the second): %s",
		len(lat), q(0.5).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond),
		len(slowAt), strings.Join(slowAt, ", ")), nil
}
