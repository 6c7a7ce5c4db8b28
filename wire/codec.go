package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// appender is implemented by every payload type of this package: it appends
// the value's msgpack encoding to b.
type appender interface {
	appendMsgpack(b []byte) []byte
}

// decodable is implemented by pointers to every payload type of this
// package: it decodes the value from d, assigning every field.
type decodable interface {
	decodeMsgpack(d *decoder)
}

// Marshal returns the msgpack encoding of v: by its hand-written encoder for
// this package's payload types, by the msgpack library otherwise.
func Marshal(v any) ([]byte, error) {
	if a, ok := v.(appender); ok {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return []byte{mpNil}, nil
		}
		return a.appendMsgpack(nil), nil
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal %T: %w", v, err)
	}
	return b, nil
}

// Unmarshal decodes the msgpack bytes b into v, which must be a non-nil
// pointer. This package's payload types use their hand-written decoders,
// which never panic and never allocate more than a small multiple of len(b);
// other types go through the msgpack library. Every error wraps ErrMalformed.
// Bytes after the first complete value are ignored. The decoded value copies
// what it keeps: it does not alias b.
func Unmarshal(b []byte, v any) error {
	if dv, ok := v.(decodable); ok {
		if rv := reflect.ValueOf(v); rv.IsNil() {
			return fmt.Errorf("%w: decode into nil %T", ErrMalformed, v)
		}
		d := decoder{b: b}
		dv.decodeMsgpack(&d)
		if d.err != nil {
			return fmt.Errorf("wire: decode %T: %w", v, d.err)
		}
		return nil
	}
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: decode %T: %w", ErrMalformed, v, err)
	}
	return nil
}

// Decode decodes f's payload into v (a non-nil pointer, normally to the
// payload type that f.Type carries). An empty payload decodes as v's zero
// value. It never panics, whatever the bytes; errors wrap ErrMalformed. The
// decoded value does not alias f.Payload.
func Decode(f Frame, v any) error {
	if len(f.Payload) == 0 {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return fmt.Errorf("%w: decode %s payload into %T, not a non-nil pointer", ErrMalformed, f.Type, v)
		}
		rv.Elem().SetZero()
		return nil
	}
	if err := Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("wire: %s payload: %w", f.Type, err)
	}
	return nil
}

// msgpack format bytes used by the encoder and decoder.
const (
	mpNil      = 0xc0
	mpFalse    = 0xc2
	mpTrue     = 0xc3
	mpBin8     = 0xc4
	mpBin16    = 0xc5
	mpBin32    = 0xc6
	mpExt8     = 0xc7
	mpExt16    = 0xc8
	mpExt32    = 0xc9
	mpFloat32  = 0xca
	mpFloat64  = 0xcb
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixExt1  = 0xd4
	mpFixExt16 = 0xd8
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpMap16    = 0xde
	mpMap32    = 0xdf
)

// ---- encoding ----

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, mpTrue)
	}
	return append(b, mpFalse)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, mpUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpUint64), v)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, mpInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(v))
}

func appendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, mpStr8, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, mpStr16), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, mpStr32), uint32(n))
	}
	return append(b, s...)
}

// appendBytes encodes p as bin, or nil when p is nil, so that nil and empty
// survive a round trip.
func appendBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, mpNil)
	}
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, mpBin8, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, mpBin16), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, mpBin32), uint32(n))
	}
	return append(b, p...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpArray16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, mpArray32), uint32(n))
}

// appendSlice encodes s as an array of its elements, each appended by each,
// or as nil when s is nil, so that nil and empty survive a round trip.
func appendSlice[T any](b []byte, s []T, each func([]byte, *T) []byte) []byte {
	if s == nil {
		return append(b, mpNil)
	}
	b = appendArrayLen(b, len(s))
	for i := range s {
		b = each(b, &s[i])
	}
	return b
}

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpMap16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, mpMap32), uint32(n))
}

