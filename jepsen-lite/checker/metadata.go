package checker

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/raftmq/raftmq/jepsen-lite/history"
)

// MetadataOptions configure the linearizability checker.
type MetadataOptions struct {
	// Timeout bounds Porcupine's search; past it the verdict is unknown.
	// 0 means one minute.
	Timeout time.Duration
	// VisualizePath, when set, is where Porcupine's own HTML visualization
	// of the history and its (partial) linearizations is written.
	VisualizePath string
}

// MetadataResult is the verdict of the linearizability checker.
type MetadataResult struct {
	Valid Validity `json:"valid"`
	// Operations is the number of metadata operations checked; Ok, Failed
	// and Indeterminate split them by outcome.
	Operations    int `json:"operations"`
	Ok            int `json:"ok"`
	Failed        int `json:"failed"`
	Indeterminate int `json:"indeterminate"`
	// Keys is the number of independent keys (queues, bindings).
	Keys int `json:"keys"`
	// Porcupine is Porcupine's answer: Ok, Illegal or Unknown (timeout).
	Porcupine string `json:"porcupine"`
	// Visualization is the path of Porcupine's HTML visualization, if any.
	Visualization string    `json:"visualization,omitempty"`
	Anomalies     []Anomaly `json:"anomalies,omitempty"`
	Notes         []string  `json:"notes,omitempty"`
}

// metaInput is the input of one metadata operation.
type metaInput struct {
	F   string
	Key string // "queue:<name>" or "binding:<queue>/<key>"
	Op  int    // history index of the invocation
}

// metaOutput is what a metadata operation returned.
type metaOutput struct {
	Unknown  bool // info: may or may not have taken effect
	NotFound bool // the broker answered "not found"
	Exists   bool // the answer of a read
}

// MetaKey returns the linearizability key of a metadata operation's value:
// queue operations are keyed by queue name, binding operations by queue and
// binding key.
func MetaKey(f string, v history.Value) string {
	switch f {
	case history.FBind, history.FUnbind, history.FHasBinding:
		return "binding:" + v.Queue + "/" + v.Key
	}
	return "queue:" + v.Queue
}

// metaModel is the sequential specification of one key: does the queue (or
// the binding) exist. Writes of unknown outcome may take effect at any time
// after their invocation, or never: they are given a return time after the
// history's end (Porcupine's convention for crashed operations) and accept
// any output.
var metaModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := make(map[string][]porcupine.Operation)
		for _, op := range h {
			k := op.Input.(metaInput).Key
			by[k] = append(by[k], op)
		}
		keys := make([]string, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return false },
	Step: func(state, input, output any) (bool, any) {
		exists := state.(bool)
		in, out := input.(metaInput), output.(metaOutput)
		switch in.F {
		case history.FDeclareQueue, history.FBind:
			// The topology's exchange and the binding queues never go
			// away, so a bind answered "not found" is never legal.
			return out.Unknown || !out.NotFound, true
		case history.FUnbind:
			// Removing a missing binding succeeds; "not found" would mean
			// the exchange is gone, which the workload never does.
			return out.Unknown || !out.NotFound, false
		case history.FDeleteQueue:
			// A delete answered "not found" on its first attempt proves the
			// queue was absent; a plain ok does not prove it existed, since
			// the client turns "gone" on a retry into success.
			if out.NotFound {
				return !exists, false
			}
			return true, false
		case history.FInspectQueue, history.FHasBinding:
			if out.Unknown {
				return true, exists
			}
			return out.Exists == exists, exists
		}
		return false, exists
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(metaInput), output.(metaOutput)
		res := "ok"
		switch {
		case out.Unknown:
			res = "?"
		case out.NotFound:
			res = "not found"
		case in.F == history.FInspectQueue || in.F == history.FHasBinding:
			res = fmt.Sprint(out.Exists)
		}
		return fmt.Sprintf("%s(%s) -> %s  [entry %d]", in.F, strings.SplitN(in.Key, ":", 2)[1], res, in.Op)
	},
	DescribeState: func(state any) string {
		if state.(bool) {
			return "exists"
		}
		return "absent"
	},
}

