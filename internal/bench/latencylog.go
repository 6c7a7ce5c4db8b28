package bench

import (
	"bufio"
	"fmt"
	"os"
)

// latencyLog is the file of --latency-log: one line per measured operation,
// "<start, unix ns> <latency, ns>" (-1 for a failed one), in the order they
// ran. The start is wall-clock time, so the lines can be laid beside a
// node's logs or metrics of the same moments. A nil *latencyLog does
// nothing.
type latencyLog struct {
	path string
	f    *os.File
	w    *bufio.Writer
	err  error // the first write error
}

func createLatencyLog(path string) (*latencyLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("latency log: %w", err)
	}
	return &latencyLog{path: path, f: f, w: bufio.NewWriter(f)}, nil
}

// add records one operation that started at start (nowNs) and took d ns.
func (l *latencyLog) add(start, d int64) {
	if l == nil || l.err != nil {
		return
	}
	_, l.err = fmt.Fprintf(l.w, "%d %d\n", t0.UnixNano()+start, d)
}

// close writes out what is buffered and closes the file; it reports the
// first error of any write.
func (l *latencyLog) close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.err
	if ferr := l.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("latency log %s: %w", l.path, err)
	}
	return nil
}

// abort closes the file if close was not reached (the run failed).
func (l *latencyLog) abort() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
