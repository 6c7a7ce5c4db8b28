package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestBodyLayout(t *testing.T) {
	bm := newBodyMaker(1024)
	before := nowNs()
	b := bm.make(msgID(3, 77))
	after := nowNs()
	if len(b) != 1024 {
		t.Fatalf("body is %d bytes, want 1024", len(b))
	}
	id, sent, ok := parseBody(b)
	if !ok || id != 3<<40|77 || sent < before || sent > after {
		t.Fatalf("parsed id %x sent %d ok %v; want id %x, sent in [%d, %d]", id, sent, ok, 3<<40|77, before, after)
	}
	c := bm.make(1)
	if !bytes.Equal(b[16:], c[16:]) {
		t.Error("the filler differs between messages")
	}
	if bytes.Equal(b[16:48], make([]byte, 32)) {
		t.Error("the filler is zeros, not pseudo-random")
	}
	if _, _, ok := parseBody(b[:15]); ok {
		t.Error("a 15-byte body parsed")
	}
	m1, m2 := newIDMaker(1), newIDMaker(2)
	if m1.id(5) == m2.id(5) || m1.id(5) == m1.id(6) {
		t.Error("message IDs collide across runs or messages")
	}
}

func TestParseArgs(t *testing.T) {
	kill := []string{"--kill-cmd", "k {node}", "--restart-cmd", "r {node}"}
	three := []string{"--servers", "a:1,b:2,c:3"}
	cases := []struct {
		name string
		args []string
		err  string // "" = valid
	}{
		{"w1 default", []string{"--workload", "w1"}, ""},
		{"no workload", nil, "--workload is required"},
		{"unknown workload", []string{"--workload", "w9"}, "unknown workload"},
		{"extra args", []string{"--workload", "w1", "x"}, "unexpected arguments"},
		{"bad flag", []string{"--nope"}, "not defined"},
		{"negative messages", []string{"--workload", "w1", "--messages", "-1"}, "negative"},
		{"messages below publishers", []string{"--workload", "w1", "--messages", "3"}, "below the 4 publishers"},
		{"messages on w4", append(append([]string{"--workload", "w4", "--messages", "9"}, kill...), three...), "does not apply to w4"},
		{"w4 without commands", append([]string{"--workload", "w4"}, three...), "needs --kill-cmd"},
		{"w4 with one server", append([]string{"--workload", "w4", "--servers", "a:1"}, kill...), "3 nodes"},
		{"w4 ok", append(append([]string{"--workload", "w4"}, kill...), three...), ""},
		{"duration on w1", []string{"--workload", "w1", "--duration", "5s"}, "w4 only"},
		{"short duration", append(append([]string{"--workload", "w4", "--duration", "10ms"}, kill...), three...), "at least 1s"},
		{"bad connect", append(append([]string{"--workload", "w4", "--connect", "x"}, kill...), three...), "follower or leader"},
		{"bad progress", []string{"--workload", "w1", "--progress", "x"}, "auto, on or off"},
		{"empty servers", []string{"--workload", "w1", "--servers", " , "}, "--servers is empty"},
		{"latency log on w1", []string{"--workload", "w1", "--latency-log", "x"}, "w2 only"},
		{"latency log on w2", []string{"--workload", "w2", "--latency-log", "x"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseArgs(tc.args, &bytes.Buffer{}, &bytes.Buffer{}, noEnv)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v: want a usage error containing %q", err, tc.err)
			}
		})
	}
}

