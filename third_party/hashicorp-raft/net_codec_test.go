// Copyright (c) HashiCorp, Inc.
// SPDX-License-Identifier: MPL-2.0

package raft

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// goMsgpackEncode encodes values back to back as the transport's go-msgpack
// encoder does, with the old time format unless newTime.
func goMsgpackEncode(t testing.TB, newTime bool, vs ...interface{}) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := codec.NewEncoder(&buf, &codec.MsgpackHandle{
		BasicHandle: codec.BasicHandle{TimeNotBuiltin: !newTime},
	})
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatalf("go-msgpack encode: %v", err)
		}
	}
	return buf.Bytes()
}

// encodeRequest writes req with the hand-written codec and returns the
// bytes.
func encodeRequest(req *AppendEntriesRequest) ([]byte, error) {
	var buf bytes.Buffer
	w := bufio.NewWriterSize(&buf, 4096)
	if _, err := writeAppendEntriesRequest(w, nil, req); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// codecRand draws values that reach every encoding width and both nil and
// empty forms.
type codecRand struct{ *rand.Rand }

func (r codecRand) uint() uint64 {
	edges := []uint64{0, 1, 31, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	if r.Intn(3) == 0 {
		return edges[r.Intn(len(edges))]
	}
	return r.Uint64() >> uint(r.Intn(64))
}

func (r codecRand) int() int {
	edges := []int{0, 3, -1, -32, -33, -128, -129, 127, 128, 32767, 32768, -32769, math.MaxInt32 + 1, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
	if r.Intn(2) == 0 {
		return edges[r.Intn(len(edges))]
	}
	return int(r.Uint64())
}

func (r codecRand) bytes() []byte {
	switch r.Intn(6) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return make([]byte, []int{31, 32, 4096, 4097, 65535, 65536}[r.Intn(6)])
	}
	b := make([]byte, r.Intn(40))
	r.Read(b)
	return b
}

func (r codecRand) time() time.Time {
	switch r.Intn(5) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(r.Int63n(1<<40), r.Int63n(1e9)).In(time.FixedZone("x", 3600*(r.Intn(25)-12)))
	case 2:
		return time.Unix(r.Int63n(1<<34), 0).UTC()
	case 3:
		return time.Unix(-r.Int63n(1<<40), r.Int63n(1e9)).UTC()
	}
	return time.Unix(r.Int63n(1<<40), r.Int63n(1e9)).UTC()
}

func (r codecRand) log() *Log {
	if r.Intn(20) == 0 {
		return nil
	}
	return &Log{
		Index: r.uint(), Term: r.uint(), Type: LogType(r.Intn(256)),
		Data: r.bytes(), Extensions: r.bytes(), AppendedAt: r.time(),
	}
}

func (r codecRand) header() RPCHeader {
	return RPCHeader{ProtocolVersion: ProtocolVersion(r.int()), ID: r.bytes(), Addr: r.bytes()}
}

func (r codecRand) request() *AppendEntriesRequest {
	req := &AppendEntriesRequest{
		RPCHeader: r.header(), Term: r.uint(), Leader: r.bytes(),
		PrevLogEntry: r.uint(), PrevLogTerm: r.uint(), LeaderCommitIndex: r.uint(),
	}
	switch r.Intn(4) {
	case 0:
	case 1:
		req.Entries = []*Log{}
	default:
		n := r.Intn(4)
		switch r.Intn(20) {
		case 0, 1, 2, 3, 4:
			n = 14 + r.Intn(5) // across the fixarray limit
		case 5:
			// Past the writer's flush size with small entries only.
			for i := 0; i < 600; i++ {
				req.Entries = append(req.Entries, &Log{Index: r.uint(), Data: make([]byte, r.Intn(40)), AppendedAt: r.time()})
			}
		}
		for i := 0; i < n; i++ {
			req.Entries = append(req.Entries, r.log())
		}
	}
	return req
}

func (r codecRand) response() *AppendEntriesResponse {
	return &AppendEntriesResponse{
		RPCHeader: r.header(), Term: r.uint(), LastLog: r.uint(),
		Success: r.Intn(2) == 0, NoRetryBackoff: r.Intn(2) == 0,
	}
}

// goMsgpackDecodeRequest decodes one request from r as the stock transport
// does.
func goMsgpackDecodeRequest(r io.Reader) (*AppendEntriesRequest, error) {
	var req AppendEntriesRequest
	err := codec.NewDecoder(r, &codec.MsgpackHandle{}).Decode(&req)
	return &req, err
}

func TestAppendEntriesCodecWritesGoMsgpackBytes(t *testing.T) {
	var nilReq *AppendEntriesRequest
	var nilResp *AppendEntriesResponse
	got, err := encodeRequest(nilReq)
	if want := goMsgpackEncode(t, false, nilReq); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("nil request: wrote %q (%v), go-msgpack writes %q", got, err, want)
	}
	if got, want := appendAppendEntriesResponse(nil, nilResp), goMsgpackEncode(t, false, nilResp); !bytes.Equal(got, want) {
		t.Fatalf("nil response: wrote %q, go-msgpack writes %q", got, want)
	}
	r := codecRand{rand.New(rand.NewSource(1))}
	for i := 0; i < 3000; i++ {
		req := r.request()
		got, err := encodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := goMsgpackEncode(t, false, req); !bytes.Equal(got, want) {
			t.Fatalf("request %d: hand-written codec wrote\n%q\ngo-msgpack writes\n%q", i, got, want)
		}
		resp := r.response()
		msg := string(r.bytes())
		got = appendAppendEntriesResponse(appendMsgpString(nil, msg), resp)
		if want := goMsgpackEncode(t, false, msg, resp); !bytes.Equal(got, want) {
			t.Fatalf("response %d: hand-written codec wrote\n%q\ngo-msgpack writes\n%q", i, got, want)
		}
	}
}