// appendStringMap encodes m as a map, or nil when m is nil. Key order is
// unspecified: nothing compares encoded payloads byte for byte.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, mpNil)
	}
	b = appendMapLen(b, len(m))
	for k, v := range m {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// appendUints is appendSlice for unsigned integers, without the call per
// element.
func appendUints(b []byte, s []uint64) []byte {
	if s == nil {
		return append(b, mpNil)
	}
	b = appendArrayLen(b, len(s))
	for _, v := range s {
		b = appendUint(b, v)
	}
	return b
}

// ---- decoding ----

// errTruncated is the cause of an error for a payload cut short.
var errTruncated = errors.New("unexpected end of payload")

// decoder reads msgpack values from a byte slice. The first error sticks:
// afterwards every read returns a zero value, so decoding functions need not
// check after each field. Lengths are checked against the bytes left before
// anything is allocated, and unknown values are skipped without recursion, so
// no input can make it panic, exhaust the stack, or allocate much more than
// the input's size.
//
// The input stays in b and off moves through it: updating an integer, unlike
// re-slicing, costs no GC write barrier when the decoder lives on the heap.
type decoder struct {
	b   []byte
	off int
	err error
	// owned: b is the decoder's own copy, which nothing else writes, so bytes
	// may return slices of it instead of copies.
	owned bool
}

// own replaces the unread input by a private copy, so that the bodies of a
// batch can share one allocation instead of one each.
func (d *decoder) own() {
	if d.owned || d.err != nil {
		return
	}
	d.b = append([]byte(nil), d.b[d.off:]...)
	d.off = 0
	d.owned = true
}

// left returns the number of bytes not yet read.
func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) failf(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	d.off = len(d.b)
}

func (d *decoder) byte1() byte {
	if off := d.off; uint(off) < uint(len(d.b)) {
		d.off = off + 1
		return d.b[off]
	}
	return d.truncated(1)
}

// truncated records that n more bytes were needed and returns 0.
func (d *decoder) truncated(n uint64) byte {
	d.failf("%w: %d bytes needed, %d left", errTruncated, n, d.left())
	return 0
}

// take returns the next n bytes (aliasing the input).
func (d *decoder) take(n uint64) []byte {
	if off := d.off; n <= uint64(len(d.b)-off) {
		end := off + int(n)
		d.off = end
		return d.b[off:end:end]
	}
	d.truncated(n)
	return nil
}

// be reads an n-byte big-endian unsigned number.
func (d *decoder) be(n int) uint64 {
	var v uint64
	for _, c := range d.take(uint64(n)) {
		v = v<<8 | uint64(c)
	}
	return v
}

// integer reads any msgpack integer. A negative value is returned as its
// two's complement bits with neg set.
func (d *decoder) integer() (v uint64, neg bool) {
	if off := d.off; uint(off) < uint(len(d.b)) && d.b[off] <= 0x7f {
		d.off = off + 1
		return uint64(d.b[off]), false
	}
	return d.integerSlow()
}

func (d *decoder) integerSlow() (v uint64, neg bool) {
	c := d.byte1()
	switch {
	case c <= 0x7f:
		return uint64(c), false
	case c >= 0xe0:
		return uint64(int64(int8(c))), true
	}
	var s int64
	switch c {
	case mpUint8:
		return d.be(1), false
	case mpUint16:
		return d.be(2), false
	case mpUint32:
		return d.be(4), false
	case mpUint64:
		return d.be(8), false
	case mpInt8:
		s = int64(int8(d.be(1)))
	case mpInt16:
		s = int64(int16(d.be(2)))
	case mpInt32:
		s = int64(int32(d.be(4)))
	case mpInt64:
		s = int64(d.be(8))
	default:
		d.failf("expected an integer, found format 0x%02x", c)
		return 0, false
	}
	return uint64(s), s < 0
}

func (d *decoder) uint(limit uint64) uint64 {
	v, neg := d.integer()
	if neg {
		d.failf("integer %d out of range [0, %d]", int64(v), limit)
		return 0
	}
	if v > limit {
		d.failf("integer %d out of range [0, %d]", v, limit)
		return 0
	}
	return v
}

func (d *decoder) u64() uint64 { return d.uint(math.MaxUint64) }
func (d *decoder) u32() uint32 { return uint32(d.uint(math.MaxUint32)) }
func (d *decoder) u16() uint16 { return uint16(d.uint(math.MaxUint16)) }
func (d *decoder) u8() uint8   { return uint8(d.uint(math.MaxUint8)) }

func (d *decoder) i64() int64 {
	v, neg := d.integer()
	if !neg && v > math.MaxInt64 {
		d.failf("integer %d out of range for int64", v)
		return 0
	}
	return int64(v)
}

func (d *decoder) i32() int32 {
	v := d.i64()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.failf("integer %d out of range for int32", v)
		return 0
	}
	return int32(v)
}

