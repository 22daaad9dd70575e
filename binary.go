package convo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// BinaryVersion is the format version [Conversation.MarshalBinary] writes,
// held in the record's first byte. Records of every earlier version keep
// decoding; records of a later one are refused with [ErrCorrupt].
const BinaryVersion = 1

// The binary format, version 1 (integers are varints, strings and byte
// strings are a uvarint length and the bytes; times are milliseconds, 0
// meaning the zero time):
//
//	byte     version (1)
//	string   Key.From, Key.To
//	uvarint  Count
//	varint   Started (Unix ms), LastActive (ms after Started)
//	uvarint  len(History), then per turn: varint At (ms after Started), string In, string Out
//	bytes    State
//	uvarint  len(Handled), then per record: string ID, byte kind, and for
//	         kind 0 the TwiML as bytes; kind 1 the escaped text of a
//	         one-message reply (the TwiML is rebuilt around it); kind 2 an
//	         empty reply (nothing follows)
//	byte     flags: 1 = Ended
//
// Replies of the two common shapes thus cost only their text, which keeps
// records small enough for a cookie and for memory.

const (
	handledRaw     = 0
	handledText    = 1
	handledNothing = 2

	textPrefix = xmlHeader + "<Response><Message>"
	textSuffix = "</Message></Response>"
	emptyTwiML = xmlHeader + "<Response/>"
)

// MarshalBinary encodes c, all but its Version (which stores keep beside
// the record), in convo's compact binary record format, in a slice of
// exactly the record's length. It implements encoding.BinaryMarshaler and
// never fails.
func (c *Conversation) MarshalBinary() ([]byte, error) {
	bp := encodeBuffers.Get().(*[]byte)
	buf := c.AppendBinary((*bp)[:0])
	out := bytes.Clone(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf
		encodeBuffers.Put(bp)
	}
	return out, nil
}

var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// AppendBinary appends the encoding of [Conversation.MarshalBinary] to dst.
func (c *Conversation) AppendBinary(dst []byte) []byte {
	dst = append(dst, BinaryVersion)
	dst = appendString(dst, c.Key.From)
	dst = appendString(dst, c.Key.To)
	dst = binary.AppendUvarint(dst, uint64(max(c.Count, 0)))
	base := millis(c.Started)
	dst = binary.AppendVarint(dst, base)
	dst = binary.AppendVarint(dst, sinceBase(c.LastActive, base))
	dst = binary.AppendUvarint(dst, uint64(len(c.History)))
	for _, t := range c.History {
		dst = binary.AppendVarint(dst, sinceBase(t.At, base))
		dst = appendString(dst, t.In)
		dst = appendString(dst, t.Out)
	}
	dst = appendBytes(dst, c.State)
	dst = binary.AppendUvarint(dst, uint64(len(c.Handled)))
	for _, h := range c.Handled {
		dst = appendString(dst, h.ID)
		reply := h.Reply
		switch {
		case string(reply) == emptyTwiML:
			dst = append(dst, handledNothing)
		case len(reply) >= len(textPrefix)+len(textSuffix) &&
			string(reply[:len(textPrefix)]) == textPrefix &&
			string(reply[len(reply)-len(textSuffix):]) == textSuffix &&
			bytes.IndexByte(reply[len(textPrefix):len(reply)-len(textSuffix)], '<') < 0:
			dst = append(dst, handledText)
			dst = appendBytes(dst, reply[len(textPrefix):len(reply)-len(textSuffix)])
		default:
			dst = append(dst, handledRaw)
			dst = appendBytes(dst, reply)
		}
	}
	var flags byte
	if c.Ended {
		flags |= 1
	}
	return append(dst, flags)
}