func TestAppendEntriesCodecReadsGoMsgpack(t *testing.T) {
	r := codecRand{rand.New(rand.NewSource(2))}
	for _, newTime := range []bool{false, true} {
		for i := 0; i < 2000; i++ {
			// Two requests back to back: each decode must consume exactly
			// its own bytes.
			a, b := r.request(), r.request()
			stream := goMsgpackEncode(t, newTime, a, b)
			want := bufio.NewReader(bytes.NewReader(stream))
			br := bufio.NewReader(bytes.NewReader(stream))
			for j := 0; j < 2; j++ {
				w, err := goMsgpackDecodeRequest(want)
				if err != nil {
					t.Fatal(err)
				}
				var got AppendEntriesRequest
				if err := decodeAppendEntriesRequest(br, &got); err != nil {
					t.Fatalf("new time format %v, request %d.%d: %v", newTime, i, j, err)
				}
				if !reflect.DeepEqual(&got, w) {
					t.Fatalf("new time format %v, request %d.%d: decoded\n%#v\ngo-msgpack decodes\n%#v", newTime, i, j, &got, w)
				}
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("bytes left after two requests: %v", err)
			}

			resp, msg := r.response(), string(r.bytes())
			br = bufio.NewReader(bytes.NewReader(goMsgpackEncode(t, newTime, msg, resp)))
			gotMsg, err := decodeRPCError(br)
			if err != nil || gotMsg != msg {
				t.Fatalf("error string %q: decoded %q, %v", msg, gotMsg, err)
			}
			var got AppendEntriesResponse
			if err := decodeAppendEntriesResponse(br, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, resp) {
				t.Fatalf("response %d: decoded %#v, want %#v", i, &got, resp)
			}
		}
	}
}

func TestAppendEntriesCodecOutputReadByGoMsgpack(t *testing.T) {
	r := codecRand{rand.New(rand.NewSource(3))}
	for i := 0; i < 1000; i++ {
		req := r.request()
		b, err := encodeRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := goMsgpackDecodeRequest(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("request %d: go-msgpack cannot read the hand-written codec's bytes: %v", i, err)
		}
		var again AppendEntriesRequest
		if err := decodeAppendEntriesRequest(bufio.NewReader(bytes.NewReader(b)), &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &again) {
			t.Fatalf("request %d: go-msgpack reads\n%#v\nthe hand-written codec reads\n%#v", i, got, &again)
		}
	}
}

