package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/raftmq/raftmq/client"
)

// withClient runs f with a client connected to the leader, all within the
// command's --timeout.
func (e *env) withClient(f func(ctx context.Context, c *client.Client) error) error {
	ctx, cancel := e.withTimeout(e.g.timeout)
	defer cancel()
	c, err := e.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(ctx, c)
}

// done reports a change that prints no data: a line of text, or with --json
// an object.
func (e *env) done(text string, obj map[string]any) error {
	if e.g.json {
		return writeJSON(e.stdout, obj)
	}
	_, err := fmt.Fprintln(e.stdout, text)
	return err
}

func cmdDeclare(e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "exchange":
			return declareExchange(e, args[1:])
		case "queue":
			return declareQueue(e, args[1:])
		case "-h", "-help", "--help":
			fmt.Fprint(e.stdout, "Usage: raftmq declare exchange|queue NAME [FLAGS]\n\n"+
				"Run \"raftmq declare exchange -h\" or \"raftmq declare queue -h\" for the flags.\n\n"+
				"Example:\n  raftmq declare exchange logs --type topic\n  raftmq declare queue errors --max-length 1000\n")
			return flag.ErrHelp
		}
		return usagef("declare: unknown kind %q: want exchange or queue", args[0])
	}
	return usagef("declare: usage: raftmq declare exchange|queue NAME [FLAGS]")
}

func declareExchange(e *env, args []string) error {
	sp := spec{
		usage: "declare exchange NAME [--type direct|fanout|topic|headers] [--alternate-exchange X]",
		about: "Declares an exchange. Declaring an existing exchange with the same type and\noptions does nothing; with others it fails (precondition failed).",
		example: "  raftmq declare exchange logs --type topic\n" +
			"  raftmq declare exchange events --type fanout --alternate-exchange unrouted",
		min: 1, max: 1,
	}
	fs := e.flagSet("declare exchange", true)
	kind := fs.String("type", "direct", "direct, fanout, topic or headers")
	alt := fs.String("alternate-exchange", "", "exchange that receives messages routed nowhere")
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	k := client.ExchangeKind(*kind)
	switch k {
	case client.Direct, client.Fanout, client.Topic, client.Headers:
	default:
		return usagef("declare exchange: --type %q: want direct, fanout, topic or headers", *kind)
	}
	var opts []client.ExchangeOption
	if *alt != "" {
		opts = append(opts, client.WithAlternateExchange(*alt))
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		if err := c.DeclareExchange(ctx, pos[0], k, opts...); err != nil {
			return err
		}
		return e.done(fmt.Sprintf("declared %s exchange %q", k, pos[0]),
			map[string]any{"declared": "exchange", "name": pos[0], "type": string(k)})
	})
}

