package queue

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// model is a plain slice implementation of the queue semantics, for the
// property test.
type model struct {
	args Args
	next uint64
	msgs []Message // in seq order
}

type outcome struct {
	seq    uint64
	reason Reason
}

func (md *model) fits(n int, size int64) bool {
	var bytes int64
	for _, m := range md.msgs {
		bytes += m.Size()
	}
	if md.args.MaxLength > 0 && int64(len(md.msgs)+n) > md.args.MaxLength {
		return false
	}
	return md.args.MaxLengthBytes == 0 || bytes+size <= md.args.MaxLengthBytes
}

func (md *model) push(m Message, now int64) ([]outcome, bool) {
	if md.args.Overflow == RejectPublish && !md.fits(1, m.Size()) {
		return nil, false
	}
	if md.args.MessageTTL > 0 {
		if e := now + md.args.MessageTTL*1e6; m.ExpiresAt == 0 || e < m.ExpiresAt {
			m.ExpiresAt = e
		}
	}
	m.Seq = md.next
	md.next++
	md.msgs = append(md.msgs, m)
	var out []outcome
	for len(md.msgs) > 0 && !md.fits(0, 0) {
		out = append(out, outcome{md.msgs[0].Seq, MaxLen})
		md.msgs = md.msgs[1:]
	}
	return out, true
}

func (md *model) index(seq uint64) int {
	return slices.IndexFunc(md.msgs, func(m Message) bool { return m.Seq == seq })
}

func (md *model) ret(seq uint64, requeue bool) (*outcome, bool) {
	i := md.index(seq)
	if i < 0 {
		return nil, false
	}
	if requeue {
		c := md.msgs[i].DeliveryCount + 1
		if md.args.DeliveryLimit == 0 || int64(c) <= md.args.DeliveryLimit {
			md.msgs[i].DeliveryCount = c
			md.msgs[i].Redelivered = true
			return nil, true
		}
		md.msgs = slices.Delete(md.msgs, i, i+1)
		return &outcome{seq, DeliveryLimitReached}, true
	}
	md.msgs = slices.Delete(md.msgs, i, i+1)
	return &outcome{seq, Rejected}, true
}

func (md *model) expire(now int64) []outcome {
	var out []outcome
	md.msgs = slices.DeleteFunc(md.msgs, func(m Message) bool {
		if m.ExpiresAt != 0 && m.ExpiresAt <= now {
			out = append(out, outcome{m.Seq, Expired})
			return true
		}
		return false
	})
	return out
}

func outcomes(dl []DeadLetter) []outcome {
	var out []outcome
	for _, d := range dl {
		out = append(out, outcome{d.Msg.Seq, d.Reason})
	}
	return out
}

