package queue

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

const ms = int64(1e6) // one millisecond in nanoseconds

func msg(id string, body string) *Message {
	return &Message{ID: id, Exchange: "x", RoutingKey: "rk", Body: []byte(body)}
}

func mustPush(t testing.TB, q *Queue, m *Message, now int64) []DeadLetter {
	t.Helper()
	dl, err := q.Push(m, now)
	if err != nil {
		t.Fatalf("Push(%s): %v", m.ID, err)
	}
	checkInvariants(t, q)
	return dl
}

func ids(ms []*Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func dlIDs(dl []DeadLetter) []string {
	var out []string
	for _, d := range dl {
		out = append(out, d.Msg.ID)
	}
	return out
}

// fataler is what checkInvariants needs of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkInvariants verifies the queue's internal bookkeeping against its
// slots.
func checkInvariants(t fataler, q *Queue) {
	t.Helper()
	checkBookkeeping(t, q, true)
}

// checkBookkeeping is checkInvariants, which asks LowestLogRef only if
// lowest is set: LowestLogRef refreshes a cache that the other methods must
// not depend on, and LogFloor asks it only at compactions.
func checkBookkeeping(t fataler, q *Queue, lowest bool) {
	t.Helper()
	w := q.ents[q.head:]
	var live, holes, nExp int
	var bytes, minExp int64
	var prevSeq uint64
	refs := make(map[uint64]int) // log entry -> live messages whose body is in it
	ordered := true
	var lastExp int64
	for i, e := range w {
		if i > 0 && e.seq <= prevSeq {
			t.Fatalf("slots not sorted: seq %d after %d", e.seq, prevSeq)
		}
		prevSeq = e.seq
		if e.m == nil {
			holes++
			continue
		}
		if e.m.Seq != e.seq {
			t.Fatalf("slot seq %d holds message seq %d", e.seq, e.m.Seq)
		}
		if e.seq >= q.nextSeq {
			t.Fatalf("seq %d >= nextSeq %d", e.seq, q.nextSeq)
		}
		live++
		bytes += e.m.Size()
		if e.m.Ref.Len > 0 {
			refs[e.m.Ref.Index]++
		}
		if x := e.m.ExpiresAt; x != 0 {
			nExp++
			if minExp == 0 || x < minExp {
				minExp = x
			}
			if x < lastExp {
				ordered = false
			}
			lastExp = max(lastExp, x)
		}
	}
	if len(w) > 0 && (w[0].m == nil || w[len(w)-1].m == nil) {
		t.Fatalf("hole at an end of the slots")
	}
	if live != q.live || live != q.Len() || holes != q.holes || bytes != q.bytes {
		t.Fatalf("counts: live %d/%d holes %d/%d bytes %d/%d", live, q.live, holes, q.holes, bytes, q.bytes)
	}
	if nExp != q.nExp {
		t.Fatalf("nExp %d, counted %d", q.nExp, nExp)
	}
	if nExp > 0 {
		if q.minExp > minExp || (q.minExact && q.minExp != minExp) {
			t.Fatalf("minExp %d (exact %v), true earliest %d", q.minExp, q.minExact, minExp)
		}
		if q.expOrder && !ordered {
			t.Fatalf("expOrder set but expiries out of order")
		}
	}
	if got := q.NextExpiry(); got != minExp {
		t.Fatalf("NextExpiry = %d, want %d", got, minExp)
	}
	checkLogRefs(t, q, refs, lowest)
}

// checkLogRefs compares the queue's log reference bookkeeping with refs,
// counted from its messages.
func checkLogRefs(t fataler, q *Queue, refs map[uint64]int, lowest bool) {
	t.Helper()
	var low, highest uint64
	for idx := range refs {
		if low == 0 || idx < low {
			low = idx
		}
		highest = max(highest, idx)
	}
	// LogRefsAtOrBelow first: LowestLogRef refreshes the cached lowest entry,
	// and LogRefsAtOrBelow must also be right while that cache is stale.
	for index := uint64(0); index <= highest+1; index++ {
		want := 0
		for idx, n := range refs {
			if idx <= index {
				want += n
			}
		}
		if got := q.LogRefsAtOrBelow(index); got != want {
			t.Fatalf("LogRefsAtOrBelow(%d) = %d, want %d; the messages refer to %v", index, got, want, refs)
		}
	}
	if !lowest {
		return
	}
	if got, ok := q.LowestLogRef(); got != low || ok != (len(refs) > 0) {
		t.Fatalf("LowestLogRef = %d, %v; the messages refer to %v", got, ok, refs)
	}
}

func TestFIFOAndSeq(t *testing.T) {
	q := New("q", Args{})
	if q.NextSeq() != 1 || q.Len() != 0 || q.Name() != "q" {
		t.Fatalf("new queue: next %d len %d name %q", q.NextSeq(), q.Len(), q.Name())
	}
	for i, id := range []string{"a", "b", "c"} {
		m := msg(id, "xx")
		mustPush(t, q, m, 0)
		if m.Seq != uint64(i+1) {
			t.Errorf("%s got seq %d", id, m.Seq)
		}
	}
	if got := ids(q.Messages()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("order %v", got)
	}
	if q.Len() != 3 || q.Bytes() != 6 || q.NextSeq() != 4 {
		t.Errorf("len %d bytes %d next %d", q.Len(), q.Bytes(), q.NextSeq())
	}
	var seen []uint64
	q.Ascend(2, func(m *Message) bool { seen = append(seen, m.Seq); return true })
	if !slices.Equal(seen, []uint64{2, 3}) {
		t.Errorf("Ascend(2) = %v", seen)
	}
	seen = nil
	q.Ascend(0, func(m *Message) bool { seen = append(seen, m.Seq); return len(seen) < 2 })
	if !slices.Equal(seen, []uint64{1, 2}) {
		t.Errorf("Ascend stopping = %v", seen)
	}
	if m, ok := q.Get(2); !ok || m.ID != "b" {
		t.Errorf("Get(2) = %v, %v", m, ok)
	}
	if _, ok := q.Get(9); ok {
		t.Error("Get(9) found")
	}
	if _, err := q.Push(nil, 0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Push(nil) = %v", err)
	}
}

func TestSettle(t *testing.T) {
	q := New("q", Args{})
	for i := 0; i < 5; i++ {
		mustPush(t, q, msg(fmt.Sprint(i), "abc"), 0)
	}
	for _, seq := range []uint64{3, 1, 5} {
		if !q.Settle(seq) {
			t.Errorf("Settle(%d) = false", seq)
		}
		checkInvariants(t, q)
	}
	if q.Settle(3) || q.Settle(0) || q.Settle(99) {
		t.Error("Settle of an unknown seq returned true")
	}
	if got := ids(q.Messages()); !slices.Equal(got, []string{"1", "3"}) {
		t.Errorf("left %v", got)
	}
	if q.Bytes() != 6 {
		t.Errorf("bytes %d", q.Bytes())
	}
	if _, ok := q.Get(3); ok {
		t.Error("Get of a settled message")
	}
	// Seqs are not reused after settling everything.
	q.Settle(2)
	q.Settle(4)
	m := msg("n", "")
	mustPush(t, q, m, 0)
	if m.Seq != 6 {
		t.Errorf("seq after drain %d", m.Seq)
	}
}

func TestReturnRequeueKeepsPlace(t *testing.T) {
	q := New("q", Args{})
	for _, id := range []string{"a", "b", "c"} {
		mustPush(t, q, msg(id, "x"), 0)
	}
	before, _ := q.Get(1)
	dl, ok := q.Return(1, true, 10)
	if !ok || dl != nil {
		t.Fatalf("Return requeue = %v, %v", dl, ok)
	}
	checkInvariants(t, q)
	after, _ := q.Get(1)
	if after == before {
		t.Fatal("requeue modified the message in place")
	}
	if before.Redelivered || before.DeliveryCount != 0 {
		t.Errorf("old pointer changed: %+v", before)
	}
	if !after.Redelivered || after.DeliveryCount != 1 || after.Seq != 1 || after.ID != "a" {
		t.Errorf("requeued = %+v", after)
	}
	if got := ids(q.Messages()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("order after requeue %v", got)
	}
	q.Requeue(1, 11)
	if m, _ := q.Get(1); m.DeliveryCount != 2 {
		t.Errorf("Requeue count %d", m.DeliveryCount)
	}
	if _, ok := q.Return(42, true, 0); ok {
		t.Error("Return of an unknown seq")
	}
}

func TestReturnNoRequeue(t *testing.T) {
	q := New("q", Args{DeadLetterExchange: "dlx"})
	mustPush(t, q, msg("a", "x"), 0)
	mustPush(t, q, msg("b", "y"), 0)
	dl, ok := q.Return(2, false, 77)
	if !ok || dl == nil {
		t.Fatalf("Return = %v, %v", dl, ok)
	}
	checkInvariants(t, q)
	if dl.Reason != Rejected || dl.Msg.ID != "b" || dl.Msg.Seq != 2 {
		t.Errorf("dead letter %+v", dl)
	}
	want := Death{Queue: "q", Reason: Rejected, Count: 1, Time: 77, Exchange: "x", RoutingKey: "rk"}
	if len(dl.Msg.Deaths) != 1 || dl.Msg.Deaths[0] != want {
		t.Errorf("deaths %+v", dl.Msg.Deaths)
	}
	if q.Len() != 1 {
		t.Errorf("len %d", q.Len())
	}
}

func TestQueueTTL(t *testing.T) {
	q := New("q", Args{MessageTTL: 100})
	a := msg("a", "")
	mustPush(t, q, a, 1000*ms)
	if a.ExpiresAt != 1100*ms {
		t.Errorf("ExpiresAt %d", a.ExpiresAt)
	}
	// A per-message expiry earlier than the queue TTL wins...
	b := msg("b", "")
	b.ExpiresAt = 1050 * ms
	mustPush(t, q, b, 1010*ms)
	if b.ExpiresAt != 1050*ms {
		t.Errorf("earlier per-message expiry: %d", b.ExpiresAt)
	}
	// ...and a later one loses.
	c := msg("c", "")
	c.ExpiresAt = 5000 * ms
	mustPush(t, q, c, 1020*ms)
	if c.ExpiresAt != 1120*ms {
		t.Errorf("later per-message expiry: %d", c.ExpiresAt)
	}
	if q.NextExpiry() != 1050*ms {
		t.Errorf("NextExpiry %d", q.NextExpiry())
	}
	if dl := q.Expire(1049 * ms); dl != nil {
		t.Errorf("early expire: %v", dlIDs(dl))
	}
	dl := q.Expire(1100 * ms)
	checkInvariants(t, q)
	if got := dlIDs(dl); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("expired %v", got)
	}
	for _, d := range dl {
		if d.Reason != Expired || d.Msg.Deaths[0].Reason != Expired || d.Msg.ExpiresAt != 0 {
			t.Errorf("dead letter %+v", d)
		}
	}
	if q.NextExpiry() != 1120*ms {
		t.Errorf("NextExpiry after %d", q.NextExpiry())
	}
	q.Expire(2000 * ms)
	if q.Len() != 0 || q.NextExpiry() != 0 {
		t.Errorf("len %d next %d", q.Len(), q.NextExpiry())
	}
	// A huge TTL saturates instead of overflowing.
	q2 := New("q2", Args{MessageTTL: math.MaxInt64})
	m := msg("m", "")
	mustPush(t, q2, m, 1)
	if m.ExpiresAt != math.MaxInt64 {
		t.Errorf("saturated ExpiresAt %d", m.ExpiresAt)
	}
}