func declareQueue(e *env, args []string) error {
	sp := spec{
		usage: "declare queue NAME [--max-length N] [--max-length-bytes B] [--overflow drop-head|reject-publish]\n" +
			"       [--message-ttl DURATION] [--dead-letter-exchange X] [--dead-letter-routing-key K] [--delivery-limit N]",
		about: "Declares a queue. Its arguments are fixed: declaring it again with other\narguments fails (precondition failed). Zero means no limit.",
		example: "  raftmq declare queue orders --max-length 10000 --overflow reject-publish\n" +
			"  raftmq declare queue jobs --message-ttl 1m --dead-letter-exchange dlx --delivery-limit 5",
		min: 1, max: 1,
	}
	fs := e.flagSet("declare queue", true)
	var a client.QueueArgs
	fs.Int64Var(&a.MaxLength, "max-length", 0, "most ready messages the queue holds")
	fs.Int64Var(&a.MaxLengthBytes, "max-length-bytes", 0, "most body bytes of ready messages")
	overflow := fs.String("overflow", string(client.DropHead), "at a limit: drop-head (drop or dead-letter the oldest) or reject-publish")
	fs.DurationVar(&a.MessageTTL, "message-ttl", 0, "how long a message may wait, e.g. 30s (millisecond precision)")
	fs.StringVar(&a.DeadLetterExchange, "dead-letter-exchange", "", "exchange that receives expired, dropped and rejected messages")
	fs.StringVar(&a.DeadLetterRoutingKey, "dead-letter-routing-key", "", "routing key of dead-lettered messages (default: keep theirs)")
	fs.Int64Var(&a.DeliveryLimit, "delivery-limit", 0, "deliveries before a message is dead-lettered or dropped")
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	switch o := client.Overflow(*overflow); o {
	case client.DropHead, client.RejectPublish:
		a.Overflow = o
	default:
		return usagef("declare queue: --overflow %q: want drop-head or reject-publish", *overflow)
	}
	if a.MaxLength < 0 || a.MaxLengthBytes < 0 || a.DeliveryLimit < 0 || a.MessageTTL < 0 {
		return usagef("declare queue: limits must not be negative")
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		if err := c.DeclareQueue(ctx, pos[0], a); err != nil {
			return err
		}
		return e.done(fmt.Sprintf("declared queue %q", pos[0]), map[string]any{"declared": "queue", "name": pos[0]})
	})
}

func cmdBind(e *env, args []string) error   { return bindCmd(e, args, true) }
func cmdUnbind(e *env, args []string) error { return bindCmd(e, args, false) }

func bindCmd(e *env, args []string, bind bool) error {
	name := "bind"
	about := "Binds DEST (a queue, or with --to-exchange an exchange) to SOURCE_EXCHANGE.\nBinding twice is harmless."
	example := "  raftmq bind errors logs --key '*.error'\n" +
		"  raftmq bind audit events --header type=order --header region=eu --match any\n" +
		"  raftmq bind archive logs --to-exchange --key '#'"
	if !bind {
		name = "unbind"
		about = "Removes the binding of DEST to SOURCE_EXCHANGE given by the same arguments\nas bind."
		example = "  raftmq unbind errors logs --key '*.error'"
	}
	sp := spec{
		usage:   name + " DEST SOURCE_EXCHANGE [--key K] [--header k=v ...] [--match all|any|all-with-x|any-with-x] [--to-exchange]",
		about:   about,
		example: example,
		min:     2, max: 2,
	}
	fs := e.flagSet(name, true)
	key := fs.String("key", "", "binding key (a pattern for topic exchanges)")
	headers := kvFlag{}
	fs.Var(headers, "header", "header a headers exchange matches, k=v (repeatable; k= matches on presence)")
	match := fs.String("match", "", "headers exchanges: all (default), any, all-with-x or any-with-x")
	toExchange := fs.Bool("to-exchange", false, "DEST is an exchange, not a queue")
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	switch *match {
	case "", "all", "any", "all-with-x", "any-with-x":
	default:
		return usagef("%s: --match %q: want all, any, all-with-x or any-with-x", name, *match)
	}
	b := client.Binding{Dest: pos[0], Source: pos[1], ToExchange: *toExchange, Key: *key, Headers: headers.orNil(), Match: *match}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		op, verb := c.Bind, "bound"
		if !bind {
			op, verb = c.Unbind, "unbound"
		}
		if err := op(ctx, b); err != nil {
			return err
		}
		kind := "queue"
		if b.ToExchange {
			kind = "exchange"
		}
		return e.done(fmt.Sprintf("%s %s %q to exchange %q with key %q", verb, kind, b.Dest, b.Source, b.Key),
			map[string]any{verb: true, "dest": b.Dest, "source": b.Source, "to_exchange": b.ToExchange, "key": b.Key})
	})
}

