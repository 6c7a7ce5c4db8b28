// Command tailcheck tells which of a W2 run's slow publishes happened while
// a node's Raft log write was slow too. It reads the publishes from
// `raftmq bench --workload w2 --latency-log FILE` and the slow log writes
// from the nodes' logs (text format, -log-level debug: every write over 1 ms
// is logged with its start), and counts the slow publishes by how many nodes
// had a slow write overlapping them, with the leader apart when -leader is
// given. A slow publish that overlaps no slow write spent its time elsewhere
// than in the disk: replication, scheduling, the client.
//
//	NODE_ARGS="-log-level debug" scripts/local-cluster.sh start
//	bin/raftmq bench --servers "$(scripts/local-cluster.sh servers)" --workload w2 --latency-log /tmp/w2.lat
//	go run ./scripts/tailcheck -slow 1.5ms -leader n1 /tmp/w2.lat /tmp/raftmq-local/n*.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type span struct{ from, to int64 } // unix ns

func (a span) overlaps(b span) bool { return a.from < b.to && b.from < a.to }

func main() {
	slow := flag.Duration("slow", 1500*time.Microsecond, "a publish slower than this is slow")
	leader := flag.String("leader", "", "the leader's node ID (the log file's name without .log), to count it apart")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tailcheck [-slow 1.5ms] [-leader nX] LATENCY_LOG NODE_LOG...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	pubs, total, err := readPublishes(flag.Arg(0), *slow)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tailcheck:", err)
		os.Exit(1)
	}
	writes := map[string][]span{}
	for _, path := range flag.Args()[1:] {
		node := strings.TrimSuffix(filepath.Base(path), ".log")
		if writes[node], err = readSlowWrites(path); err != nil {
			fmt.Fprintln(os.Stderr, "tailcheck:", err)
			os.Exit(1)
		}
	}
	if total == 0 {
		fmt.Println("no publishes")
		return
	}
	fmt.Printf("%d publishes, %d (%.2f%%) slower than %v\n", total, len(pubs), 100*float64(len(pubs))/float64(total), *slow)
	nodes := make([]string, 0, len(writes))
	for n := range writes {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		fmt.Printf("  %s: %d log writes over 1 ms\n", n, len(writes[n]))
	}
	byCount := map[string]int{}
	for _, p := range pubs {
		k, leaderSlow := 0, false
		for n, ws := range writes {
			for _, w := range ws {
				if w.overlaps(p) {
					if n == *leader {
						leaderSlow = true
					} else {
						k++
					}
					break
				}
			}
		}
		key := fmt.Sprintf("%d nodes", k)
		if *leader != "" {
			key = fmt.Sprintf("leader %-5v followers %d", leaderSlow, k)
		}
		byCount[key]++
	}
	keys := make([]string, 0, len(byCount))
	for k := range byCount {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("slow publishes by the nodes with a slow log write at the same time:")
	for _, k := range keys {
		fmt.Printf("  %-30s %5d  %5.1f%%\n", k, byCount[k], 100*float64(byCount[k])/float64(len(pubs)))
	}
}

// readPublishes returns the publishes slower than slow, and how many there
// were in all (failed ones, latency -1, are left out of both).
func readPublishes(path string, slow time.Duration) ([]span, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var out []span
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var start, d int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &start, &d); err != nil {
			return nil, 0, fmt.Errorf("%s: line %q: %w", path, sc.Text(), err)
		}
		if d < 0 {
			continue
		}
		n++
		if d > int64(slow) {
			out = append(out, span{start, start + d})
		}
	}
	return out, n, sc.Err()
}

// readSlowWrites returns the slow log writes a node logged.
func readSlowWrites(path string) ([]span, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []span
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="slow log write"`) && !strings.Contains(line, "disk is stalling") {
			continue
		}
		var started time.Time
		var took time.Duration
		for _, field := range strings.Fields(line) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "started":
				if started, err = time.Parse(time.RFC3339Nano, v); err != nil {
					return nil, fmt.Errorf("%s: %q: %w", path, line, err)
				}
			case "took":
				if took, err = time.ParseDuration(v); err != nil {
					return nil, fmt.Errorf("%s: %q: %w", path, line, err)
				}
			}
		}
		if !started.IsZero() && took > 0 {
			out = append(out, span{started.UnixNano(), started.UnixNano() + int64(took)})
		}
	}
	return out, sc.Err()
}