func TestPerMessageTTLExpireOrder(t *testing.T) {
	q := New("q", Args{})
	exp := []int64{50, 0, 10, 30, 0, 10, 90}
	for i, e := range exp {
		m := msg(fmt.Sprint(i), "")
		m.ExpiresAt = e
		mustPush(t, q, m, 0)
	}
	if q.NextExpiry() != 10 {
		t.Errorf("NextExpiry %d", q.NextExpiry())
	}
	// Expired messages come out in seq order, not expiry order.
	dl := q.Expire(50)
	checkInvariants(t, q)
	if got := dlIDs(dl); !slices.Equal(got, []string{"0", "2", "3", "5"}) {
		t.Errorf("expired %v", got)
	}
	if got := ids(q.Messages()); !slices.Equal(got, []string{"1", "4", "6"}) {
		t.Errorf("left %v", got)
	}
	if q.NextExpiry() != 90 {
		t.Errorf("NextExpiry %d", q.NextExpiry())
	}
	// Settling the message holding the earliest expiry moves NextExpiry on.
	q.Settle(7)
	checkInvariants(t, q)
	if q.NextExpiry() != 0 {
		t.Errorf("NextExpiry with no expiring message %d", q.NextExpiry())
	}
}

func TestNextExpiryAfterSettle(t *testing.T) {
	q := New("q", Args{})
	for i, e := range []int64{30, 10, 20} {
		m := msg(fmt.Sprint(i), "")
		m.ExpiresAt = e
		mustPush(t, q, m, 0)
	}
	q.Settle(2) // held the earliest, 10
	checkInvariants(t, q)
	if q.NextExpiry() != 20 {
		t.Errorf("NextExpiry %d, want 20", q.NextExpiry())
	}
	if dl := q.Expire(15); len(dl) != 0 {
		t.Errorf("expired %v", dlIDs(dl))
	}
	checkInvariants(t, q)
	if !q.minExact || q.minExp != 20 {
		t.Errorf("Expire did not make the bound exact: %d %v", q.minExp, q.minExact)
	}
}