// TestQueueProperty runs random operations on a Queue and on the model and
// checks that they agree after every step, and that the internal
// bookkeeping holds.
func TestQueueProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		args := Args{
			MessageTTL:     rapid.SampledFrom([]int64{0, 0, 5, 30}).Draw(t, "ttl"),
			MaxLength:      rapid.Int64Range(0, 6).Draw(t, "maxlen"),
			MaxLengthBytes: rapid.SampledFrom([]int64{0, 0, 10, 40}).Draw(t, "maxbytes"),
			Overflow:       rapid.SampledFrom([]Overflow{"", DropHead, RejectPublish}).Draw(t, "overflow"),
			DeliveryLimit:  rapid.Int64Range(0, 3).Draw(t, "dlim"),
		}
		q := New("q", args)
		var tally Tally // the queue's counts, kept by the queue itself
		q.SetTally(&tally)
		md := &model{args: args, next: 1}
		now := int64(0)
		seq := func() uint64 { return rapid.Uint64Range(0, md.next).Draw(t, "seq") }
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			now += rapid.Int64Range(0, 10).Draw(t, "dt") * 1e6
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); op {
			case 0, 1, 2:
				m := Message{ID: fmt.Sprint(i), Body: make([]byte, rapid.IntRange(0, 12).Draw(t, "size"))}
				if len(m.Body) > 0 && rapid.Bool().Draw(t, "inLog") {
					// The body is in a Raft log entry, maybe one an
					// earlier message's body is in too.
					m.Ref = BodyRef{Index: rapid.Uint64Range(1, rapid.SampledFrom([]uint64{6, 80}).Draw(t, "entries")).Draw(t, "entry"), Len: uint32(len(m.Body))}
					m.Body = nil
				}
				if rapid.Bool().Draw(t, "perMsgTTL") {
					m.ExpiresAt = now + rapid.Int64Range(1, 40).Draw(t, "exp")*1e6
				}
				want, ok := md.push(m, now)
				got, err := q.Push(&m, now)
				if ok != (err == nil) || (err != nil && !errors.Is(err, ErrRejected)) {
					t.Fatalf("push: model ok=%v, queue err=%v", ok, err)
				}
				if !slices.Equal(outcomes(got), want) {
					t.Fatalf("push dead letters %v, model %v", outcomes(got), want)
				}
			case 3, 4:
				s := seq()
				if got, want := q.Settle(s), md.index(s) >= 0; got != want {
					t.Fatalf("Settle(%d) = %v, model %v", s, got, want)
				}
				if i := md.index(s); i >= 0 {
					md.msgs = slices.Delete(md.msgs, i, i+1)
				}
			case 5, 6:
				s, requeue := seq(), rapid.Bool().Draw(t, "requeue")
				want, wok := md.ret(s, requeue)
				got, ok := q.Return(s, requeue, now)
				if ok != wok || (got == nil) != (want == nil) || (got != nil && (outcome{got.Msg.Seq, got.Reason}) != *want) {
					t.Fatalf("Return(%d, %v) = %+v %v, model %+v %v", s, requeue, got, ok, want, wok)
				}
			case 7, 8:
				if got, want := outcomes(q.Expire(now)), md.expire(now); !slices.Equal(got, want) {
					t.Fatalf("Expire(%d) = %v, model %v", now, got, want)
				}
			case 9:
				switch rapid.IntRange(0, 3).Draw(t, "op9") {
				case 0:
					q.SetTally(nil)
					q = Restore("q", q.Args(), q.NextSeq(), q.Messages())
					q.SetTally(&tally)
				case 1:
					if got, want := q.Purge(), len(md.msgs); got != want {
						t.Fatalf("Purge = %d, model %d", got, want)
					}
					md.msgs = nil
				default:
					// Move a body from the log into memory, as fsm's
					// LogFloor does.
					s := seq()
					if old, ok := q.Get(s); ok && old.Ref.Len > 0 {
						c := *old
						c.Body, c.Ref = make([]byte, old.Ref.Len), BodyRef{}
						if !q.Replace(old, &c) {
							t.Fatalf("Replace(%d) refused a copy", s)
						}
						md.msgs[md.index(s)].Body, md.msgs[md.index(s)].Ref = c.Body, BodyRef{}
					}
				}
			}
			checkBookkeeping(t, q, rapid.IntRange(0, 3).Draw(t, "askLowest") == 0)
			if tally.Messages != int64(q.Len()) || tally.Bytes != q.Bytes() {
				t.Fatalf("tally %+v, queue holds %d messages, %d bytes", tally, q.Len(), q.Bytes())
			}
			from := seq()
			var asc, wantAsc []uint64
			q.Ascend(from, func(m *Message) bool { asc = append(asc, m.Seq); return true })
			for _, m := range md.msgs {
				if m.Seq >= from {
					wantAsc = append(wantAsc, m.Seq)
				}
			}
			if !slices.Equal(asc, wantAsc) {
				t.Fatalf("Ascend(%d) = %v, model %v", from, asc, wantAsc)
			}
			got := q.Messages()
			if len(got) != len(md.msgs) || q.NextSeq() != md.next {
				t.Fatalf("queue has %d messages (next %d), model %d (next %d)", len(got), q.NextSeq(), len(md.msgs), md.next)
			}
			for j, m := range got {
				w := md.msgs[j]
				if m.Seq != w.Seq || m.ID != w.ID || m.ExpiresAt != w.ExpiresAt || m.DeliveryCount != w.DeliveryCount || m.Redelivered != w.Redelivered {
					t.Fatalf("message %d: %+v, model %+v", j, m, w)
				}
			}
		}
	})
}
