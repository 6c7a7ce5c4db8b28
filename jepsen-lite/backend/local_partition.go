package backend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// localIPs are the loopback addresses of the local nodes n1, n2, n3. Linux
// routes all of 127.0.0.0/8 to lo, so they need no setup.
var localIPs = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

// LocalChainPrefix begins the name of the host iptables chain that holds a
// local run's partitions. The name ends in a random suffix (Local.Chain), so
// that runs side by side each flush and delete only their own chain.
const LocalChainPrefix = "RAFTMQ-JEPSEN-LOCAL"

// CheckLocalPartitions reports whether the local backend can partition on
// this host: it must run as root and `iptables -S` must succeed. Otherwise
// the error wraps ErrUnsupported and names what is missing.
func CheckLocalPartitions(ctx context.Context) error {
	var missing []string
	if uid := os.Geteuid(); uid != 0 {
		missing = append(missing, fmt.Sprintf("root (running as uid %d)", uid))
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		missing = append(missing, "iptables (not found in PATH)")
	} else if _, err := hostIPTables(ctx, "-S"); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("local backend: check iptables: %w", ctx.Err())
		}
		missing = append(missing, fmt.Sprintf("a working iptables (%v)", err))
	}
	if len(missing) > 0 {
		return fmt.Errorf("local backend: partitions need %s: %w", strings.Join(missing, " and "), ErrUnsupported)
	}
	return nil
}

// hostIPTables runs iptables on the host, waiting up to five seconds for the
// xtables lock.
func hostIPTables(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "iptables", append([]string{"-w", "5"}, args...)...)
}

// localPartitions is the local backend's partition state.
type localPartitions struct {
	chain string

	mu      sync.Mutex
	checked bool
	support error         // CheckLocalPartitions' verdict, once checked
	touched bool          // the chain or its jumps may exist
	cut     map[Link]bool // links with rules in the chain
}

func newLocalPartitions() *localPartitions {
	return &localPartitions{
		chain: fmt.Sprintf("%s-%08x", LocalChainPrefix, rand.Uint32()),
		cut:   map[Link]bool{},
	}
}

// jumps are the rules that send loopback traffic through the chain.
func (p *localPartitions) jumps() [][]string {
	return [][]string{
		{"INPUT", "-i", "lo", "-j", p.chain},
		{"OUTPUT", "-o", "lo", "-j", p.chain},
	}
}

// check runs CheckLocalPartitions once; p.mu is held.
func (p *localPartitions) check(ctx context.Context) error {
	if p.checked {
		return p.support
	}
	err := CheckLocalPartitions(ctx)
	if ctx.Err() == nil {
		p.checked, p.support = true, err
	}
	return err
}

// ensureChain creates the chain and the jumps to it, once; p.mu is held.
func (p *localPartitions) ensureChain(ctx context.Context) error {
	p.touched = true
	if _, err := hostIPTables(ctx, "-S", p.chain); err != nil {
		if _, err := hostIPTables(ctx, "-N", p.chain); err != nil {
			return fmt.Errorf("create chain %s: %w", p.chain, err)
		}
	}
	for _, j := range p.jumps() {
		if _, err := hostIPTables(ctx, append([]string{"-C"}, j...)...); err == nil {
			continue
		}
		rule := append([]string{"-I", j[0], "1"}, j[1:]...)
		if _, err := hostIPTables(ctx, rule...); err != nil {
			return fmt.Errorf("jump from %s to %s: %w", j[0], p.chain, err)
		}
	}
	return nil
}