func TestMaxLengthDropHead(t *testing.T) {
	for _, ov := range []Overflow{"", DropHead} {
		q := New("q", Args{MaxLength: 2, Overflow: ov})
		mustPush(t, q, msg("a", "1"), 0)
		mustPush(t, q, msg("b", "2"), 0)
		dl := mustPush(t, q, msg("c", "3"), 5)
		if got := dlIDs(dl); !slices.Equal(got, []string{"a"}) {
			t.Errorf("dropped %v", got)
		}
		if dl[0].Reason != MaxLen || dl[0].Msg.Deaths[0] != (Death{Queue: "q", Reason: MaxLen, Count: 1, Time: 5, Exchange: "x", RoutingKey: "rk"}) {
			t.Errorf("dead letter %+v", dl[0])
		}
		if got := ids(q.Messages()); !slices.Equal(got, []string{"b", "c"}) {
			t.Errorf("left %v", got)
		}
	}
}

func TestMaxBytesDropHead(t *testing.T) {
	q := New("q", Args{MaxLengthBytes: 10})
	mustPush(t, q, msg("a", "1234"), 0)
	mustPush(t, q, msg("b", "1234"), 0)
	dl := mustPush(t, q, msg("c", "123456789"), 0) // needs both gone
	if got := dlIDs(dl); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("dropped %v", got)
	}
	if q.Bytes() != 9 || q.Len() != 1 {
		t.Errorf("bytes %d len %d", q.Bytes(), q.Len())
	}
	// A message bigger than the limit on its own is dropped itself.
	big := msg("big", "12345678901")
	dl = mustPush(t, q, big, 0)
	if got := dlIDs(dl); !slices.Equal(got, []string{"c", "big"}) {
		t.Errorf("dropped %v", got)
	}
	if q.Len() != 0 || dl[1].Msg.Seq != big.Seq {
		t.Errorf("len %d", q.Len())
	}
}

