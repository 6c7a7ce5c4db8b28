package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// DefaultMaxFrameSize is the largest frame a Reader accepts unless told
// otherwise: the length prefix's value N (type, request ID and payload).
const DefaultMaxFrameSize = 16 << 20

// headerSize is the fixed part of a frame: a 4-byte length, the type byte and
// the 8-byte request ID.
const headerSize = 13

// minFrameLen is the smallest valid length prefix: type and request ID.
const minFrameLen = headerSize - 4

const (
	// ioBufferSize is the size of the Reader's read buffer and the Writer's
	// automatic flush threshold. A frame's payload that fits is handed out
	// without a copy.
	ioBufferSize = 64 << 10
	// keepBufferSize: a scratch buffer that grew above this for one large
	// frame is dropped afterwards, so one burst does not pin memory for the
	// connection's lifetime.
	keepBufferSize = 1 << 20
)

// Frame is one decoded frame.
//
// Payload aliases the Reader's internal buffer: it is valid only until the
// next call to Next. Decode copies everything it keeps, so a decoded value
// outlives the frame; code that keeps the raw bytes must copy them.
type Frame struct {
	// Type says what the payload holds.
	Type Type
	// ReqID is the request ID: chosen by the client, echoed in the response,
	// 0 in server pushes.
	ReqID uint64
	// Payload is the msgpack-encoded body, possibly empty.
	Payload []byte
}

// Reader reads frames from a byte stream. It buffers its input. It is not
// safe for concurrent use. After Next returns an error every later call
// returns the same error: the stream cannot be resynchronised.
type Reader struct {
	br  *bufio.Reader
	max int
	hdr [headerSize]byte
	buf []byte
	err error
}

// NewReader returns a Reader that reads frames from r and refuses any frame
// whose length prefix exceeds maxFrame bytes. maxFrame <= 0 means
// DefaultMaxFrameSize.
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	maxFrame = max(maxFrame, minFrameLen)
	return &Reader{br: bufio.NewReaderSize(r, ioBufferSize), max: maxFrame}
}

// MaxFrameSize returns the largest length prefix the Reader accepts.
func (r *Reader) MaxFrameSize() int { return r.max }

// Next reads the next frame. The returned Payload is valid until the next
// call to Next.
//
// Errors:
//   - io.EOF: the stream ended cleanly between two frames.
//   - ErrFrameTooLarge (wrapped): the length prefix exceeds the maximum. The
//     frame's header has been read and the returned Frame carries its Type
//     and ReqID, so the caller can answer it; the body has been neither read
//     nor allocated.
//   - ErrMalformed (wrapped): the length prefix is below 9, or the stream
//     ended inside a frame (then the error also wraps io.ErrUnexpectedEOF).
//   - any other error from the underlying reader, wrapped.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	if cap(r.buf) > keepBufferSize {
		r.buf = nil
	}
	if _, err := io.ReadFull(r.br, r.hdr[:4]); err != nil {
		if err == io.EOF {
			r.err = io.EOF
			return Frame{}, io.EOF
		}
		return Frame{}, r.fail(err, "read frame length")
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	if n < minFrameLen {
		r.err = fmt.Errorf("%w: frame length %d is below the %d-byte header", ErrMalformed, n, minFrameLen)
		return Frame{}, r.err
	}
	if _, err := io.ReadFull(r.br, r.hdr[4:]); err != nil {
		return Frame{}, r.fail(err, "read frame header")
	}
	f := Frame{Type: Type(r.hdr[4]), ReqID: binary.BigEndian.Uint64(r.hdr[5:])}
	if uint64(n) > uint64(r.max) {
		r.err = fmt.Errorf("wire: %s frame of %d bytes exceeds the maximum of %d: %w", f.Type, n, r.max, ErrFrameTooLarge)
		return f, r.err
	}
	size := int(n) - minFrameLen
	if size == 0 {
		return f, nil
	}
	if size <= r.br.Size() {
		// Zero copy: the payload stays in bufio's buffer until the next read.
		p, err := r.br.Peek(size)
		if err != nil {
			return Frame{}, r.fail(err, "read frame payload")
		}
		if _, err := r.br.Discard(size); err != nil {
			return Frame{}, r.fail(err, "read frame payload")
		}
		f.Payload = p
		return f, nil
	}
	p, err := r.readLarge(size)
	if err != nil {
		return Frame{}, r.fail(err, "read frame payload")
	}
	f.Payload = p
	return f, nil
}

