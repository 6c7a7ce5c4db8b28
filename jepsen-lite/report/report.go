package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
)

// Meta describes a run for its report.
type Meta struct {
	Name      string
	Seed      uint64
	Git       string
	Backend   string
	Workloads []string
	Nemesis   []string
	TimeLimit time.Duration
	Started   time.Time
	Dir       string
	// Linearizability is the file name of Porcupine's visualization, or "".
	Linearizability string
}

// Results is what results.json holds.
type Results struct {
	Name    string             `json:"name"`
	Seed    uint64             `json:"seed"`
	Git     string             `json:"git_revision"`
	Valid   checker.Validity   `json:"valid"`
	Stats   Stats              `json:"stats"`
	Checker checker.Result     `json:"checker"`
	Faults  []nemesis.Interval `json:"faults"`
}

// Write writes results.json, summary.txt and report.html into dir.
func Write(dir string, m Meta, ops []history.Op, ivs []nemesis.Interval, res checker.Result, st Stats) error {
	if ivs == nil {
		ivs = []nemesis.Interval{}
	}
	r := Results{Name: m.Name, Seed: m.Seed, Git: m.Git, Valid: res.Valid, Stats: st, Checker: res, Faults: ivs}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(Summary(m, res, st)), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "report.html"))
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := reportTmpl.Execute(f, buildPage(m, ops, ivs, res, st)); err != nil {
		f.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Summary is the one-glance text of a run.
func Summary(m Meta, res checker.Result, st Stats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run          %s (seed %d, git %s, backend %s)\n", m.Name, m.Seed, m.Git, m.Backend)
	fmt.Fprintf(&b, "workloads    %s; nemesis %s; time limit %s\n", strings.Join(m.Workloads, ","), orNone(m.Nemesis), m.TimeLimit)
	fmt.Fprintf(&b, "operations   %d (faults injected: %d)\n", st.Operations, st.Faults)
	if res.Messages != nil {
		fmt.Fprintf(&b, "attempted    %d publishes\n", st.Attempted)
		fmt.Fprintf(&b, "confirmed    %d   failed %d   indeterminate %d\n", st.Confirmed, st.Failed, st.Indeterminate)
		fmt.Fprintf(&b, "recovered    %d (indeterminate publishes later delivered)\n", st.Recovered)
		fmt.Fprintf(&b, "deliveries   %d (redeliveries %d)\n", st.Deliveries, st.Redeliveries)
		fmt.Fprintf(&b, "lost         %d\n", st.Lost)
		fmt.Fprintf(&b, "unexpected   %d\n", st.Unexpected)
		fmt.Fprintf(&b, "aborted      %d\n", st.Aborted)
		fmt.Fprintf(&b, "duplicates   %d\n", st.Duplicates)
		fmt.Fprintf(&b, "reorders     %d\n", st.Reorders)
		fmt.Fprintf(&b, "routing      %d misrouted, %d missing routes\n", st.Misrouted, st.MissingRoute)
		fmt.Fprintf(&b, "drain        complete=%v\n", res.Messages.DrainComplete)
	}
	if res.Metadata != nil {
		fmt.Fprintf(&b, "metadata     %d operations on %d keys: porcupine %s\n", st.MetadataOps, res.Metadata.Keys, st.Porcupine)
	}
	fmt.Fprintf(&b, "unavailable  longest %s without a successful request, from t=%s%s\n",
		st.LongestUnavailable.Round(time.Millisecond), st.UnavailableAt.Round(time.Millisecond), faultNote(st.UnavailableFault))
	var notes []string
	notes = append(notes, res.Errors...)
	if res.Messages != nil {
		notes = append(notes, res.Messages.Notes...)
	}
	if res.Metadata != nil {
		notes = append(notes, res.Metadata.Notes...)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "note         %s\n", n)
	}
	for i, a := range anomalies(res) {
		if i == 20 {
			fmt.Fprintf(&b, "...          (see results.json)\n")
			break
		}
		fmt.Fprintf(&b, "anomaly      %s\n", a)
	}
	fmt.Fprintf(&b, "verdict      %s\n", strings.ToUpper(string(res.Valid)))
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func faultNote(f string) string {
	if f == "" {
		return ""
	}
	return " (during " + f + ")"
}

func anomalies(res checker.Result) []checker.Anomaly {
	var out []checker.Anomaly
	if res.Messages != nil {
		out = append(out, res.Messages.Anomalies...)
	}
	if res.Metadata != nil {
		out = append(out, res.Metadata.Anomalies...)
	}
	return out
}

// Chart geometry.
const (
	chartW  = 1000.0
	chartH  = 220.0
	marginL = 60.0
	marginB = 24.0
	plotW   = chartW - marginL - 10
	plotH   = chartH - marginB - 10
	maxDraw = 6000 // operations drawn per chart; more are sampled
)

var colours = map[history.Type]string{history.Ok: "#2e7d32", history.Fail: "#c62828", history.Info: "#ef8f00"}

type page struct {
	Meta      Meta
	Verdict   string
	Class     string
	Summary   string
	Anomalies []checker.Anomaly
	Faults    []faultRow
	Timeline  template.HTML
	Latency   template.HTML
	Through   template.HTML
}

type faultRow struct {
	Kind, Nodes, Start, End, Error string
}

func buildPage(m Meta, ops []history.Op, ivs []nemesis.Interval, res checker.Result, st Stats) page {
	p := page{Meta: m, Verdict: strings.ToUpper(string(res.Valid)), Class: string(res.Valid), Summary: Summary(m, res, st), Anomalies: anomalies(res)}
	for _, iv := range ivs {
		p.Faults = append(p.Faults, faultRow{Kind: iv.Kind, Nodes: strings.Join(iv.Nodes, ","),
			Start: secs(iv.Start), End: secs(iv.End), Error: iv.Error})
	}
	var end int64 = 1
	for _, op := range ops {
		end = max(end, op.Time)
	}
	pairs, _ := history.Pairs(ops)
	var reqs []history.Pair
	for _, pr := range pairs {
		if isRequest(pr.Invoke.F) {
			reqs = append(reqs, pr)
		}
	}
	p.Timeline = timeline(reqs, ivs, end)
	p.Latency = latency(reqs, ivs, end)
	p.Through = throughput(ops, ivs, end)
	return p
}

func secs(ns int64) string { return fmt.Sprintf("%.1fs", float64(ns)/1e9) }

func xOf(t, end int64) float64 { return marginL + plotW*float64(t)/float64(end) }

// frame draws the axes, the time ticks and the shaded fault intervals.
func frame(b *strings.Builder, ivs []nemesis.Interval, end int64, ylabel string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="10">`, chartW, chartH)
	for _, iv := range ivs {
		x0, x1 := xOf(iv.Start, end), xOf(max(iv.End, iv.Start), end)
		fmt.Fprintf(b, `<rect x="%.1f" y="10" width="%.1f" height="%.1f" fill="#9e9e9e" opacity="0.25"><title>%s %s</title></rect>`,
			x0, math.Max(x1-x0, 1), plotH, template.HTMLEscapeString(iv.Kind), template.HTMLEscapeString(strings.Join(iv.Nodes, ",")))
		fmt.Fprintf(b, `<text x="%.1f" y="20" fill="#555">%s</text>`, x0+2, template.HTMLEscapeString(iv.Kind))
	}
	fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#000"/>`, marginL, 10+plotH, marginL+plotW, 10+plotH)
	fmt.Fprintf(b, `<line x1="%.0f" y1="10" x2="%.0f" y2="%.0f" stroke="#000"/>`, marginL, marginL, 10+plotH)
	step := niceStep(end)
	for t := int64(0); t <= end; t += step {
		x := xOf(t, end)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#000"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`,
			x, 10+plotH, x, 14+plotH, x, 24+plotH, secs(t))
	}
	fmt.Fprintf(b, `<text x="12" y="%.0f" transform="rotate(-90 12 %.0f)" text-anchor="middle">%s</text>`, 10+plotH/2, 10+plotH/2, ylabel)
}