func TestRejectPublish(t *testing.T) {
	q := New("q", Args{MaxLength: 2, MaxLengthBytes: 5, Overflow: RejectPublish, MessageTTL: 10})
	mustPush(t, q, msg("a", "12"), 0)
	mustPush(t, q, msg("b", "12"), 0)
	before := q.Messages()
	c := msg("c", "")
	if dl, err := q.Push(c, 0); !errors.Is(err, ErrRejected) || dl != nil {
		t.Fatalf("over max-length: %v, %v", dl, err)
	}
	if c.Seq != 0 || c.ExpiresAt != 0 {
		t.Errorf("rejected message modified: %+v", c)
	}
	if q.NextSeq() != 3 || !slices.Equal(q.Messages(), before) {
		t.Error("rejected publish changed the queue")
	}
	checkInvariants(t, q)
	q.Settle(1)
	if _, err := q.Push(msg("d", "1234"), 0); !errors.Is(err, ErrRejected) {
		t.Errorf("over max-length-bytes: %v", err)
	}
	mustPush(t, q, msg("e", "123"), 0) // exactly 5 bytes
	if q.Bytes() != 5 {
		t.Errorf("bytes %d", q.Bytes())
	}
}

func TestDeliveryLimit(t *testing.T) {
	q := New("q", Args{DeliveryLimit: 2})
	mustPush(t, q, msg("a", "x"), 0)
	for i := 1; i <= 2; i++ {
		if dl, ok := q.Return(1, true, 0); !ok || dl != nil {
			t.Fatalf("return %d: %v %v", i, dl, ok)
		}
	}
	dl, ok := q.Return(1, true, 9)
	if !ok || dl == nil || dl.Reason != DeliveryLimitReached {
		t.Fatalf("third return: %+v %v", dl, ok)
	}
	checkInvariants(t, q)
	if q.Len() != 0 {
		t.Errorf("len %d", q.Len())
	}
	if dl.Msg.DeliveryCount != 0 || dl.Msg.Redelivered || dl.Msg.Deaths[0].Reason != DeliveryLimitReached {
		t.Errorf("dead letter %+v", dl.Msg)
	}
	// Requeue (lost delivery) counts too.
	mustPush(t, q, msg("b", "x"), 0)
	q.Requeue(2, 0)
	q.Requeue(2, 0)
	if dl, _ := q.Requeue(2, 0); dl == nil || dl.Reason != DeliveryLimitReached {
		t.Errorf("Requeue past the limit: %+v", dl)
	}
	// No limit: counts on.
	q2 := New("q2", Args{})
	mustPush(t, q2, msg("c", ""), 0)
	for i := 0; i < 100; i++ {
		if dl, _ := q2.Return(1, true, 0); dl != nil {
			t.Fatal("dead-lettered without a limit")
		}
	}
	if m, _ := q2.Get(1); m.DeliveryCount != 100 {
		t.Errorf("count %d", m.DeliveryCount)
	}
}

