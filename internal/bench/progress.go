package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress intervals: a terminal gets a redrawn bar, a pipe or file a
// plain line now and then.
const (
	ttyInterval  = 200 * time.Millisecond
	lineInterval = 5 * time.Second
	barWidth     = 30
)

// progress draws a progress bar of one phase on stderr. Its goroutine is
// owned by the progress and ends at stop.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int64
	done  *atomic.Int64 // advanced by the workload
	start time.Time

	on   bool // the goroutine runs
	quit chan struct{}
	wg   sync.WaitGroup
}

// startProgress starts reporting done against total, unless mode is
// "off". mode "auto" draws a bar when w is a terminal and prints a line
// every 5 s otherwise; "on" always draws the bar.
func startProgress(w io.Writer, mode, label string, total int64, done *atomic.Int64) *progress {
	p := &progress{w: w, label: label, total: total, done: done, start: time.Now(), quit: make(chan struct{})}
	if mode == "off" {
		return p
	}
	p.tty = mode == "on" || isTerminal(w)
	interval := lineInterval
	if p.tty {
		interval = ttyInterval
	}
	p.on = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

// stop ends the reporting and draws the final state once. It is
// idempotent.
func (p *progress) stop() {
	if !p.on {
		return
	}
	p.on = false
	close(p.quit)
	p.wg.Wait()
	p.draw(true)
}

func (p *progress) draw(final bool) {
	n := p.done.Load()
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el
	}
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(n)/float64(p.total), 1)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %d/%d (%.0f%%) in %.1fs, %.0f/s\n", p.label, n, p.total, frac*100, el, rate)
		return
	}
	fill := int(frac * barWidth)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %d/%d %.1fs %.0f/s%s", p.label,
		strings.Repeat("#", fill), strings.Repeat(" ", barWidth-fill), frac*100, n, p.total, el, rate, end)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
