package history

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecorderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(time.Now(), &buf)
	inv := r.Invoke(3, FPublish, Value{ID: "m1", Key: "q"})
	r.Complete(inv, Ok, Value{ID: "m1", Status: "routed", Queues: 1, Term: 2, Index: 9}, 2, nil)
	inv = r.Invoke(3, FPublish, Value{ID: "m2", Key: "q"})
	r.Complete(inv, Info, Value{ID: "m2"}, 1, errors.New("timeout"))
	r.Append(Op{Type: Ok, Process: 7, F: FDeliver, Value: Value{ID: "m1", Queue: "q", Seq: 4}})
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	ops, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 5 {
		t.Fatalf("read %d ops", len(ops))
	}
	for i, op := range ops {
		if op.Index != i {
			t.Errorf("op %d has index %d", i, op.Index)
		}
		if i > 0 && op.Time < ops[i-1].Time {
			t.Errorf("time goes back at %d", i)
		}
	}
	if ops[1].Attempts != 2 || ops[1].Value.Term != 2 || ops[3].Error != "timeout" || ops[4].Value.Seq != 4 {
		t.Errorf("fields lost: %+v", ops)
	}
	pairs, err := Pairs(ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || pairs[0].Completion.Type != Ok || pairs[1].Completion.Type != Info || pairs[2].Invoke.F != FDeliver {
		t.Fatalf("pairs: %+v", pairs)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder(time.Now(), nil)
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				inv := r.Invoke(p, FPublish, Value{})
				r.Complete(inv, Ok, Value{}, 1, nil)
			}
		}()
	}
	wg.Wait()
	ops := r.Ops()
	if len(ops) != 1600 {
		t.Fatalf("%d ops", len(ops))
	}
	pairs, err := Pairs(ops)
	if err != nil || len(pairs) != 800 {
		t.Fatalf("pairs %d, err %v", len(pairs), err)
	}
}

func TestReadMalformed(t *testing.T) {
	for _, in := range []string{
		"{not json}\n",
		`{"index":0,"type":"maybe","process":1,"time":1,"f":"publish","value":{}}` + "\n",
		`{"index":0,"type":"ok","process":1,"time":1,"value":{}}` + "\n",
	} {
		if _, err := Read(strings.NewReader(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Read(%q) error %v, want ErrMalformed", in, err)
		}
	}
	ops, err := Read(strings.NewReader("\n" + `{"index":0,"type":"ok","process":1,"time":1,"f":"deliver","value":{"id":"x"}}` + "\n\n"))
	if err != nil || len(ops) != 1 || ops[0].Value.ID != "x" {
		t.Fatalf("blank lines: %v %v", ops, err)
	}
}

func TestPairsErrors(t *testing.T) {
	double := []Op{
		{Index: 0, Type: Invoke, Process: 1, F: FPublish},
		{Index: 1, Type: Invoke, Process: 1, F: FPublish},
	}
	if _, err := Pairs(double); !errors.Is(err, ErrMalformed) {
		t.Errorf("double invoke: %v", err)
	}
	mismatch := []Op{
		{Index: 0, Type: Invoke, Process: 1, F: FPublish},
		{Index: 1, Type: Ok, Process: 1, F: FBind},
	}
	if _, err := Pairs(mismatch); !errors.Is(err, ErrMalformed) {
		t.Errorf("mismatched completion: %v", err)
	}
	open := []Op{
		{Index: 0, Type: Invoke, Process: 1, F: FPublish, Time: 5},
		{Index: 1, Type: Ok, Process: 2, F: FDeliver, Time: 9},
	}
	pairs, err := Pairs(open)
	if err != nil {
		t.Fatal(err)
	}
	if !pairs[0].Open || pairs[0].Completion.Type != Info || pairs[0].Completion.Time != 9 {
		t.Errorf("open invocation: %+v", pairs[0])
	}
}