// readLarge reads a payload larger than the read buffer into r.buf. It grows
// the buffer as bytes arrive (doubling), so a peer that announces a large
// frame and sends little makes the Reader allocate little.
func (r *Reader) readLarge(size int) ([]byte, error) {
	if cap(r.buf) >= size {
		r.buf = r.buf[:size]
		_, err := io.ReadFull(r.br, r.buf)
		return r.buf, err
	}
	have := 0
	buf := r.buf[:0]
	for have < size {
		next := min(size, max(2*cap(buf), 2*ioBufferSize))
		grown := make([]byte, next)
		copy(grown, buf[:have])
		buf = grown
		r.buf = buf
		if _, err := io.ReadFull(r.br, buf[have:next]); err != nil {
			return nil, err
		}
		have = next
	}
	return buf, nil
}

// fail records and returns a read error that happened inside a frame.
func (r *Reader) fail(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		r.err = fmt.Errorf("%w: %s: stream ended inside a frame: %w", ErrMalformed, what, io.ErrUnexpectedEOF)
	} else {
		r.err = fmt.Errorf("wire: %s: %w", what, err)
	}
	return r.err
}

// Writer writes frames to a byte stream through a buffer. It is not safe for
// concurrent use: callers serialise WriteFrame and Flush with their own lock.
// After a write to the underlying writer fails, every later call returns that
// error.
type Writer struct {
	w   io.Writer
	buf []byte
	max int
	err error
	enc *msgpack.Encoder // for payloads without a hand-written encoder
}

// NewWriter returns a Writer that buffers frames for w. It refuses frames
// above DefaultMaxFrameSize (see SetMaxFrameSize).
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, max: DefaultMaxFrameSize, buf: make([]byte, 0, ioBufferSize)}
}

// SetMaxFrameSize sets the largest length prefix WriteFrame produces; a
// larger frame is refused with ErrFrameTooLarge instead of being sent to a
// peer that would close the connection. n <= 0 means DefaultMaxFrameSize.
func (w *Writer) SetMaxFrameSize(n int) {
	if n <= 0 {
		n = DefaultMaxFrameSize
	}
	w.max = max(n, minFrameLen)
}

// WriteFrame appends one frame to the buffer. payload is msgpack-encoded
// directly into the buffer: the package's payload types (and pointers to
// them) by their hand-written encoders, a msgpack.RawMessage as is, anything
// else with the msgpack library. A nil payload (or nil pointer) sends an
// empty payload.
//
// When the buffer holds 64 KiB or more after the frame, WriteFrame flushes
// it. An encoding error or ErrFrameTooLarge leaves the buffer as it was and
// the Writer usable.
func (w *Writer) WriteFrame(t Type, reqID uint64, payload any) error {
	if w.err != nil {
		return w.err
	}
	start := len(w.buf)
	w.buf = append(w.buf, make([]byte, headerSize)...)
	if err := w.appendPayload(payload); err != nil {
		w.buf = w.buf[:start]
		return fmt.Errorf("wire: encode %s payload: %w", t, err)
	}
	n := len(w.buf) - start - 4
	if n > w.max {
		w.buf = w.buf[:start]
		return fmt.Errorf("wire: %s frame of %d bytes exceeds the maximum of %d: %w", t, n, w.max, ErrFrameTooLarge)
	}
	h := w.buf[start : start+headerSize]
	binary.BigEndian.PutUint32(h, uint32(n))
	h[4] = byte(t)
	binary.BigEndian.PutUint64(h[5:], reqID)
	if len(w.buf) >= ioBufferSize {
		return w.Flush()
	}
	return nil
}

func (w *Writer) appendPayload(payload any) error {
	switch p := payload.(type) {
	case nil:
		return nil
	case appender:
		if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && v.IsNil() {
			return nil
		}
		w.buf = p.appendMsgpack(w.buf)
		return nil
	case msgpack.RawMessage:
		w.buf = append(w.buf, p...)
		return nil
	}
	if w.enc == nil {
		w.enc = msgpack.NewEncoder((*appendWriter)(&w.buf))
	}
	return w.enc.Encode(payload)
}

// Flush writes the buffered frames to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	if err != nil {
		w.err = fmt.Errorf("wire: write frames: %w", err)
		return w.err
	}
	if cap(w.buf) > keepBufferSize {
		w.buf = make([]byte, 0, ioBufferSize)
	} else {
		w.buf = w.buf[:0]
	}
	return nil
}

// Buffered returns the number of bytes written into the buffer and not yet
// flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// appendWriter lets the msgpack library's Encoder append to a byte slice.
type appendWriter []byte

func (a *appendWriter) Write(p []byte) (int, error) {
	*a = append(*a, p...)
	return len(p), nil
}

func (a *appendWriter) WriteByte(c byte) error {
	*a = append(*a, c)
	return nil
}

func (a *appendWriter) WriteString(s string) (int, error) {
	*a = append(*a, s...)
	return len(s), nil
}