// CheckMetadata checks the metadata operations of a history for
// linearizability with Porcupine, per key.
func CheckMetadata(ops []history.Op, opts MetadataOptions) MetadataResult {
	var r MetadataResult
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	pairs, err := history.Pairs(ops)
	if err != nil {
		r.Valid = Invalid
		r.Anomalies = []Anomaly{{Kind: KindMalformed, Detail: err.Error()}}
		return r
	}
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
	}
	keys := make(map[string]bool)
	var hist []porcupine.Operation
	for _, p := range pairs {
		f := p.Invoke.F
		switch f {
		case history.FDeclareQueue, history.FDeleteQueue, history.FInspectQueue,
			history.FBind, history.FUnbind, history.FHasBinding:
		default:
			continue
		}
		r.Operations++
		in := metaInput{F: f, Key: MetaKey(f, p.Invoke.Value), Op: p.Invoke.Index}
		keys[in.Key] = true
		c := p.Completion
		var out metaOutput
		ret := c.Time
		switch c.Type {
		case history.Fail:
			r.Failed++
			continue // no effect: not part of the history to linearize
		case history.Info:
			r.Indeterminate++
			if f == history.FInspectQueue || f == history.FHasBinding {
				continue // a read of unknown outcome constrains nothing
			}
			out.Unknown = true
			ret = end + 1
		default:
			r.Ok++
			out.NotFound = c.Value.NotFound
			if c.Value.Exists != nil {
				out.Exists = *c.Value.Exists
			}
		}
		hist = append(hist, porcupine.Operation{
			ClientId: p.Invoke.Process, Input: in, Call: p.Invoke.Time, Output: out, Return: ret,
		})
	}
	r.Keys = len(keys)
	if len(hist) == 0 {
		r.Valid = Unknown
		r.Porcupine = string(porcupine.Unknown)
		r.Notes = append(r.Notes, "no metadata operation completed")
		return r
	}
	// Porcupine's visualization needs small client IDs: renumber them.
	ids := make(map[int]int)
	for i := range hist {
		id, ok := ids[hist[i].ClientId]
		if !ok {
			id = len(ids)
			ids[hist[i].ClientId] = id
		}
		hist[i].ClientId = id
	}
	res, info := porcupine.CheckOperationsVerbose(metaModel, hist, opts.Timeout)
	r.Porcupine = string(res)
	if opts.VisualizePath != "" {
		if err := porcupine.VisualizePath(metaModel, info, opts.VisualizePath); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("write the visualization: %v", err))
		} else {
			r.Visualization = opts.VisualizePath
		}
	}
	switch res {
	case porcupine.Ok:
		r.Valid = Valid
	case porcupine.Illegal:
		r.Valid = Invalid
		r.Anomalies = illegalKeys(hist, info)
	default:
		r.Valid = Unknown
		r.Notes = append(r.Notes, fmt.Sprintf("Porcupine gave no answer within %s", opts.Timeout))
	}
	return r
}

// illegalKeys names the keys whose operations could not be linearized, with
// the first operation the longest partial linearization could not place.
func illegalKeys(hist []porcupine.Operation, info porcupine.LinearizationInfo) []Anomaly {
	parts := metaModel.Partition(hist)
	partial := info.PartialLinearizationsOperations()
	var out []Anomaly
	for i, part := range parts {
		if i >= len(partial) {
			break
		}
		longest := 0
		placed := make(map[int]bool)
		for _, lin := range partial[i] {
			if len(lin) > longest {
				longest = len(lin)
				placed = make(map[int]bool)
				for _, op := range lin {
					placed[op.Input.(metaInput).Op] = true
				}
			}
		}
		if longest == len(part) {
			continue
		}
		key := part[0].Input.(metaInput).Key
		var stuck []int
		for _, op := range part {
			if in := op.Input.(metaInput); !placed[in.Op] {
				stuck = append(stuck, in.Op)
			}
		}
		sort.Ints(stuck)
		if len(stuck) > 10 {
			stuck = stuck[:10]
		}
		out = append(out, Anomaly{Kind: KindNonlinearizable, Queue: strings.SplitN(key, ":", 2)[1],
			Detail: fmt.Sprintf("no linearization of the %d operations on %s: at most %d could be ordered; the first that could not be placed are entries %v",
				len(part), key, longest, stuck),
			Ops: stuck})
	}
	if len(out) == 0 {
		out = append(out, Anomaly{Kind: KindNonlinearizable, Detail: "Porcupine found the metadata history not linearizable"})
	}
	return out
}