func TestDeathEntries(t *testing.T) {
	m := msg("a", "x")
	m.Deaths = []Death{{Queue: "other", Reason: Expired, Count: 1, Time: 1, Exchange: "x0", RoutingKey: "k0"}}
	q := New("q", Args{})
	mustPush(t, q, m, 0)
	dl, _ := q.Return(1, false, 100)
	d1 := dl.Msg
	if len(d1.Deaths) != 2 || d1.Deaths[0].Queue != "q" || d1.Deaths[0].Count != 1 || d1.Deaths[1].Queue != "other" {
		t.Fatalf("deaths %+v", d1.Deaths)
	}
	if len(m.Deaths) != 1 {
		t.Error("dead-lettering modified the original's Deaths")
	}
	// The message comes back (through a DLX) and dies again for the same reason.
	mustPush(t, q, d1, 0)
	dl, _ = q.Return(d1.Seq, false, 200)
	d2 := dl.Msg
	if len(d2.Deaths) != 2 || d2.Deaths[0] != (Death{Queue: "q", Reason: Rejected, Count: 2, Time: 200, Exchange: "x", RoutingKey: "rk"}) {
		t.Errorf("deaths after second rejection %+v", d2.Deaths)
	}
	if d1.Deaths[0].Count != 1 {
		t.Error("second death modified the first dead letter")
	}
	// A different reason in the same queue is a new entry, first.
	mustPush(t, q, d2, 0)
	d3 := q.Expire(0)
	if len(d3) != 0 {
		t.Fatal("expired without expiry")
	}
	q.args.DeliveryLimit = 1
	q.Return(d2.Seq, true, 300)
	dl, _ = q.Return(d2.Seq, true, 300)
	if got := dl.Msg.Deaths; len(got) != 3 || got[0].Reason != DeliveryLimitReached || got[1].Reason != Rejected || got[1].Count != 2 {
		t.Errorf("deaths %+v", got)
	}
}