func TestAppendEntriesCodecSkipsUnknownFields(t *testing.T) {
	// A later version of the struct with fields this one lacks, one of
	// them nested, must decode to the known fields, as go-msgpack does.
	type futureLog struct {
		Index   uint64
		Weights []float64
		Meta    map[string]interface{}
	}
	type futureRequest struct {
		Term     uint64
		Entries  []futureLog
		Priority float32
		Blob     []byte
		Extra    map[string][]int
	}
	in := futureRequest{
		Term: 9, Priority: 1.5, Blob: make([]byte, 300),
		Extra:   map[string][]int{"a": {1, -200, 70000}},
		Entries: []futureLog{{Index: 4, Weights: []float64{0.5}, Meta: map[string]interface{}{"k": "v", "n": nil, "t": true}}},
	}
	stream := goMsgpackEncode(t, false, in)
	want, err := goMsgpackDecodeRequest(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	var got AppendEntriesRequest
	if err := decodeAppendEntriesRequest(bufio.NewReader(bytes.NewReader(stream)), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) || got.Term != 9 || len(got.Entries) != 1 || got.Entries[0].Index != 4 {
		t.Fatalf("decoded %#v, want %#v", &got, want)
	}
}

func TestAppendEntriesCodecRejectsTruncatedAndMalformed(t *testing.T) {
	req := &AppendEntriesRequest{
		RPCHeader: RPCHeader{ProtocolVersion: 3, ID: []byte("n1"), Addr: []byte("127.0.0.1:7571")},
		Term:      4, PrevLogEntry: 100, PrevLogTerm: 4, LeaderCommitIndex: 99,
		Entries: []*Log{{Index: 101, Term: 4, Type: LogCommand, Data: make([]byte, 1100), AppendedAt: time.Now()}},
	}
	full, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(full); n++ {
		var got AppendEntriesRequest
		err := decodeAppendEntriesRequest(bufio.NewReader(bytes.NewReader(full[:n])), &got)
		if n > 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d of %d bytes: err = %v, want io.ErrUnexpectedEOF", n, len(full), err)
		}
		if n == 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("no bytes: err = %v", err)
		}
	}
	for name, b := range map[string][]byte{
		"array for the struct":   {0x91, 0x01},
		"string for a number":    {0x81, 0xa4, 'T', 'e', 'r', 'm', 0xa1, 'x'},
		"negative number":        {0x81, 0xa4, 'T', 'e', 'r', 'm', 0xff},
		"type over a byte":       {0x81, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0x91, 0x81, 0xa4, 'T', 'y', 'p', 'e', 0xcd, 0x01, 0x00},
		"bad time":               {0x81, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0x91, 0x81, 0xaa, 'A', 'p', 'p', 'e', 'n', 'd', 'e', 'd', 'A', 't', 0xa2, 9, 9},
		"unknown type byte":      {0x81, 0xa1, 'z', 0xc1},
		"deep nesting":           append([]byte{0x81, 0xa1, 'z'}, bytes.Repeat([]byte{0x91}, 100)...),
		"huge length, few bytes": {0x81, 0xa6, 'L', 'e', 'a', 'd', 'e', 'r', 0xdb, 0xff, 0xff, 0xff, 0xff, 1, 2},
		"a field twice":          {0x82, 0xa4, 'T', 'e', 'r', 'm', 0x01, 0xa4, 'T', 'e', 'r', 'm', 0x02},
		"1-byte timestamp":       {0x81, 0xa1, 'z', 0xd4, 0xff, 0x00},
	} {
		var got AppendEntriesRequest
		err := decodeAppendEntriesRequest(bufio.NewReader(bytes.NewReader(b)), &got)
		if err == nil {
			t.Errorf("%s: decoded %#v, want an error", name, got)
		}
	}
}