func cmdDelete(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("delete: usage: raftmq delete exchange|queue NAME")
	}
	kind := args[0]
	switch kind {
	case "exchange", "queue":
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, "Usage: raftmq delete exchange|queue NAME\n\nExample:\n  raftmq delete queue orders\n")
		return flag.ErrHelp
	default:
		return usagef("delete: unknown kind %q: want exchange or queue", kind)
	}
	about := "Deletes the exchange and its bindings."
	if kind == "queue" {
		about = "Deletes the queue with its messages and bindings; its consumers are cancelled."
	}
	sp := spec{
		usage:   "delete " + kind + " NAME",
		about:   about,
		example: "  raftmq delete " + kind + " old-" + kind,
		min:     1, max: 1,
	}
	fs := e.flagSet("delete "+kind, true)
	pos, err := e.parse(fs, sp, args[1:])
	if err != nil {
		return err
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		if kind == "exchange" {
			if err := c.DeleteExchange(ctx, pos[0]); err != nil {
				return err
			}
			return e.done(fmt.Sprintf("deleted exchange %q", pos[0]), map[string]any{"deleted": "exchange", "name": pos[0]})
		}
		n, err := c.DeleteQueue(ctx, pos[0])
		if err != nil {
			return err
		}
		return e.done(fmt.Sprintf("deleted queue %q with %d messages", pos[0], n),
			map[string]any{"deleted": "queue", "name": pos[0], "messages": n})
	})
}

func cmdPurge(e *env, args []string) error {
	sp := spec{
		usage:   "purge QUEUE",
		about:   "Removes a queue's ready messages (not those held by consumers).",
		example: "  raftmq purge orders",
		min:     1, max: 1,
	}
	fs := e.flagSet("purge", true)
	pos, err := e.parse(fs, sp, args)
	if err != nil {
		return err
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		n, err := c.PurgeQueue(ctx, pos[0])
		if err != nil {
			return err
		}
		return e.done(fmt.Sprintf("purged %d messages from queue %q", n, pos[0]),
			map[string]any{"purged": n, "queue": pos[0]})
	})
}

func cmdCluster(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("cluster: usage: raftmq cluster remove NODE_ID")
	}
	switch args[0] {
	case "remove":
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, "Usage: raftmq cluster remove NODE_ID\n\nExample:\n  raftmq cluster remove n3\n")
		return flag.ErrHelp
	default:
		return usagef("cluster: unknown subcommand %q: want remove", args[0])
	}
	sp := spec{
		usage: "cluster remove NODE_ID",
		about: "Removes a dead or retired node from the Raft configuration for good. A node\n" +
			"is never removed because gossip thinks it is dead: this is how an operator\nscales the cluster down. The node must not come back with its old data.",
		example: "  raftmq status            # find the node's ID\n  raftmq cluster remove n3",
		min:     1, max: 1,
	}
	fs := e.flagSet("cluster remove", true)
	pos, err := e.parse(fs, sp, args[1:])
	if err != nil {
		return err
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		if err := c.RemoveNode(ctx, pos[0]); err != nil {
			return err
		}
		return e.done(fmt.Sprintf("removed node %q from the cluster", pos[0]), map[string]any{"removed": pos[0]})
	})
}

// statusJSON is status's --json output.
type statusJSON struct {
	NodeID       string       `json:"node_id"`
	State        string       `json:"state"`
	LeaderID     string       `json:"leader_id"`
	LeaderAddr   string       `json:"leader_addr"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commit_index"`
	AppliedIndex uint64       `json:"applied_index"`
	LastLogIndex uint64       `json:"last_log_index"`
	Members      []memberJSON `json:"members"`
	Queues       []queueJSON  `json:"queues"`
}

type memberJSON struct {
	ID         string `json:"id"`
	Leader     bool   `json:"leader"`
	Voter      bool   `json:"voter"`
	Suffrage   string `json:"suffrage"`
	Alive      bool   `json:"alive"`
	ClientAddr string `json:"client_addr"`
	RaftAddr   string `json:"raft_addr"`
	HTTPAddr   string `json:"http_addr"`
}