func (d *decoder) bool() bool {
	switch c := d.byte1(); c {
	case mpTrue:
		return true
	case mpFalse:
		return false
	default:
		if d.err == nil {
			d.failf("expected a bool, found format 0x%02x", c)
		}
		return false
	}
}

// rawLen reads a str or bin header; isNil reports a msgpack nil.
func (d *decoder) rawLen() (n uint64, isNil bool) {
	if off := d.off; uint(off) < uint(len(d.b)) && d.b[off]&0xe0 == 0xa0 {
		d.off = off + 1
		return uint64(d.b[off] & 0x1f), false
	}
	return d.rawLenSlow()
}

func (d *decoder) rawLenSlow() (n uint64, isNil bool) {
	c := d.byte1()
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return uint64(c & 0x1f), false
	case c == mpNil:
		return 0, true
	case c == mpStr8 || c == mpBin8:
		return d.be(1), false
	case c == mpStr16 || c == mpBin16:
		return d.be(2), false
	case c == mpStr32 || c == mpBin32:
		return d.be(4), false
	}
	if d.err == nil {
		d.failf("expected a string, found format 0x%02x", c)
	}
	return 0, false
}

// str reads a string (str or bin; nil reads as "").
func (d *decoder) str() string {
	n, _ := d.rawLen()
	return string(d.take(n))
}

// strLike reads a string and returns prev instead of a new copy when they are
// equal: batches repeat exchange, routing key and queue names.
func (d *decoder) strLike(prev string) string {
	n, _ := d.rawLen()
	p := d.take(n)
	if string(p) == prev {
		return prev
	}
	return string(p)
}

// bytes reads a bin (or str): a copy, or a slice of the input (capacity
// capped) when the decoder owns it. nil reads as nil, empty as non-nil.
func (d *decoder) bytes() []byte {
	n, isNil := d.rawLen()
	p := d.take(n)
	if isNil || d.err != nil {
		return nil
	}
	if d.owned {
		if p == nil {
			return []byte{}
		}
		return p
	}
	out := make([]byte, len(p))
	copy(out, p)
	return out
}

// arrayLen reads an array header; isNil reports a msgpack nil.
func (d *decoder) arrayLen() (n uint64, isNil bool) {
	if off := d.off; uint(off) < uint(len(d.b)) && d.b[off]&0xf0 == 0x90 {
		d.off = off + 1
		return uint64(d.b[off] & 0x0f), false
	}
	return d.arrayLenSlow()
}

func (d *decoder) arrayLenSlow() (n uint64, isNil bool) {
	return d.containerLen(0x90, mpArray16, mpArray32, "an array")
}

func (d *decoder) mapLen() (n uint64, isNil bool) {
	return d.containerLen(0x80, mpMap16, mpMap32, "a map")
}

// containerLen reads an array or map header: fix is the format that holds
// the length in its low four bits, f16 and f32 those followed by a 16- or
// 32-bit length; isNil reports a msgpack nil.
func (d *decoder) containerLen(fix, f16, f32 byte, what string) (n uint64, isNil bool) {
	c := d.byte1()
	switch {
	case c&0xf0 == fix:
		return uint64(c & 0x0f), false
	case c == mpNil:
		return 0, true
	case c == f16:
		return d.be(2), false
	case c == f32:
		return d.be(4), false
	}
	if d.err == nil {
		d.failf("expected %s, found format 0x%02x", what, c)
	}
	return 0, false
}

// sliceLen reads the header of an array whose elements take at least minElem
// bytes each and fails unless that many elements fit in the bytes left, so a
// caller may allocate n elements.
func (d *decoder) sliceLen(minElem int) (n int, isNil bool) {
	l, isNil := d.arrayLen()
	if l > uint64(d.left()/minElem) {
		d.failf("array of %d elements cannot fit in the %d bytes left", l, d.left())
		return 0, false
	}
	return int(l), isNil
}

// decodeSlice reads an array of elements, each decoded by each and taking at
// least minElemSize bytes (so that a length prefix beyond the bytes left is
// refused before anything is allocated). nil reads as nil, empty as non-nil;
// decoding stops at the first error.
func decodeSlice[T any](d *decoder, minElemSize int, each func(*T, *decoder)) []T {
	s := makeSlice[T](d, minElemSize)
	for i := 0; i < len(s) && d.err == nil; i++ {
		each(&s[i], d)
	}
	return s
}

