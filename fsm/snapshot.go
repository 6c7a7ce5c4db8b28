package fsm

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// Snapshot format. A snapshot is the magic bytes, a version byte, then a
// stream of msgpack values:
//
//	header     [now, window, exchanges, bindings, dedup count, queue count]
//	dedup      count × [id, time], oldest first
//	per queue  [name, args, nextSeq, message count], then that many messages
//
// Queues come in name order and maps are encoded with sorted keys, so equal
// states give equal bytes.
const (
	snapshotMagic   = "RMQS"
	snapshotVersion = 1
)

// ErrSnapshotFormat is returned by Restore for bytes that are not a snapshot
// this binary can read.
var ErrSnapshotFormat = errors.New("unknown snapshot format")

type snapshotHeader struct {
	//lint:ignore U1000 msgpack reads this field's tag
	_msgpack  struct{} `msgpack:",as_array"`
	Now       int64
	Window    int64
	Exchanges []exchange.Exchange
	Bindings  []exchange.Binding
	Dedup     int
	Queues    int
}

type queueHeader struct {
	//lint:ignore U1000 msgpack reads this field's tag
	_msgpack struct{} `msgpack:",as_array"`
	Name     string
	Args     queue.Args
	NextSeq  uint64
	Count    int
}

// snapshot is a frozen view of the state: slices of pointers to immutable
// messages, so taking it is quick and Apply may go on while it is persisted.
type snapshot struct {
	header snapshotHeader
	dedup  []dedupEntry
	queues []queueSnap
	// bodies reads back the bodies kept in the Raft log: a snapshot
	// carries every body itself.
	bodies *bodyReader
}

type queueSnap struct {
	header queueHeader
	msgs   []*queue.Message
}

// Snapshot freezes the state. It copies pointers, not message bodies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := f.s.freeze()
	snap.bodies = f.bodies
	return snap, nil
}

func (s *state) freeze() *snapshot {
	snap := &snapshot{
		header: snapshotHeader{
			Now:       s.now,
			Window:    s.window,
			Exchanges: s.router.Exchanges(),
			Bindings:  s.router.Bindings(),
		},
		dedup: s.dedup.live(),
	}
	for _, name := range sortedQueueNames(s.queues) {
		q := s.queues[name]
		msgs := q.Messages()
		snap.queues = append(snap.queues, queueSnap{
			header: queueHeader{Name: name, Args: q.Args(), NextSeq: q.NextSeq(), Count: len(msgs)},
			msgs:   msgs,
		})
	}
	snap.header.Dedup = len(snap.dedup)
	snap.header.Queues = len(snap.queues)
	return snap
}

// Persist streams the snapshot to the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.writeTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds only garbage-collected memory.
func (s *snapshot) Release() {}

func (s *snapshot) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(snapshotMagic); err != nil {
		return err
	}
	if err := bw.WriteByte(snapshotVersion); err != nil {
		return err
	}
	enc := msgpack.NewEncoder(bw)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(&s.header); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	for _, e := range s.dedup {
		if err := enc.EncodeArrayLen(2); err != nil {
			return err
		}
		if err := enc.EncodeString(e.id); err != nil {
			return err
		}
		if err := enc.EncodeInt(e.t); err != nil {
			return err
		}
	}
	for i := range s.queues {
		qs := &s.queues[i]
		if err := enc.Encode(&qs.header); err != nil {
			return fmt.Errorf("queue %q: %w", qs.header.Name, err)
		}
		for _, m := range qs.msgs {
			if m.Ref.Len > 0 {
				body, err := s.bodies.body(m)
				if err != nil {
					return fmt.Errorf("queue %q message %d: %w", qs.header.Name, m.Seq, err)
				}
				c := *m
				c.Body, c.Ref = body, queue.BodyRef{}
				m = &c
			}
			if err := enc.Encode(m); err != nil {
				return fmt.Errorf("queue %q message %d: %w", qs.header.Name, m.Seq, err)
			}
		}
	}
	return bw.Flush()
}

// Restore replaces the whole state with a snapshot's. Readers never see a
// partly restored state: the new state is built aside and swapped in.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.s = s
	f.updateTotals(s)
	f.mu.Unlock()
	if fn := f.notify.Load(); fn != nil {
		(*fn)("")
	}
	return nil
}

func readSnapshot(r io.Reader) (*state, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshotFormat, err)
	}
	if string(magic[:len(snapshotMagic)]) != snapshotMagic || magic[len(snapshotMagic)] != snapshotVersion {
		return nil, fmt.Errorf("%w: header %q", ErrSnapshotFormat, magic)
	}
	dec := msgpack.NewDecoder(br)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	s := newState()
	s.now, s.window = h.Now, h.Window
	for _, x := range h.Exchanges {
		if err := s.router.Declare(x); err != nil {
			return nil, fmt.Errorf("exchange %q: %w", x.Name, err)
		}
	}
	for i := 0; i < h.Dedup; i++ {
		n, err := dec.DecodeArrayLen()
		if err != nil || n != 2 {
			return nil, fmt.Errorf("dedup entry %d: %d fields: %v", i, n, err)
		}
		id, err := dec.DecodeString()
		if err != nil {
			return nil, fmt.Errorf("dedup entry %d: %w", i, err)
		}
		t, err := dec.DecodeInt64()
		if err != nil {
			return nil, fmt.Errorf("dedup entry %d: %w", i, err)
		}
		s.dedup.add(id, t)
	}
	for i := 0; i < h.Queues; i++ {
		var qh queueHeader
		if err := dec.Decode(&qh); err != nil {
			return nil, fmt.Errorf("queue %d: %w", i, err)
		}
		if qh.Count < 0 {
			return nil, fmt.Errorf("queue %q: negative count", qh.Name)
		}
		msgs := make([]*queue.Message, 0, min(qh.Count, 1<<20))
		for j := 0; j < qh.Count; j++ {
			m := new(queue.Message)
			if err := dec.Decode(m); err != nil {
				return nil, fmt.Errorf("queue %q message %d: %w", qh.Name, j, err)
			}
			if x, ok := s.router.Get(m.Exchange); ok {
				m.Exchange = x.Name
			}
			msgs = append(msgs, m)
		}
		s.addQueue(qh.Name, queue.Restore(qh.Name, qh.Args, qh.NextSeq, msgs))
	}
	// Bindings last: a binding to a queue needs the queue only in the
	// state machine's own checks, but restoring in this order keeps the
	// router's view and the queues consistent from the start.
	for _, b := range h.Bindings {
		if err := s.router.Bind(b); err != nil {
			return nil, fmt.Errorf("binding %s -> %s: %w", b.Source, b.Dest, err)
		}
	}
	return s, nil
}
