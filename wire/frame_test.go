package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/vmihailenco/msgpack/v5"
)

// header returns a frame header with length prefix n.
func header(n uint32, t Type, reqID uint64) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	b = append(b, byte(t))
	return binary.BigEndian.AppendUint64(b, reqID)
}

type sentFrame struct {
	t       Type
	id      uint64
	payload any
}

// stream encodes frames with a Writer and returns the bytes.
func stream(t testing.TB, frames []sentFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, f := range frames {
		if err := w.WriteFrame(f.t, f.id, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pipelined() []sentFrame {
	var frames []sentFrame
	for i := range 500 {
		switch i % 5 {
		case 0:
			frames = append(frames, sentFrame{TPublish, uint64(i + 1), &Publish{Messages: []PublishMessage{fullPublishMessage(i % 50)}}})
		case 1:
			frames = append(frames, sentFrame{TConfirm, uint64(i + 1), &Confirm{Results: []PublishResult{{Status: Routed, Queues: int32(i)}}, Term: 1, Index: uint64(i)}})
		case 2:
			frames = append(frames, sentFrame{TStatus, uint64(i + 1), nil})
		case 3:
			frames = append(frames, sentFrame{TAck, uint64(i + 1), &Ack{Queue: "q", Seqs: []uint64{uint64(i)}}})
		case 4:
			// Larger than the read buffer: read through the scratch buffer.
			if i%100 == 4 {
				frames = append(frames, sentFrame{TDeliver, 0, &Deliver{ConsumerID: 1, Deliveries: []Delivery{{Queue: "q", Body: bytes.Repeat([]byte{byte(i)}, 3*ioBufferSize)}}}})
			} else {
				frames = append(frames, sentFrame{TDeliver, 0, &Deliver{ConsumerID: 1, Deliveries: []Delivery{fullDelivery(i)}}})
			}
		}
	}
	return frames
}

// readAll reads every frame and checks it against what was sent.
func readAll(t *testing.T, r *Reader, sent []sentFrame) {
	t.Helper()
	for i, s := range sent {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.Type != s.t || f.ReqID != s.id {
			t.Fatalf("frame %d: header %s/%d, want %s/%d", i, f.Type, f.ReqID, s.t, s.id)
		}
		if s.payload == nil {
			if len(f.Payload) != 0 {
				t.Fatalf("frame %d: payload %x, want none", i, f.Payload)
			}
			continue
		}
		got := newLike(s.payload)
		if err := Decode(f, got); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, s.payload) {
			t.Fatalf("frame %d: got %+v, want %+v", i, got, s.payload)
		}
	}
	if f, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last frame: %+v, %v; want io.EOF", f, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("EOF is not sticky: %v", err)
	}
}

func TestReaderPipelined(t *testing.T) {
	sent := pipelined()
	data := stream(t, sent)
	t.Run("one buffer", func(t *testing.T) {
		readAll(t, NewReader(bytes.NewReader(data), 0), sent)
	})
	t.Run("one byte at a time", func(t *testing.T) {
		readAll(t, NewReader(iotest.OneByteReader(bytes.NewReader(data)), 0), sent)
	})
	t.Run("half reads", func(t *testing.T) {
		readAll(t, NewReader(iotest.HalfReader(bytes.NewReader(data)), 0), sent)
	})
}

// chunkReader returns one chunk per Read, so bufio refills its buffer from
// the start and overwrites the previous frame's bytes.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// TestReaderDecodedOutlivesFrame: a value decoded from a frame stays intact
// after Next reuses the buffer the frame's payload aliased.
func TestReaderDecodedOutlivesFrame(t *testing.T) {
	first := &Deliver{ConsumerID: 1, Deliveries: []Delivery{fullDelivery(1)}}
	second := &Deliver{ConsumerID: 2, Deliveries: []Delivery{fullDelivery(2)}}
	a := stream(t, []sentFrame{{TDeliver, 0, first}})
	b := stream(t, []sentFrame{{TDeliver, 0, second}})
	r := NewReader(&chunkReader{chunks: [][]byte{a, b}}, 0)
	f, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	payload := f.Payload
	var got Deliver
	if err := Decode(f, &got); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(payload, a[headerSize:]) {
		t.Fatal("test is void: the second frame did not overwrite the first one's buffer")
	}
	if !reflect.DeepEqual(&got, first) {
		t.Fatalf("decoded value changed after Next: %+v", got)
	}
}

// failingReader fails the test if anything reads from it.
type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("the frame body was read")
	return 0, io.ErrUnexpectedEOF
}

func TestReaderFrameTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		n    uint32
	}{
		{"default max", 0, DefaultMaxFrameSize + 1},
		{"small max", 100, 101},
		{"4 GiB", 0, 0xffffffff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := io.MultiReader(bytes.NewReader(header(tc.n, TPublish, 77)), failingReader{t})
			var f Frame
			var err error
			alloc := allocatedBytes(func() {
				r := NewReader(in, tc.max)
				f, err = r.Next()
				if _, again := r.Next(); again != err {
					t.Errorf("error is not sticky: %v then %v", err, again)
				}
			})
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("err = %v, want ErrFrameTooLarge", err)
			}
			if CodeOf(err) != CodeFrameTooLarge {
				t.Fatalf("CodeOf = %s", CodeOf(err))
			}
			if f.Type != TPublish || f.ReqID != 77 || f.Payload != nil {
				t.Fatalf("frame = %+v, want the header of the refused frame", f)
			}
			if alloc > 2*ioBufferSize {
				t.Fatalf("refusing the frame allocated %d bytes", alloc)
			}
		})
	}
	// Exactly the maximum is accepted.
	data := append(header(100, TPublish, 1), make([]byte, 91)...)
	if _, err := NewReader(bytes.NewReader(data), 100).Next(); err != nil {
		t.Fatalf("frame of exactly the maximum: %v", err)
	}
}

func TestReaderShortLength(t *testing.T) {
	for n := range uint32(minFrameLen) {
		data := append(header(n, TPublish, 1), make([]byte, 32)...)
		_, err := NewReader(bytes.NewReader(data), 0).Next()
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("length %d: err = %v, want ErrMalformed", n, err)
		}
	}
}

