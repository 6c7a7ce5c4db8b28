package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testcluster"
)

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the tool in-process against servers with a generous timeout.
func cli(t *testing.T, servers string, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"--servers", servers, "--timeout", "20s"}, args...)
	code := run(full, stdin, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// ok runs the tool and fails the test unless it exits 0.
func ok(t *testing.T, servers string, args ...string) string {
	t.Helper()
	r := cli(t, servers, nil, args...)
	if r.code != 0 {
		t.Fatalf("raftmq %q: exit %d, stderr %q", args, r.code, r.stderr)
	}
	return r.stdout
}

// decode parses one JSON object.
func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// wantOneLineError checks that stderr is exactly one "raftmq: " line that
// contains every one of want.
func wantOneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	if !strings.HasPrefix(r.stderr, "raftmq: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("stderr %q: want one line starting with \"raftmq: \"", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr %q does not contain %q", r.stderr, w)
		}
	}
}

func queueOf(t *testing.T, st statusJSON, name string) queueJSON {
	t.Helper()
	for _, q := range st.Queues {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("queue %q not in status %+v", name, st.Queues)
	return queueJSON{}
}

// waitStatus polls status --json until cond holds (acks are applied
// asynchronously).
func waitStatus(t *testing.T, servers string, what string, cond func(statusJSON) bool) statusJSON {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := decode[statusJSON](t, ok(t, servers, "status", "--json"))
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last status %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSingleNode(t *testing.T) {
	cl := testcluster.Start(t, 1)
	srv := cl.ClientAddr(0)

	t.Run("round trip", func(t *testing.T) {
		ok(t, srv, "declare", "exchange", "logs", "--type", "topic")
		ok(t, srv, "declare", "queue", "errors")
		ok(t, srv, "declare", "queue", "all")
		// Flags after the positional arguments.
		ok(t, srv, "bind", "errors", "logs", "--key", "*.error")
		ok(t, srv, "bind", "--key", "#", "all", "logs")

		conf := decode[confirmJSON](t, ok(t, srv, "publish", "logs", "web.error", "--body", "disk full", "--header", "host=web1", "--id", "m1", "--json"))
		if conf.ID != "m1" || conf.Status != "routed" || conf.Queues != 2 || conf.Term == 0 || conf.Index == 0 {
			t.Fatalf("confirm = %+v", conf)
		}
		sum := decode[publishSummary](t, ok(t, srv, "publish", "logs", "db.error", "--count", "5", "--size", "40", "--id", "b", "--json"))
		if sum.Messages != 5 || sum.Confirmed != 5 || sum.Routed != 5 || sum.Failed != 0 {
			t.Fatalf("summary = %+v", sum)
		}
		// The same IDs again: de-duplicated, nothing enqueued twice.
		sum = decode[publishSummary](t, ok(t, srv, "publish", "logs", "db.error", "--count", "5", "--size", "40", "--id", "b", "--json"))
		if sum.Confirmed != 5 || sum.Duplicate != 5 || sum.Routed != 0 {
			t.Fatalf("second summary = %+v", sum)
		}
		// A binary body from stdin.
		bin := []byte{0xff, 0x00, 0xfe, 'x'}
		r := cli(t, srv, bytes.NewReader(bin), "publish", "logs", "x.error", "--id", "bin", "--json")
		if r.code != 0 {
			t.Fatalf("publish from stdin: %d %q", r.code, r.stderr)
		}
		// Routed only to "all": info does not match *.error.
		ok(t, srv, "publish", "logs", "web.info", "--body", "fine", "--id", "info1")

		st := decode[statusJSON](t, ok(t, srv, "status", "--json"))
		if q := queueOf(t, st, "errors"); q.Messages != 7 || q.Ready != 7 {
			t.Fatalf("errors queue before consume: %+v", q)
		}
		if q := queueOf(t, st, "all"); q.Messages != 8 {
			t.Fatalf("all queue: %+v", q)
		}

		out := ok(t, srv, "consume", "errors", "--count", "7", "--json", "--timeout", "10s")
		got := map[string]deliveryJSON{}
		for _, l := range lines(out) {
			d := decode[deliveryJSON](t, l)
			if _, dup := got[d.ID]; dup {
				t.Fatalf("message %s consumed twice", d.ID)
			}
			got[d.ID] = d
			if d.Queue != "errors" || d.Exchange != "logs" || d.Seq == 0 || d.Redelivered || d.Headers == nil {
				t.Fatalf("delivery %+v", d)
			}
		}
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if want := []string{"b-0", "b-1", "b-2", "b-3", "b-4", "bin", "m1"}; !slices.Equal(ids, want) {
			t.Fatalf("consumed %v, want %v", ids, want)
		}
		if m := got["m1"]; m.Body != "disk full" || m.Headers["host"] != "web1" || m.RoutingKey != "web.error" || m.BodyEncoding != "" {
			t.Fatalf("m1 = %+v", m)
		}
		if b := got["b-3"]; len(b.Body) != 40 || !strings.HasPrefix(b.Body, "raftmq message 3 ") {
			t.Fatalf("b-3 body %q", b.Body)
		}
		if b := got["bin"]; b.BodyEncoding != "base64" || b.Body != "/wD+eA==" {
			t.Fatalf("bin = %+v", b)
		}
		// Acknowledged: the queue empties.
		waitStatus(t, srv, "errors queue empty", func(st statusJSON) bool {
			q := queueOf(t, st, "errors")
			return q.Messages == 0 && q.Unacked == 0
		})

		// Human-readable consume of one message.
		out = ok(t, srv, "consume", "all", "--count", "1")
		if !strings.Contains(out, "id=m1") || !strings.Contains(out, "disk full") || !strings.Contains(out, `host="web1"`) {
			t.Fatalf("human consume output %q", out)
		}
	})

	t.Run("fewer than count", func(t *testing.T) {
		ok(t, srv, "declare", "queue", "few")
		ok(t, srv, "publish", "", "few", "--body", "one")
		start := time.Now()
		r := cli(t, srv, nil, "consume", "few", "--count", "3", "--timeout", "300ms", "--json")
		if r.code != 0 || len(lines(r.stdout)) != 1 {
			t.Fatalf("consume: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "received 1 of 3") {
			t.Fatalf("stderr %q does not say how many arrived", r.stderr)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("idle timeout not honoured: took %v", time.Since(start))
		}
	})

	t.Run("requeue", func(t *testing.T) {
		ok(t, srv, "declare", "queue", "peek")
		ok(t, srv, "publish", "", "peek", "--count", "3", "--id", "p", "--json")
		out := ok(t, srv, "consume", "peek", "--count", "3", "--requeue", "--json")
		for _, l := range lines(out) {
			if d := decode[deliveryJSON](t, l); d.Redelivered {
				t.Fatalf("first delivery marked redelivered: %+v", d)
			}
		}
		out = ok(t, srv, "consume", "peek", "--count", "3", "--json")
		ls := lines(out)
		if len(ls) != 3 {
			t.Fatalf("second consume got %d messages: %q", len(ls), out)
		}
		for _, l := range ls {
			if d := decode[deliveryJSON](t, l); !d.Redelivered || !strings.HasPrefix(d.ID, "p-") {
				t.Fatalf("requeued message not marked redelivered: %+v", d)
			}
		}
	})

	t.Run("queue arguments", func(t *testing.T) {
		ok(t, srv, "declare", "queue", "small", "--max-length", "2", "--overflow", "reject-publish")
		ok(t, srv, "publish", "", "small", "--body", "1")
		ok(t, srv, "publish", "", "small", "--body", "2")
		r := cli(t, srv, nil, "publish", "", "small", "--body", "3")
		if r.code != 1 {
			t.Fatalf("publish to a full reject-publish queue: exit %d, stderr %q", r.code, r.stderr)
		}
		wantOneLineError(t, r, "rejected")
		// Same name, other arguments.
		r = cli(t, srv, nil, "declare", "queue", "small", "--max-length", "3")
		if r.code != 1 {
			t.Fatalf("redeclare with other arguments: exit %d", r.code)
		}
		wantOneLineError(t, r, "precondition")
		// Purge and delete.
		if out := ok(t, srv, "purge", "small", "--json"); decode[map[string]any](t, out)["purged"] != float64(2) {
			t.Fatalf("purge output %q", out)
		}
		ok(t, srv, "delete", "queue", "small")
		st := decode[statusJSON](t, ok(t, srv, "status", "--json"))
		for _, q := range st.Queues {
			if q.Name == "small" {
				t.Fatalf("deleted queue still listed")
			}
		}
	})

	t.Run("unbind and delete exchange", func(t *testing.T) {
		ok(t, srv, "declare", "exchange", "fx", "--type", "fanout")
		ok(t, srv, "declare", "queue", "fq")
		ok(t, srv, "bind", "fq", "fx")
		if c := decode[confirmJSON](t, ok(t, srv, "publish", "fx", "", "--body", "a", "--json")); c.Queues != 1 {
			t.Fatalf("bound publish %+v", c)
		}
		ok(t, srv, "unbind", "fq", "fx")
		if c := decode[confirmJSON](t, ok(t, srv, "publish", "fx", "", "--body", "a", "--json")); c.Status != "dropped" {
			t.Fatalf("unbound publish %+v", c)
		}
		ok(t, srv, "delete", "exchange", "fx")
		r := cli(t, srv, nil, "publish", "fx", "", "--body", "a")
		if r.code != 1 {
			t.Fatalf("publish to deleted exchange: exit %d", r.code)
		}
		wantOneLineError(t, r, "not found")
	})

	t.Run("not found", func(t *testing.T) {
		for _, args := range [][]string{
			{"consume", "nosuch", "--count", "1"},
			{"purge", "nosuch"},
			{"bind", "nosuch", "amq.nosuch"},
			{"publish", "nosuch", "k", "--body", "x"},
			{"cluster", "remove", "nosuch-node"},
		} {
			r := cli(t, srv, nil, args...)
			if r.code != 1 {
				t.Fatalf("raftmq %q: exit %d, want 1 (stderr %q)", args, r.code, r.stderr)
			}
			wantOneLineError(t, r, "not found", "nosuch")
		}
	})

	t.Run("body file", func(t *testing.T) {
		ok(t, srv, "declare", "queue", "files")
		path := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(path, []byte("from a file"), 0o600); err != nil {
			t.Fatal(err)
		}
		ok(t, srv, "publish", "", "files", "--body-file", path)
		d := decode[deliveryJSON](t, ok(t, srv, "consume", "files", "--count", "1", "--json"))
		if d.Body != "from a file" {
			t.Fatalf("body %q", d.Body)
		}
	})
}

func TestThreeNodes(t *testing.T) {
	cl := testcluster.Start(t, 3)
	leader := cl.LeaderIndex()
	follower := cl.ClientAddr((leader + 1) % 3)

	// Any node will do: the client follows the leader.
	st := decode[statusJSON](t, ok(t, follower, "status", "--json"))
	if len(st.Members) != 3 || st.LeaderID == "" || st.LeaderAddr != cl.ClientAddr(leader) {
		t.Fatalf("status %+v", st)
	}
	leaders := 0
	for _, m := range st.Members {
		if m.Leader {
			leaders++
			if m.ID != st.LeaderID {
				t.Fatalf("leader member %q, status says %q", m.ID, st.LeaderID)
			}
		}
		if !m.Voter || !m.Alive || m.ClientAddr == "" || m.RaftAddr == "" {
			t.Fatalf("member %+v", m)
		}
	}
	if leaders != 1 || st.CommitIndex == 0 || st.AppliedIndex == 0 || st.Term == 0 {
		t.Fatalf("status %+v", st)
	}

	human := ok(t, follower, "status")
	for _, want := range []string{"NODE", "ROLE", "SUFFRAGE", "leader", "follower", "voter", "no queues", st.LeaderID} {
		if !strings.Contains(human, want) {
			t.Fatalf("status output lacks %q:\n%s", want, human)
		}
	}

	ok(t, follower, "declare", "queue", "q3")
	all := strings.Join(cl.ClientAddrs(), ",")
	sum := decode[publishSummary](t, ok(t, all, "publish", "", "q3", "--count", "300", "--id", "t", "--json"))
	if sum.Confirmed != 300 || sum.Routed != 300 {
		t.Fatalf("summary %+v", sum)
	}
	human = ok(t, all, "status")
	if !strings.Contains(human, "QUEUE") || !strings.Contains(human, "q3") || !strings.Contains(human, "300") {
		t.Fatalf("status lacks the queue:\n%s", human)
	}

	// Kill the leader: the next publish run finds the new one, and the
	// queue holds each message once.
	cl.Kill(leader)
	sum = decode[publishSummary](t, ok(t, all, "publish", "", "q3", "--count", "300", "--id", "u", "--json"))
	if sum.Confirmed != 300 {
		t.Fatalf("summary after failover %+v", sum)
	}
	out := ok(t, all, "consume", "q3", "--count", "600", "--json", "--prefetch", "200")
	seen := map[string]bool{}
	for _, l := range lines(out) {
		d := decode[deliveryJSON](t, l)
		if seen[d.ID] {
			t.Fatalf("%s consumed twice", d.ID)
		}
		seen[d.ID] = true
	}
	if len(seen) != 600 {
		t.Fatalf("consumed %d distinct messages, want 600", len(seen))
	}
}

func TestUsageErrors(t *testing.T) {
	// None of these reaches a server: the address is never dialled.
	const nowhere = "127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"bogus"}, "unknown command"},
		{[]string{"declare"}, "declare"},
		{[]string{"declare", "thing", "x"}, "unknown kind"},
		{[]string{"declare", "queue"}, "missing arguments"},
		{[]string{"declare", "queue", "a", "b"}, "unexpected arguments"},
		{[]string{"declare", "queue", "q", "--max-length", "abc"}, "max-length"},
		{[]string{"declare", "queue", "q", "--overflow", "nope"}, "overflow"},
		{[]string{"declare", "exchange", "x", "--type", "weird"}, "type"},
		{[]string{"bind", "q"}, "missing arguments"},
		{[]string{"bind", "q", "x", "--match", "some"}, "match"},
		{[]string{"publish", "x"}, "missing arguments"},
		{[]string{"publish", "x", "k", "--body", "a", "--body-file", "f"}, "not both"},
		{[]string{"publish", "x", "k", "--header", "novalue", "--body", "a"}, "key=value"},
		{[]string{"publish", "x", "k", "--count", "-1"}, "negative"},
		{[]string{"publish", "x", "k", "--size", "10", "--body", "a", "--count", "2"}, "--size"},
		{[]string{"publish", "x", "k"}, "no body"},
		{[]string{"consume", "q", "--count", "-1"}, "negative"},
		{[]string{"consume", "q", "--prefetch", "0"}, "prefetch"},
		{[]string{"consume", "q", "--unknown"}, "not defined"},
		{[]string{"delete", "thing", "x"}, "unknown kind"},
		{[]string{"purge"}, "missing arguments"},
		{[]string{"cluster"}, "cluster"},
		{[]string{"cluster", "add", "n1"}, "unknown subcommand"},
		{[]string{"--timeout", "xyz", "status"}, "timeout"},
		{[]string{"--servers", " , ", "status"}, "servers"},
	} {
		var out, errOut bytes.Buffer
		args := tc.args
		if len(args) == 0 || args[0] != "--servers" {
			args = append([]string{"--servers", nowhere}, args...)
		}
		code := run(args, nil, &out, &errOut)
		if code != 2 {
			t.Errorf("raftmq %q: exit %d, want 2 (stderr %q)", tc.args, code, errOut.String())
			continue
		}
		r := result{code, out.String(), errOut.String()}
		wantOneLineError(t, r, tc.want)
		if r.stdout != "" {
			t.Errorf("raftmq %q: stdout %q, want none", tc.args, r.stdout)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"help"}, {"status", "-h"}, {"declare", "-h"}, {"declare", "exchange", "-h"},
		{"declare", "queue", "-h"}, {"bind", "-h"}, {"unbind", "-h"}, {"delete", "-h"},
		{"delete", "queue", "-h"}, {"delete", "exchange", "-h"}, {"purge", "-h"},
		{"publish", "-h"}, {"consume", "-h"}, {"cluster", "-h"}, {"cluster", "remove", "-h"},
		{"help", "consume"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != 0 {
			t.Errorf("raftmq %q: exit %d, stderr %q", args, code, errOut.String())
			continue
		}
		if !strings.Contains(out.String(), "Usage: raftmq") || !strings.Contains(out.String(), "Example:") || !strings.Contains(out.String(), "  raftmq ") {
			t.Errorf("raftmq %q: help lacks usage or example:\n%s", args, out.String())
		}
	}
}

func TestUnreachable(t *testing.T) {
	start := time.Now()
	var out, errOut bytes.Buffer
	code := run([]string{"--servers", "127.0.0.1:1", "--timeout", "500ms", "status"}, nil, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	wantOneLineError(t, result{code, out.String(), errOut.String()}, "127.0.0.1:1")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("--timeout 500ms took %v", d)
	}
}

func TestServersFromEnvironment(t *testing.T) {
	old := getenv
	t.Cleanup(func() { getenv = old })
	getenv = func(k string) string {
		if k == "RAFTMQ_SERVERS" {
			return "127.0.0.1:2, 127.0.0.1:3"
		}
		return ""
	}
	e := &env{ctx: t.Context(), stdout: io.Discard, stderr: io.Discard}
	if err := e.dispatch([]string{"--timeout", "1ms", "status"}); err == nil {
		t.Fatal("status against nothing succeeded")
	}
	seeds, err := e.seeds()
	if err != nil || !slices.Equal(seeds, []string{"127.0.0.1:2", "127.0.0.1:3"}) {
		t.Fatalf("seeds %v, %v", seeds, err)
	}
	// The command line wins.
	e = &env{ctx: t.Context(), stdout: io.Discard, stderr: io.Discard}
	_ = e.dispatch([]string{"--timeout", "1ms", "status", "--servers", "127.0.0.1:4"})
	if seeds, _ := e.seeds(); !slices.Equal(seeds, []string{"127.0.0.1:4"}) {
		t.Fatalf("seeds %v, want the --servers flag", seeds)
	}
}

func TestParseAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		pos       []string
		key, json bool
	}{
		{[]string{"q", "x", "--key", "k"}, []string{"q", "x"}, true, false},
		{[]string{"--key", "k", "q", "x"}, []string{"q", "x"}, true, false},
		{[]string{"q", "--json", "x", "--key=k"}, []string{"q", "x"}, true, true},
		{[]string{"q", "--", "--key", "x"}, []string{"q", "--key", "x"}, false, false},
	} {
		e := &env{stdout: io.Discard}
		fs := e.flagSet("bind", true)
		key := fs.String("key", "", "")
		pos, err := e.parse(fs, spec{min: 0, max: -1}, tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(pos, tc.pos) || (*key == "k") != tc.key || e.g.json != tc.json {
			t.Fatalf("%q: positional %q, key %q, json %v", tc.args, pos, *key, e.g.json)
		}
	}
}

func TestGeneratedBody(t *testing.T) {
	for _, size := range []int{0, 1, 10, 17, 64, 1000} {
		for _, i := range []int{0, 7, 123456} {
			b := generatedBody(i, size)
			if len(b) != size {
				t.Fatalf("generatedBody(%d, %d) has %d bytes", i, size, len(b))
			}
			if want := fmt.Sprintf("raftmq message %d ", i); size >= len(want) && !strings.HasPrefix(string(b), want) {
				t.Fatalf("generatedBody(%d, %d) = %q", i, size, b)
			}
		}
	}
}

func TestEncodeBody(t *testing.T) {
	if s, enc := encodeBody([]byte("héllo")); s != "héllo" || enc != "" {
		t.Fatalf("text body: %q %q", s, enc)
	}
	if s, enc := encodeBody([]byte{0xc3}); s != "ww==" || enc != "base64" {
		t.Fatalf("binary body: %q %q", s, enc)
	}
	if s := oneLine("a\nb\r\nc\n"); s != "a; b; c" {
		t.Fatalf("oneLine = %q", s)
	}
}
