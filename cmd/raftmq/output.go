package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"
)

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// encodeBody returns body as text when it is valid UTF-8, else as base64
// with the encoding's name.
func encodeBody(body []byte) (text, encoding string) {
	if utf8.Valid(body) {
		return string(body), ""
	}
	return base64.StdEncoding.EncodeToString(body), "base64"
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// progress is a one-line progress bar, redrawn on stderr ten times a
// second. It is written here, in a few lines, rather than taken from a
// progress-bar module: it needs no more than a counter, a rate and a
// carriage return, and the tool stays free of a dependency (and of its
// terminal-handling surprises) for that.
type progress struct {
	w     io.Writer
	total int
	start time.Time
	n     atomic.Int64
	quit  chan struct{}
	wg    sync.WaitGroup
}

// startProgress starts drawing; stop ends it.
func startProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), quit: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw()
			case <-p.quit:
				return
			}
		}
	}()
	return p
}

// add counts n more messages done.
func (p *progress) add(n int) { p.n.Add(int64(n)) }

// stop draws the final state, ends the line and stops the drawing
// goroutine.
func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *progress) draw() {
	const width = 30
	n := int(p.n.Load())
	filled := 0
	if p.total > 0 {
		filled = min(width, n*width/p.total)
	}
	bar := make([]byte, width)
	for i := range bar {
		switch {
		case i < filled:
			bar[i] = '='
		case i == filled:
			bar[i] = '>'
		default:
			bar[i] = ' '
		}
	}
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r[%s] %d/%d confirmed %3.0f%% %.0f msg/s ", bar, n, p.total, 100*float64(n)/float64(max(p.total, 1)), rate)
}