// UnmarshalBinary decodes a record of [Conversation.MarshalBinary] into c,
// replacing all of c but its Version. Data that is not such a record, or a
// record of a later format version, gives an error wrapping [ErrCorrupt]
// and leaves c unchanged. The decoded strings share one copy of data; c
// holds no reference to data itself.
func (c *Conversation) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	if v := data[0]; v != BinaryVersion {
		if v > BinaryVersion {
			return fmt.Errorf("%w: binary record format version %d is newer than this version of convo reads (%d)", ErrCorrupt, v, BinaryVersion)
		}
		return fmt.Errorf("%w: unknown binary record format version %d", ErrCorrupt, v)
	}
	d := decoder{s: string(data[1:])}
	var out Conversation
	out.Key.From = d.string()
	out.Key.To = d.string()
	count := d.uvarint()
	out.Count = int(count)
	base := d.varint()
	out.Started = startedAt(base)
	out.LastActive = atOffset(base, d.varint())
	if n := d.count(3); n > 0 {
		out.History = make([]Turn, n, n+1)
		for i := range out.History {
			out.History[i] = Turn{At: atOffset(base, d.varint()), In: d.string(), Out: d.string()}
		}
	}
	if state := d.string(); state != "" {
		out.State = []byte(state)
	}
	if n := d.count(2); n > 0 {
		out.Handled = make([]Handled, n, n+1)
		var kindsBuf [16]byte
		var textsBuf [16]string
		kinds, texts := kindsBuf[:0], textsBuf[:0]
		if n > len(kindsBuf) {
			kinds, texts = make([]byte, 0, n), make([]string, 0, n)
		}
		kinds, texts = kinds[:n], texts[:n]
		size := 0
		for i := range out.Handled {
			out.Handled[i].ID = d.string()
			kinds[i] = d.byte()
			switch kinds[i] {
			case handledNothing:
				size += len(emptyTwiML)
			case handledText:
				texts[i] = d.string()
				size += len(textPrefix) + len(texts[i]) + len(textSuffix)
			case handledRaw:
				texts[i] = d.string()
				size += len(texts[i])
			default:
				d.fail("unknown retry record kind %d", kinds[i])
			}
		}
		// One buffer holds every reply.
		buf := make([]byte, 0, size)
		for i := range out.Handled {
			start := len(buf)
			switch kinds[i] {
			case handledNothing:
				buf = append(buf, emptyTwiML...)
			case handledText:
				buf = append(append(append(buf, textPrefix...), texts[i]...), textSuffix...)
			default:
				buf = append(buf, texts[i]...)
			}
			out.Handled[i].Reply = buf[start:len(buf):len(buf)]
		}
	}
	flags := d.byte()
	out.Ended = flags&1 != 0
	switch {
	case d.err != nil:
		return d.err
	case len(d.s) != 0:
		return fmt.Errorf("%w: %d bytes after the record", ErrCorrupt, len(d.s))
	case flags&^1 != 0:
		return fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	case count > 1<<40:
		return fmt.Errorf("%w: count %d out of range", ErrCorrupt, count)
	}
	out.Version = c.Version
	*c = out
	return nil
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// sinceBase encodes t as milliseconds after base: 0 for the zero time,
// otherwise the offset, shifted by one when not negative so that 0 stays
// free to mean "zero time".
func sinceBase(t time.Time, base int64) int64 {
	if t.IsZero() {
		return 0
	}
	d := t.UnixMilli() - base
	if d >= 0 {
		return d + 1
	}
	return d
}

// atOffset decodes what sinceBase encoded.
func atOffset(base, v int64) time.Time {
	switch {
	case v == 0:
		return time.Time{}
	case v > 0:
		v--
	}
	return time.UnixMilli(base + v).UTC()
}

// startedAt decodes the base time: 0 means the zero time.
func startedAt(base int64) time.Time {
	if base == 0 {
		return time.Time{}
	}
	return time.UnixMilli(base).UTC()
}

// decoder reads the binary format, remembering the first error.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
	}
	d.s = ""
}

var errShort = errors.New("record truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.fail("%v", errShort)
		return 0
	}
	d.s = d.s[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint([]byte(d.s[:min(len(d.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		d.fail("%v", errShort)
		return 0
	}
	d.s = d.s[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.s) == 0 {
		d.fail("%v", errShort)
		return 0
	}
	b := d.s[0]
	d.s = d.s[1:]
	return b
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)) {
		d.fail("%v", errShort)
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

// count reads a slice length, refusing one that the rest of the record
// cannot hold (each element needs at least min bytes).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.s)/min) {
		d.fail("%d elements cannot fit in %d bytes", n, len(d.s))
		return 0
	}
	return int(n)
}