func TestPurge(t *testing.T) {
	q := New("q", Args{MessageTTL: 5})
	for i := 0; i < 10; i++ {
		mustPush(t, q, msg(fmt.Sprint(i), "abc"), 0)
	}
	q.Settle(4)
	if n := q.Purge(); n != 9 {
		t.Errorf("Purge = %d", n)
	}
	checkInvariants(t, q)
	if q.Len() != 0 || q.Bytes() != 0 || q.NextExpiry() != 0 || q.NextSeq() != 11 {
		t.Errorf("after purge len %d bytes %d next %d/%d", q.Len(), q.Bytes(), q.NextExpiry(), q.NextSeq())
	}
	m := msg("n", "")
	mustPush(t, q, m, 0)
	if m.Seq != 11 {
		t.Errorf("seq after purge %d", m.Seq)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	args := Args{MessageTTL: 1000, MaxLength: 100, DeadLetterExchange: "dlx"}
	q := New("q", args)
	for i := 0; i < 20; i++ {
		mustPush(t, q, msg(fmt.Sprint(i), strings.Repeat("b", i)), int64(i)*ms)
	}
	for _, s := range []uint64{1, 5, 6, 20} {
		q.Settle(s)
	}
	q.Return(3, true, 0)
	r := Restore("q", q.Args(), q.NextSeq(), q.Messages())
	checkInvariants(t, r)
	if !slices.Equal(r.Messages(), q.Messages()) || r.NextSeq() != q.NextSeq() || r.Len() != q.Len() ||
		r.Bytes() != q.Bytes() || r.NextExpiry() != q.NextExpiry() || !r.Args().Equal(args) {
		t.Fatal("restored queue differs")
	}
	// Both go on identically.
	a, b := msg("new", "x"), msg("new", "x")
	mustPush(t, q, a, 30*ms)
	mustPush(t, r, b, 30*ms)
	if a.Seq != b.Seq || a.ExpiresAt != b.ExpiresAt {
		t.Errorf("diverged: %+v %+v", a, b)
	}
	if got, want := dlIDs(r.Expire(1010*ms)), dlIDs(q.Expire(1010*ms)); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("expire diverged: %v %v", got, want)
	}

	// A damaged snapshot: unsorted, a nil, a repeated seq, a low nextSeq.
	m1, m2, m3 := &Message{Seq: 7, ID: "a"}, &Message{Seq: 3, ID: "b"}, &Message{Seq: 7, ID: "c"}
	d := Restore("d", Args{}, 2, []*Message{m1, nil, m2, m3})
	checkInvariants(t, d)
	if got := ids(d.Messages()); !slices.Equal(got, []string{"b", "a"}) || d.NextSeq() != 8 {
		t.Errorf("damaged restore: %v next %d", got, d.NextSeq())
	}
	if e := Restore("e", Args{}, 0, nil); e.NextSeq() != 1 || e.Len() != 0 {
		t.Errorf("empty restore next %d", e.NextSeq())
	}
}

func TestCopyOnWrite(t *testing.T) {
	q := New("q", Args{DeliveryLimit: 5})
	m := msg("a", "x")
	m.Headers = map[string]string{"h": "v"}
	mustPush(t, q, m, 0)
	snap := q.Messages()
	p, _ := q.Get(1)
	saved := *p
	q.Return(1, true, 1)
	q.Return(1, true, 2)
	dl, _ := q.Return(1, false, 3)
	if p.DeliveryCount != saved.DeliveryCount || p.Redelivered != saved.Redelivered || len(p.Deaths) != 0 || p.ExpiresAt != saved.ExpiresAt {
		t.Errorf("pointer taken before Return changed: %+v", p)
	}
	if snap[0] != p || dl.Msg == p {
		t.Error("snapshot pointer or dead letter aliasing")
	}
	if dl.Msg.Headers["h"] != "v" || string(dl.Msg.Body) != "x" {
		t.Errorf("dead letter lost content: %+v", dl.Msg)
	}
}

func TestCompactionAndShrink(t *testing.T) {
	q := New("q", Args{})
	const n = 10_000
	for i := 0; i < n; i++ {
		mustPushQuiet(t, q, msg("m", "x"))
	}
	// Settle every odd seq, in the middle of the queue: holes compact.
	for s := uint64(3); s < n; s += 2 {
		q.Settle(s)
	}
	checkInvariants(t, q)
	if q.holes > q.live {
		t.Errorf("holes %d > live %d after compaction", q.holes, q.live)
	}
	// Drain most: the buffer shrinks.
	for s := uint64(1); s < n-100; s++ {
		q.Settle(s)
	}
	checkInvariants(t, q)
	if cap(q.ents) > 4*q.live+minShrinkCap {
		t.Errorf("buffer cap %d for %d live", cap(q.ents), q.live)
	}
	// A long FIFO run (push one, settle one) keeps the buffer small.
	q2 := New("q2", Args{})
	for i := 0; i < 100_000; i++ {
		m := msg("m", "")
		mustPushQuiet(t, q2, m)
		if i >= 10 {
			q2.Settle(m.Seq - 10)
		}
	}
	checkInvariants(t, q2)
	if cap(q2.ents) > 64 {
		t.Errorf("FIFO buffer grew to %d", cap(q2.ents))
	}
}