// linkRules are the rules that cut the directed link from -> to: every TCP
// or UDP packet from the sender's address to the receiver's that is either
// bound to one of the receiver's ports (requests, gossip) or sent from one
// of the sender's (replies on connections the receiver opened). Naming the
// run's ports leaves other runs on the same addresses alone.
func linkRules(chain string, l Link, fromIP, toIP string, fromPorts, toPorts [4]int) [][]string {
	list := func(ports [4]int) string {
		s := make([]string, len(ports))
		for i, p := range ports {
			s[i] = strconv.Itoa(p)
		}
		return strings.Join(s, ",")
	}
	var rules [][]string
	for _, proto := range []string{"tcp", "udp"} {
		for _, m := range [][2]string{{"--dports", list(toPorts)}, {"--sports", list(fromPorts)}} {
			rules = append(rules, []string{"-A", chain, "-s", fromIP, "-d", toIP, "-p", proto,
				"-m", "multiport", m[0], m[1], "-m", "comment", "--comment", "raftmq-jepsen " + l.String(), "-j", "DROP"})
		}
	}
	return rules
}

// Chain returns the name of the host iptables chain of this backend's
// partitions. It exists from the first partition until Stop.
func (l *Local) Chain() string { return l.part.chain }

// Partition drops the packets of each directed link, in addition to the
// links already cut, with rules in the backend's own chain. Called with no
// links, it only checks that partitions are possible. It fails with
// ErrUnsupported when the process is not root or iptables is unusable.
func (l *Local) Partition(ctx context.Context, cuts []Link) error {
	p := l.part
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check(ctx); err != nil {
		return err
	}
	if len(cuts) == 0 {
		return nil
	}
	l.mu.Lock()
	ports := l.ports
	l.mu.Unlock()
	if ports == nil {
		return errors.New("local backend: partition before Start")
	}
	type idx struct{ from, to int }
	links := make([]idx, len(cuts))
	for i, c := range cuts {
		fi, err := indexOf(l.nodes, c.From)
		if err != nil {
			return fmt.Errorf("partition %s: %w", c, err)
		}
		ti, err := indexOf(l.nodes, c.To)
		if err != nil {
			return fmt.Errorf("partition %s: %w", c, err)
		}
		if fi == ti {
			return fmt.Errorf("partition %s: a node cannot be cut from itself", c)
		}
		links[i] = idx{fi, ti}
	}
	if err := p.ensureChain(ctx); err != nil {
		return fmt.Errorf("local backend: %w", err)
	}
	for i, c := range cuts {
		if p.cut[c] {
			continue
		}
		fi, ti := links[i].from, links[i].to
		for _, rule := range linkRules(p.chain, c, l.ips[fi], l.ips[ti], ports[fi], ports[ti]) {
			if _, err := hostIPTables(ctx, rule...); err != nil {
				return fmt.Errorf("partition %s: %w", c, err)
			}
		}
		p.cut[c] = true
	}
	return nil
}

// Heal restores every link by flushing the chain.
func (l *Local) Heal(ctx context.Context) error {
	p := l.part
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.touched {
		return nil
	}
	if _, err := hostIPTables(ctx, "-F", p.chain); err != nil {
		return fmt.Errorf("local backend: heal: %w", err)
	}
	p.cut = map[Link]bool{}
	return nil
}

// removeChain deletes the jumps to the chain and the chain itself, if a
// partition ever created them.
func (l *Local) removeChain(ctx context.Context) error {
	p := l.part
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.touched {
		return nil
	}
	var errs []error
	for _, j := range p.jumps() {
		// -I only ever added one, but delete every copy there is.
		for range 10 {
			if _, err := hostIPTables(ctx, append([]string{"-C"}, j...)...); err != nil {
				break
			}
			if _, err := hostIPTables(ctx, append([]string{"-D"}, j...)...); err != nil {
				errs = append(errs, fmt.Errorf("remove the jump from %s to %s: %w", j[0], p.chain, err))
				break
			}
		}
	}
	if _, err := hostIPTables(ctx, "-S", p.chain); err == nil {
		if _, err := hostIPTables(ctx, "-F", p.chain); err != nil {
			errs = append(errs, fmt.Errorf("flush chain %s: %w", p.chain, err))
		}
		if _, err := hostIPTables(ctx, "-X", p.chain); err != nil {
			errs = append(errs, fmt.Errorf("delete chain %s: %w", p.chain, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("local backend: %w", errors.Join(errs...))
	}
	p.touched = false
	p.cut = map[Link]bool{}
	return nil
}