// decodeBatch is decodeSlice for a batch of messages: each element is
// decoded along with the previous one (nil for the first), whose names it
// may share.
func decodeBatch[T any](d *decoder, minElemSize int, each func(m, prev *T, d *decoder)) []T {
	s := makeSlice[T](d, minElemSize)
	var prev *T
	for i := 0; i < len(s) && d.err == nil; i++ {
		each(&s[i], prev, d)
		prev = &s[i]
	}
	return s
}

// makeSlice reads the header of an array of elements taking at least
// minElemSize bytes each, and returns a slice of that many zero elements; nil
// for a msgpack nil or on error.
func makeSlice[T any](d *decoder, minElemSize int) []T {
	n, isNil := d.sliceLen(minElemSize)
	if isNil || d.err != nil {
		return nil
	}
	return make([]T, n)
}

// header reads the array header that starts a struct with at least min
// fields (the fields every version of the protocol sends). It returns how
// many extra fields follow the ones the caller decodes, for skip.
func (d *decoder) header(minFields int) int {
	l, isNil := d.arrayLen()
	switch {
	case d.err != nil:
		return 0
	case isNil:
		d.failf("expected a struct, found nil")
	case l < uint64(minFields):
		d.failf("struct with %d fields, want at least %d", l, minFields)
	case l > uint64(d.left()):
		d.failf("struct of %d fields cannot fit in the %d bytes left", l, d.left())
	default:
		return int(l) - minFields
	}
	return 0
}

// maxMapHint caps the size hint given to make for a decoded map: the map
// grows only with entries actually decoded, so repeated keys cost nothing.
const maxMapHint = 64

// stringMap reads a map of strings; nil reads as nil, empty as non-nil.
func (d *decoder) stringMap() map[string]string {
	l, isNil := d.mapLen()
	if isNil || d.err != nil {
		return nil
	}
	if l > uint64(d.left()/2) {
		d.failf("map of %d entries cannot fit in the %d bytes left", l, d.left())
		return nil
	}
	m := make(map[string]string, min(int(l), maxMapHint))
	for i := 0; i < int(l) && d.err == nil; i++ {
		k := d.str()
		m[k] = d.str()
	}
	if d.err != nil {
		return nil
	}
	return m
}

// uints is decodeSlice for unsigned integers, without the call per element.
func (d *decoder) uints() []uint64 {
	s := makeSlice[uint64](d, 1)
	for i := range s {
		s[i] = d.u64()
	}
	return s
}

// skip skips n values of any type. It keeps a count of values still to skip
// instead of recursing, so deep nesting cannot exhaust the stack.
func (d *decoder) skip(n int) {
	pending := uint64(n)
	for pending > 0 && d.err == nil {
		pending--
		c := d.byte1()
		switch {
		case c <= 0x7f || c >= 0xe0, c == mpNil, c == mpFalse, c == mpTrue:
		case c >= 0x80 && c <= 0x8f:
			pending += 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			pending += uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			d.take(uint64(c & 0x1f))
		case c == mpBin8 || c == mpStr8:
			d.take(d.be(1))
		case c == mpBin16 || c == mpStr16:
			d.take(d.be(2))
		case c == mpBin32 || c == mpStr32:
			d.take(d.be(4))
		case c == mpExt8:
			d.take(d.be(1) + 1)
		case c == mpExt16:
			d.take(d.be(2) + 1)
		case c == mpExt32:
			d.take(d.be(4) + 1)
		case c == mpFloat32:
			d.take(4)
		case c == mpFloat64:
			d.take(8)
		case c == mpUint8 || c == mpInt8:
			d.take(1)
		case c == mpUint16 || c == mpInt16:
			d.take(2)
		case c == mpUint32 || c == mpInt32:
			d.take(4)
		case c == mpUint64 || c == mpInt64:
			d.take(8)
		case c >= mpFixExt1 && c <= mpFixExt16:
			d.take(1 + 1<<(c-mpFixExt1))
		case c == mpArray16:
			pending += d.be(2)
		case c == mpArray32:
			pending += d.be(4)
		case c == mpMap16:
			pending += 2 * d.be(2)
		case c == mpMap32:
			pending += 2 * d.be(4)
		default:
			d.failf("invalid format 0x%02x", c)
		}
		if pending > uint64(d.left()) {
			d.failf("%d values cannot fit in the %d bytes left", pending, d.left())
		}
	}
}