// TestReaderTruncated cuts a valid stream at every byte: a cut between frames
// is a clean io.EOF, a cut inside one is ErrMalformed and io.ErrUnexpectedEOF.
func TestReaderTruncated(t *testing.T) {
	sent := []sentFrame{
		{TAck, 1, &Ack{Queue: "q", Seqs: []uint64{1, 2, 3}}},
		{TStatus, 2, nil},
		{TNack, 3, &Nack{Queue: "q", Seqs: []uint64{4}}},
	}
	data := stream(t, sent)
	boundaries := map[int]int{0: 0}
	off := 0
	for i := range sent {
		off += 4 + int(binary.BigEndian.Uint32(data[off:]))
		boundaries[off] = i + 1
	}
	for cut := range len(data) {
		r := NewReader(bytes.NewReader(data[:cut]), 0)
		frames := 0
		var err error
		for {
			if _, err = r.Next(); err != nil {
				break
			}
			frames++
		}
		if want, clean := boundaries[cut]; clean {
			if err != io.EOF || frames != want {
				t.Fatalf("cut at %d (a boundary): %d frames then %v; want %d then io.EOF", cut, frames, err, want)
			}
			continue
		}
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d: err = %v, want ErrMalformed and io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// TestReaderLargeAnnouncedSmallSent: a peer that announces a large frame and
// sends little makes the Reader allocate little.
func TestReaderLargeAnnouncedSmallSent(t *testing.T) {
	data := append(header(DefaultMaxFrameSize, TPublish, 1), make([]byte, 1000)...)
	var err error
	alloc := allocatedBytes(func() {
		_, err = NewReader(bytes.NewReader(data), 0).Next()
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc > 4*ioBufferSize {
		t.Fatalf("allocated %d bytes for a frame cut after 1000 bytes", alloc)
	}
}

func TestReaderReleasesLargeBuffer(t *testing.T) {
	big := &Publish{Messages: []PublishMessage{{Body: make([]byte, 2*keepBufferSize)}}}
	data := stream(t, []sentFrame{{TPublish, 1, big}, {TStatus, 2, nil}})
	r := NewReader(bytes.NewReader(data), 0)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if cap(r.buf) < 2*keepBufferSize {
		t.Fatalf("scratch buffer cap %d after a large frame", cap(r.buf))
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.buf != nil {
		t.Fatalf("scratch buffer of cap %d kept after the large frame", cap(r.buf))
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteFrame(TStatus, 1, nil); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != headerSize || buf.Len() != 0 {
		t.Fatalf("Buffered = %d, written = %d; want %d, 0", w.Buffered(), buf.Len(), headerSize)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 || !bytes.Equal(buf.Bytes(), header(minFrameLen, TStatus, 1)) {
		t.Fatalf("Buffered = %d, written %x", w.Buffered(), buf.Bytes())
	}

	// A nil pointer payload is an empty payload; a RawMessage goes as is.
	buf.Reset()
	if err := w.WriteFrame(TPublish, 2, (*Publish)(nil)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(TOK, 3, msgpack.RawMessage{0x91, 0x05}); err != nil {
		t.Fatal(err)
	}
	// Any other type goes through the msgpack library.
	if err := w.WriteFrame(TOK, 4, []any{int64(6)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 0)
	if f, err := r.Next(); err != nil || len(f.Payload) != 0 || f.ReqID != 2 {
		t.Fatalf("nil pointer payload: %+v, %v", f, err)
	}
	for _, want := range []int64{5, 6} {
		f, err := r.Next()
		var ok OK
		if err == nil {
			err = Decode(f, &ok)
		}
		if err != nil || ok.Count != want {
			t.Fatalf("got %+v, %v; want count %d", ok, err, want)
		}
	}

	// An unencodable payload leaves the Writer usable.
	if err := w.WriteFrame(TOK, 5, make(chan int)); err == nil {
		t.Fatal("encoded a channel")
	}
	if w.Buffered() != 0 {
		t.Fatalf("failed frame left %d bytes buffered", w.Buffered())
	}
}

func TestWriterAutoFlush(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	body := make([]byte, 1000)
	frames := 0
	for buf.Len() == 0 {
		if err := w.WriteFrame(TPublish, uint64(frames), &Publish{Messages: []PublishMessage{{Body: body}}}); err != nil {
			t.Fatal(err)
		}
		frames++
		if frames > 100 {
			t.Fatalf("no flush after %d bytes", w.Buffered())
		}
	}
	if buf.Len() < ioBufferSize || w.Buffered() != 0 {
		t.Fatalf("auto flush wrote %d bytes and kept %d", buf.Len(), w.Buffered())
	}
}

func TestWriterMaxFrameSize(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetMaxFrameSize(100)
	if err := w.WriteFrame(TAck, 1, &Ack{Queue: "q", Seqs: make([]uint64, 200)}); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if w.Buffered() != 0 {
		t.Fatalf("refused frame left %d bytes buffered", w.Buffered())
	}
	if err := w.WriteFrame(TAck, 2, &Ack{Queue: "q", Seqs: make([]uint64, 10)}); err != nil {
		t.Fatalf("after a refused frame: %v", err)
	}
	w.SetMaxFrameSize(0)
	if err := w.WriteFrame(TAck, 3, &Ack{Queue: "q", Seqs: make([]uint64, 200)}); err != nil {
		t.Fatalf("default maximum: %v", err)
	}
}

func TestWriterStickyError(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(errWriter{boom})
	if err := w.WriteFrame(TStatus, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want boom", err)
	}
	if err := w.WriteFrame(TStatus, 2, nil); !errors.Is(err, boom) {
		t.Fatalf("WriteFrame after a failed flush = %v, want boom", err)
	}
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Fatalf("second Flush = %v, want boom", err)
	}
}

func TestReaderUnderlyingError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(iotest.ErrReader(boom), 0)
	if _, err := r.Next(); !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("error is not sticky: %v", err)
	}
}

func TestTypeString(t *testing.T) {
	seen := map[string]Type{}
	for i := range 256 {
		ty := Type(i)
		s := ty.String()
		if !ty.Known() {
			if s != "type("+strconv.Itoa(i)+")" {
				t.Fatalf("unknown type %d: %q", i, s)
			}
			continue
		}
		if prev, dup := seen[s]; dup {
			t.Fatalf("types %d and %d share the name %q", prev, ty, s)
		}
		seen[s] = ty
	}
	if len(seen) != 31 {
		t.Fatalf("%d known types, want 31", len(seen))
	}
	if THello.String() != "hello" || TRemoveNode.String() != "remove-node" {
		t.Fatalf("names: %s %s", THello, TRemoveNode)
	}
}