func TestParseArgsValues(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"RAFTMQ_SERVERS": "x:1,y:2,x:1", "RAFTMQ_LOCAL_DIR": "/run/here"}[k]
	}
	cfg, err := parseArgs([]string{"--workload", "w3-paced", "--messages", "1000"}, &bytes.Buffer{}, &bytes.Buffer{}, env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.servers, ",") != "x:1,y:2" || cfg.pidDir != "/run/here" {
		t.Errorf("servers %q pid dir %q: the environment was not used", cfg.servers, cfg.pidDir)
	}
	if w := cfg.w; w.Messages != 1000 || w.RateHz != 5000 || w.Consumers != 2 || w.Prefetch != 256 || w.InFlight != 256 {
		t.Errorf("w3-paced params %+v", w)
	}
	cfg, err = parseArgs([]string{"--workload", "w4", "--servers", "a:1,b:2,c:3", "--kill-cmd", "k", "--restart-cmd", "r",
		"--duration", "4s", "--connect", "leader"}, &bytes.Buffer{}, &bytes.Buffer{}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.w; w.Name != "w4-leaderconn" || w.Duration != 4*time.Second || w.KillAfter != time.Second || w.RestartAfter != 2500*time.Millisecond {
		t.Errorf("scaled w4 %+v", w)
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"-h"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "--workload") {
		t.Errorf("-h: exit %d, stdout %q", code, out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"--workload", "w7"}, &out, &errOut); code != 2 || !strings.HasPrefix(errOut.String(), "raftmq bench: ") {
		t.Errorf("bad workload: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	// Nothing listens on port 1: a connection failure, exit 1.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if code := Main(ctx, []string{"--workload", "w1", "--servers", "127.0.0.1:1"}, &out, &errOut); code != 1 || out.Len() != 0 {
		t.Errorf("no cluster: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{48984.3: "48,984", -1234567: "-1,234,567", 353.24: "353.2", 0.4321: "0.432", 0: "0", 12: "12", 999: "999"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestNodePIDs(t *testing.T) {
	self := os.Getpid()
	pids, err := nodePIDs(strconv.Itoa(self)+","+strconv.Itoa(self), "", []string{"n1", "n2"})
	if err != nil || pids[0] != self || pids[1] != self {
		t.Fatalf("plain --pids: %v %v", pids, err)
	}
	pids, err = nodePIDs("n2="+strconv.Itoa(self)+",n1="+strconv.Itoa(self), "", []string{"n1", "n2"})
	if err != nil || len(pids) != 2 {
		t.Fatalf("ID=PID --pids: %v %v", pids, err)
	}
	if _, err := nodePIDs(strconv.Itoa(self), "", []string{"n1", "n2"}); !errors.Is(err, errNoPID) {
		t.Errorf("one PID for two nodes: %v", err)
	}
	if _, err := nodePIDs("x", "", []string{"n1"}); !errors.Is(err, errNoPID) {
		t.Errorf("a non-number PID: %v", err)
	}

	// PID files: the process's command line must name the node, so a
	// stale file pointing at another process is refused.
	dir := t.TempDir()
	name := filepath.Base(os.Args[0]) // this test binary's name is in its command line
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), []byte(strconv.Itoa(self)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if pids, err := nodePIDs("", dir, []string{name}); err != nil || pids[0] != self {
		t.Fatalf("PID file: %v %v", pids, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "n9.pid"), []byte(strconv.Itoa(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := nodePIDs("", dir, []string{"n9"}); !errors.Is(err, errNoPID) {
		t.Errorf("a PID file of another process was accepted: %v", err)
	}
	if _, err := nodePIDs("", dir, []string{"n8"}); !errors.Is(err, errNoPID) {
		t.Errorf("a missing PID file: %v", err)
	}
	c, err := cpuSum([]int{self})
	if err != nil || c < 0 {
		t.Errorf("cpu of self: %v %v", c, err)
	}
	if rss, err := procRSS(self); err != nil || rss < 1<<20 {
		t.Errorf("rss of self: %d %v", rss, err)
	}
}

func TestReportJSONIsLastLine(t *testing.T) {
	var out, errOut bytes.Buffer
	cfg := &config{json: true, stdout: &out, stderr: &errOut}
	res := &Result{Workload: "w1", Params: workloads()["w1"], Metrics: map[string]float64{"msgs_per_s": 1234.5, "confirmed": 10}}
	if err := report(cfg, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last stdout line %q: %v", lines[len(lines)-1], err)
	}
	if got.Metrics["msgs_per_s"] != 1234.5 || got.Params.InFlight != 256 {
		t.Errorf("decoded %+v", got)
	}
	if !strings.Contains(errOut.String(), "msgs_per_s") || !strings.Contains(errOut.String(), "1,234") {
		t.Errorf("the summary should go to stderr with --json: %q", errOut.String())
	}
}