func niceStep(end int64) int64 {
	for _, s := range []int64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600} {
		if end/(s*int64(time.Second)) <= 12 {
			return s * int64(time.Second)
		}
	}
	return 1200 * int64(time.Second)
}

// sample keeps at most maxDraw pairs, evenly, but every non-ok one.
func sample(reqs []history.Pair) []history.Pair {
	if len(reqs) <= maxDraw {
		return reqs
	}
	k := (len(reqs) + maxDraw - 1) / maxDraw
	var out []history.Pair
	for i, p := range reqs {
		if i%k == 0 || p.Completion.Type != history.Ok {
			out = append(out, p)
		}
	}
	return out
}

// timeline draws each request as a bar from invocation to completion, one
// lane per worker, coloured by outcome.
func timeline(reqs []history.Pair, ivs []nemesis.Interval, end int64) template.HTML {
	var b strings.Builder
	frame(&b, ivs, end, "worker")
	lanes := map[int]int{}
	var keys []int
	for _, p := range reqs {
		l := laneOf(p.Invoke.Process)
		if _, ok := lanes[l]; !ok {
			lanes[l] = 0
			keys = append(keys, l)
		}
	}
	sort.Ints(keys)
	for i, k := range keys {
		lanes[k] = i
	}
	n := math.Max(float64(len(keys)), 1)
	h := math.Max(math.Min(plotH/n-1, 12), 1)
	for _, p := range sample(reqs) {
		y := 10 + plotH*float64(lanes[laneOf(p.Invoke.Process)])/n
		x0, x1 := xOf(p.Invoke.Time, end), xOf(p.Completion.Time, end)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s %s</title></rect>`,
			x0, y, math.Max(x1-x0, 0.8), h, colours[p.Completion.Type], p.Invoke.F, template.HTMLEscapeString(describe(p.Invoke.Value)), p.Completion.Type)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// laneOf maps a process to its worker: workloads use bases of 10,000,000
// and renumber a worker by adding 1000 after an info.
func laneOf(p int) int { return p/10_000_000*10_000 + p%1000 }

func describe(v history.Value) string {
	switch {
	case v.ID != "":
		return v.ID
	case v.Key != "":
		return v.Queue + "/" + v.Key
	}
	return v.Queue
}

// latency draws each request's latency (log scale) at its invocation time.
func latency(reqs []history.Pair, ivs []nemesis.Interval, end int64) template.HTML {
	var b strings.Builder
	frame(&b, ivs, end, "latency (ms, log)")
	lo, hi := 0.0, 5.0 // 1 ms .. 100 s
	for _, d := range []float64{1, 10, 100, 1000, 10000} {
		y := 10 + plotH*(1-(math.Log10(d)-lo)/(hi-lo))
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g</text>`,
			marginL, y, marginL+plotW, y, marginL-4, y+3, d)
	}
	for _, p := range sample(reqs) {
		ms := math.Max(float64(p.Completion.Time-p.Invoke.Time)/1e6, 1)
		y := 10 + plotH*(1-math.Min((math.Log10(ms)-lo)/(hi-lo), 1))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.6" fill="%s"/>`, xOf(p.Invoke.Time, end), y, colours[p.Completion.Type])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// throughput draws completions per second by outcome, and deliveries.
func throughput(ops []history.Op, ivs []nemesis.Interval, end int64) template.HTML {
	buckets := int(end/int64(time.Second)) + 1
	series := map[string][]int{"ok": make([]int, buckets), "fail": make([]int, buckets), "info": make([]int, buckets), "deliver": make([]int, buckets)}
	for _, op := range ops {
		i := int(op.Time / int64(time.Second))
		switch {
		case op.F == history.FDeliver:
			series["deliver"][i]++
		case isRequest(op.F) && op.Type != history.Invoke:
			series[string(op.Type)][i]++
		}
	}
	top := 1
	for _, s := range series {
		for _, v := range s {
			top = max(top, v)
		}
	}
	var b strings.Builder
	frame(&b, ivs, end, "per second")
	fmt.Fprintf(&b, `<text x="%.0f" y="16" text-anchor="end">%d</text>`, marginL-4, top)
	col := map[string]string{"ok": colours[history.Ok], "fail": colours[history.Fail], "info": colours[history.Info], "deliver": "#1565c0"}
	for _, name := range []string{"deliver", "ok", "info", "fail"} {
		var pts []string
		for i, v := range series[name] {
			x := xOf(int64(i)*int64(time.Second)+int64(time.Second)/2, end)
			y := 10 + plotH*(1-float64(v)/float64(top))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, col[name], strings.Join(pts, " "))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var reportTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>jepsen-lite: {{.Meta.Name}}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1040px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold}
.valid{background:#2e7d32} .invalid{background:#c62828} .unknown{background:#ef8f00}
pre{background:#f5f5f5;padding:10px;white-space:pre-wrap}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>jepsen-lite: {{.Meta.Name}} <span class="verdict {{.Class}}">{{.Verdict}}</span></h1>
<p>seed {{.Meta.Seed}} · git {{.Meta.Git}} · backend {{.Meta.Backend}} · started {{.Meta.Started.Format "2006-01-02 15:04:05 MST"}} ·
<a href="history.jsonl">history.jsonl</a> · <a href="results.json">results.json</a> · <a href="params.json">params.json</a>
{{if .Meta.Linearizability}} · <a href="{{.Meta.Linearizability}}">Porcupine visualization (metadata)</a>{{end}}</p>
<pre>{{.Summary}}</pre>
<p class="legend"><span><i class="sw" style="background:#2e7d32"></i>ok</span><span><i class="sw" style="background:#ef8f00"></i>info (unknown)</span>
<span><i class="sw" style="background:#c62828"></i>fail</span><span><i class="sw" style="background:#1565c0"></i>deliveries</span>
<span><i class="sw" style="background:#9e9e9e;opacity:.4"></i>fault</span></p>
<h2>Operations over time</h2>{{.Timeline}}
<h2>Latency</h2>{{.Latency}}
<h2>Throughput</h2>{{.Through}}
<h2>Anomalies</h2>
{{if .Anomalies}}<table><tr><th>kind</th><th>id</th><th>queue</th><th>detail</th><th>history entries</th></tr>
{{range .Anomalies}}<tr><td>{{.Kind}}</td><td>{{.ID}}</td><td>{{.Queue}}</td><td>{{.Detail}}</td><td>{{.Ops}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Faults</h2>
{{if .Faults}}<table><tr><th>kind</th><th>nodes</th><th>start</th><th>end</th><th>error</th></tr>
{{range .Faults}}<tr><td>{{.Kind}}</td><td>{{.Nodes}}</td><td>{{.Start}}</td><td>{{.End}}</td><td>{{.Error}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
</body></html>
`))
