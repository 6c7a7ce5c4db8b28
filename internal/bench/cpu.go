package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// clkTck is USER_HZ, the unit of /proc/<pid>/stat times on Linux.
const clkTck = 100

// errNoPID: a node's process ID is not known.
var errNoPID = errors.New("node pid unknown")

// procCPU returns the user + system CPU seconds of pid from
// /proc/<pid>/stat.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu of pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state); utime is 14, stime 15
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of pid %d: malformed stat", pid)
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	return (u + s) / clkTck, nil
}

// selfCPU returns this process's user + system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// nodePIDs finds the process of every node: from --pids (one per server,
// in --servers order, or ID=PID pairs), else from the PID files
// "<dir>/<node ID>.pid" that scripts/local-cluster.sh writes. A PID whose
// process does not exist, or whose command line does not mention the node
// ID, is refused: a stale PID file must not make the bench measure, or
// kill, an unrelated process.
func nodePIDs(pidsFlag, pidDir string, ids []string) ([]int, error) {
	pids := make([]int, len(ids))
	if pidsFlag != "" {
		parts := strings.Split(pidsFlag, ",")
		byID := map[string]int{}
		var plain []int
		for _, p := range parts {
			p = strings.TrimSpace(p)
			k, v, kv := strings.Cut(p, "=")
			if !kv {
				v = k
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("--pids: %q is not a process ID: %w", p, errNoPID)
			}
			if kv {
				byID[k] = n
			} else {
				plain = append(plain, n)
			}
		}
		for i, id := range ids {
			switch {
			case byID[id] > 0:
				pids[i] = byID[id]
			case len(plain) == len(ids):
				pids[i] = plain[i]
			default:
				return nil, fmt.Errorf("--pids: no process ID for node %s: %w", id, errNoPID)
			}
		}
	} else {
		if pidDir == "" {
			return nil, fmt.Errorf("no --pids and no PID directory: %w", errNoPID)
		}
		for i, id := range ids {
			b, err := os.ReadFile(filepath.Join(pidDir, id+".pid"))
			if err != nil {
				return nil, fmt.Errorf("pid of node %s: %w: %w", id, err, errNoPID)
			}
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("pid of node %s: bad PID file: %w", id, errNoPID)
			}
			pids[i] = n
		}
	}
	for i, pid := range pids {
		cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			return nil, fmt.Errorf("pid %d of node %s: %w: %w", pid, ids[i], err, errNoPID)
		}
		if pidsFlag == "" && !bytes.Contains(cmd, []byte(ids[i])) {
			return nil, fmt.Errorf("pid %d is not node %s (stale PID file?): %w", pid, ids[i], errNoPID)
		}
	}
	return pids, nil
}

// cpuSum returns the CPU seconds of pids together.
func cpuSum(pids []int) (float64, error) {
	var t float64
	for _, p := range pids {
		c, err := procCPU(p)
		if err != nil {
			return 0, err
		}
		t += c
	}
	return t, nil
}

// procRSS returns the resident set size of pid in bytes, from
// /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("rss of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("rss of pid %d: %w", pid, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("rss of pid %d: no VmRSS line", pid)
}