func mustPushQuiet(t testing.TB, q *Queue, m *Message) {
	t.Helper()
	if _, err := q.Push(m, 0); err != nil {
		t.Fatal(err)
	}
}

func TestArgs(t *testing.T) {
	valid := []Args{
		{},
		{MessageTTL: 1, MaxLength: 1, MaxLengthBytes: 1, Overflow: RejectPublish, DeadLetterExchange: "d", DeadLetterRoutingKey: "k", DeliveryLimit: 1},
		{Overflow: DropHead, DeadLetterExchange: strings.Repeat("d", 255)},
	}
	for _, a := range valid {
		if err := a.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", a, err)
		}
	}
	invalid := []Args{
		{MessageTTL: -1},
		{MaxLength: -1},
		{MaxLengthBytes: -5},
		{DeliveryLimit: -1},
		{Overflow: "reject-publish-dlx"},
		{DeadLetterExchange: strings.Repeat("d", 256)},
		{DeadLetterExchange: "\xff"},
		{DeadLetterExchange: "d", DeadLetterRoutingKey: "\xc3"},
		{DeadLetterRoutingKey: "k"},
	}
	for _, a := range invalid {
		if err := a.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidArgument", a, err)
		}
	}
	if !(Args{}).Equal(Args{Overflow: DropHead}) || !(Args{Overflow: DropHead}).Equal(Args{}) {
		t.Error("empty overflow differs from drop-head")
	}
	if (Args{}).Equal(Args{Overflow: RejectPublish}) || (Args{MaxLength: 1}).Equal(Args{MaxLength: 2}) ||
		(Args{DeadLetterRoutingKey: "a"}).Equal(Args{}) {
		t.Error("different args equal")
	}
	m := &Message{RoutingKey: "orig"}
	if _, _, ok := (Args{}).DeadLetterTarget(m); ok {
		t.Error("dead-letter target without a DLX")
	}
	if x, k, ok := (Args{DeadLetterExchange: "d"}).DeadLetterTarget(m); !ok || x != "d" || k != "orig" {
		t.Errorf("target %q %q", x, k)
	}
	if x, k, _ := (Args{DeadLetterExchange: "d", DeadLetterRoutingKey: "dk"}).DeadLetterTarget(m); x != "d" || k != "dk" {
		t.Errorf("target %q %q", x, k)
	}
}

// TestLogRefsManyEntriesOutOfOrder settles messages of many log entries out
// of order, then publishes into entries older than every one left, as dead
// letters do: the lowest entry and the counts stay right throughout.
func TestLogRefsManyEntriesOutOfOrder(t *testing.T) {
	q := New("q", Args{})
	for i := 101; i <= 300; i++ {
		mustPush(t, q, &Message{ID: fmt.Sprint(i), Ref: BodyRef{Index: uint64(i), Len: 10}}, 0)
	}
	// Keep every tenth message; settle the odd seqs first, then the even.
	for _, odd := range []bool{true, false} {
		for seq := uint64(1); seq <= 200; seq++ {
			if (seq%2 == 1) != odd || seq%10 == 0 {
				continue
			}
			q.Settle(seq)
			checkInvariants(t, q)
		}
	}
	for i := 100; i >= 1; i-- {
		mustPush(t, q, &Message{ID: fmt.Sprint("dl", i), Ref: BodyRef{Index: uint64(i), Len: 10}}, 0)
	}
	checkInvariants(t, q)
	if got, want := q.LogRefsAtOrBelow(300), 20+100; got != want {
		t.Fatalf("LogRefsAtOrBelow(300) = %d, want %d", got, want)
	}
	if low, ok := q.LowestLogRef(); !ok || low != 1 {
		t.Fatalf("LowestLogRef = %d, %v, want 1", low, ok)
	}
}