// FuzzAppendEntriesCodecDecode feeds the decoders arbitrary bytes: they must
// not panic, and whatever they accept go-msgpack must accept too, read to
// the same value from the same number of bytes.
func FuzzAppendEntriesCodecDecode(f *testing.F) {
	r := codecRand{rand.New(rand.NewSource(4))}
	for i := 0; i < 8; i++ {
		req := r.request()
		for _, l := range req.Entries {
			if l != nil && len(l.Data) > 100 {
				l.Data = l.Data[:100]
			}
		}
		b, err := encodeRequest(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(goMsgpackEncode(f, true, req))
		f.Add(appendAppendEntriesResponse(nil, r.response()))
	}
	// Inputs go-msgpack rejects or reads differently: an unknown field
	// holding a timestamp extension of a length it refuses, and Entries
	// twice (go-msgpack decodes the second into the first's entries).
	f.Add([]byte{0x81, 0xa1, 'z', 0xd4, 0xff, 0x00})
	f.Add([]byte{0x82, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0x91, 0x81, 0xa5, 'I', 'n', 'd', 'e', 'x', 0x05,
		0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0x91, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		var got AppendEntriesRequest
		if err := decodeAppendEntriesRequest(br, &got); err == nil {
			used := len(b) - br.Buffered()
			ref := bytes.NewReader(b)
			want, err := goMsgpackDecodeRequest(ref)
			if err != nil {
				t.Fatalf("accepted %q, which go-msgpack rejects: %v", b, err)
			}
			if !reflect.DeepEqual(&got, want) {
				t.Fatalf("%q: decoded\n%#v\ngo-msgpack decodes\n%#v", b, &got, want)
			}
			if refUsed := len(b) - ref.Len(); refUsed != used {
				t.Fatalf("%q: read %d bytes, go-msgpack %d", b, used, refUsed)
			}
		}

		br = bufio.NewReader(bytes.NewReader(b))
		var resp AppendEntriesResponse
		if err := decodeAppendEntriesResponse(br, &resp); err == nil {
			var want AppendEntriesResponse
			if err := codec.NewDecoder(bytes.NewReader(b), &codec.MsgpackHandle{}).Decode(&want); err != nil {
				t.Fatalf("accepted response %q, which go-msgpack rejects: %v", b, err)
			}
			if !reflect.DeepEqual(resp, want) {
				t.Fatalf("response %q: decoded %#v, go-msgpack %#v", b, resp, want)
			}
		}
	})
}

func BenchmarkAppendEntriesCodec(b *testing.B) {
	req := &AppendEntriesRequest{
		RPCHeader: RPCHeader{ProtocolVersion: 3, ID: []byte("n1"), Addr: []byte("127.0.0.1:7571")},
		Term:      5, PrevLogEntry: 1000, PrevLogTerm: 5, LeaderCommitIndex: 999,
		Entries: []*Log{{Index: 1001, Term: 5, Type: LogCommand, Data: make([]byte, 1100), AppendedAt: time.Now()}},
	}
	resp := &AppendEntriesResponse{RPCHeader: RPCHeader{ProtocolVersion: 3, ID: []byte("n2"), Addr: []byte("127.0.0.1:7671")}, Term: 5, LastLog: 1001, Success: true}
	// One request and its response, written and read as the transport
	// does, with the decoders and buffers reused across iterations.
	b.Run("go-msgpack", func(b *testing.B) {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		br := bufio.NewReader(&buf)
		enc := codec.NewEncoder(w, &codec.MsgpackHandle{BasicHandle: codec.BasicHandle{TimeNotBuiltin: true}})
		dec := codec.NewDecoder(br, &codec.MsgpackHandle{})
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = enc.Encode(req)
			_ = enc.Encode("")
			_ = enc.Encode(resp)
			_ = w.Flush()
			var r2 AppendEntriesRequest
			var s string
			var p2 AppendEntriesResponse
			if err := dec.Decode(&r2); err != nil {
				b.Fatal(err)
			}
			if err := dec.Decode(&s); err != nil {
				b.Fatal(err)
			}
			if err := dec.Decode(&p2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hand-written", func(b *testing.B) {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		br := bufio.NewReader(&buf)
		var scratch []byte
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			scratch, _ = writeAppendEntriesRequest(w, scratch, req)
			scratch = appendAppendEntriesResponse(appendMsgpString(scratch[:0], ""), resp)
			_, _ = w.Write(scratch)
			_ = w.Flush()
			var r2 AppendEntriesRequest
			var p2 AppendEntriesResponse
			if err := decodeAppendEntriesRequest(br, &r2); err != nil {
				b.Fatal(err)
			}
			if _, err := decodeRPCError(br); err != nil {
				b.Fatal(err)
			}
			if err := decodeAppendEntriesResponse(br, &p2); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendEntriesCodecSharesConnectionsWithGoMsgpack sends AppendEntries
// (hand-written codec) and other RPCs (go-msgpack) in turn over the same
// pooled connection, one answered with an error, so that each codec must
// leave the stream exactly where the other expects it.
func TestAppendEntriesCodecSharesConnectionsWithGoMsgpack(t *testing.T) {
	trans1, err := makeTransport(t, false, "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer trans1.Close()
	trans2, err := makeTransport(t, false, string(trans1.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer trans2.Close()

	aeResp := makeAppendRPCResponse()
	voteResp := RequestVoteResponse{RPCHeader: RPCHeader{ProtocolVersion: 3, ID: []byte("n1")}, Term: 7, Granted: true}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for i := 0; ; i++ {
			select {
			case rpc := <-trans1.Consumer():
				switch rpc.Command.(type) {
				case *AppendEntriesRequest:
					if i%4 == 2 {
						rpc.Respond(&AppendEntriesResponse{Term: 9}, errors.New("not now"))
					} else {
						rpc.Respond(&aeResp, nil)
					}
				case *RequestVoteRequest:
					rpc.Respond(&voteResp, nil)
				}
			case <-done:
				return
			}
		}
	}()

	args := makeAppendRPC()
	for i := 0; i < 12; i++ {
		if i%2 == 1 {
			var out RequestVoteResponse
			if err := trans2.RequestVote("id1", trans1.LocalAddr(), &RequestVoteRequest{Term: 7}, &out); err != nil {
				t.Fatalf("RPC %d (vote): %v", i, err)
			}
			if !reflect.DeepEqual(out, voteResp) {
				t.Fatalf("RPC %d (vote): got %#v, want %#v", i, out, voteResp)
			}
			continue
		}
		var out AppendEntriesResponse
		err := trans2.AppendEntries("id1", trans1.LocalAddr(), &args, &out)
		if i%4 == 2 {
			if err == nil || err.Error() != "not now" || out.Term != 9 {
				t.Fatalf("RPC %d (append, answered with an error): err %v, response %#v", i, err, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("RPC %d (append): %v", i, err)
		}
		if !reflect.DeepEqual(out, aeResp) {
			t.Fatalf("RPC %d (append): got %#v, want %#v", i, out, aeResp)
		}
	}
}