type queueJSON struct {
	Name      string `json:"name"`
	Messages  int64  `json:"messages"`
	Ready     int64  `json:"ready"`
	Unacked   int64  `json:"unacked"`
	Bytes     int64  `json:"bytes"`
	Consumers int    `json:"consumers"`
}

func cmdStatus(e *env, args []string) error {
	sp := spec{
		usage: "status",
		about: "Shows the cluster's members (role, suffrage, alive, addresses), the leader,\n" +
			"the Raft term and the commit and applied indexes of the answering node, and\nevery queue with its depth and unacknowledged count.",
		example: "  raftmq status\n  raftmq --servers 127.0.0.1:6570,127.0.0.1:6670 status --json\n" +
			"  raftmq status --node 127.0.0.1:6670   # that node's own view, even without a leader",
		min: 0, max: 0,
	}
	fs := e.flagSet("status", true)
	node := fs.String("node", "", "ask only this node (client address) for its own view; works without a leader and lists no queues")
	if _, err := e.parse(fs, sp, args); err != nil {
		return err
	}
	if *node != "" {
		ctx, cancel := e.withTimeout(e.g.timeout)
		defer cancel()
		st, err := client.NodeStatus(ctx, *node)
		if err != nil {
			return err
		}
		out := statusOf(st)
		if e.g.json {
			return writeJSON(e.stdout, out)
		}
		return writeStatus(e, out)
	}
	return e.withClient(func(ctx context.Context, c *client.Client) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		qs, err := c.ListQueues(ctx)
		if err != nil {
			return err
		}
		out := statusOf(st)
		for _, q := range qs {
			out.Queues = append(out.Queues, queueJSON{
				Name: q.Name, Messages: q.Messages, Ready: q.Ready, Unacked: q.Unacked, Bytes: q.Bytes, Consumers: q.Consumers,
			})
		}
		if e.g.json {
			return writeJSON(e.stdout, out)
		}
		return writeStatus(e, out)
	})
}

// statusOf converts the client's status into the printed form, without
// queues.
func statusOf(st client.Status) statusJSON {
	out := statusJSON{
		NodeID: st.NodeID, State: st.State, LeaderID: st.LeaderID, LeaderAddr: st.LeaderAddr,
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, LastLogIndex: st.LastLogIndex,
		Members: []memberJSON{}, Queues: []queueJSON{},
	}
	for _, m := range st.Members {
		out.Members = append(out.Members, memberJSON{
			ID: m.ID, Leader: m.Leader, Voter: m.Voter, Suffrage: m.Suffrage, Alive: m.Alive,
			ClientAddr: m.ClientAddr, RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr,
		})
	}
	return out
}

func writeStatus(e *env, s statusJSON) error {
	leader := "none"
	if s.LeaderID != "" {
		leader = fmt.Sprintf("%s (%s)", s.LeaderID, s.LeaderAddr)
	}
	fmt.Fprintf(e.stdout, "leader: %s  term: %d  commit index: %d  applied index: %d  (as node %s sees it, %s)\n\n",
		leader, s.Term, s.CommitIndex, s.AppliedIndex, s.NodeID, s.State)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tSUFFRAGE\tALIVE\tCLIENT\tRAFT\tHTTP")
	for _, m := range s.Members {
		role := "follower"
		if m.Leader {
			role = "leader"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, role, dash(m.Suffrage), yesNo(m.Alive),
			dash(m.ClientAddr), dash(m.RaftAddr), dash(m.HTTPAddr))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	if len(s.Queues) == 0 {
		_, err := fmt.Fprintln(e.stdout, "no queues")
		return err
	}
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tMESSAGES\tREADY\tUNACKED\tBYTES\tCONSUMERS")
	for _, q := range s.Queues {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", q.Name, q.Messages, q.Ready, q.Unacked, q.Bytes, q.Consumers)
	}
	return tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
