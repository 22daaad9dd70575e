package cookiestore

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/smsconvo/convo"
)

// The cookie's plaintext (what securecookie encrypts and signs) is a compact
// binary record. Format version 2 (version 1 is the same without reply
// kind 4; both are read):
//
//	header (never compressed):
//	  byte     format version (2)
//	  byte     flags: 1 = body compressed (raw DEFLATE), 2 = written for an
//	           ended conversation: holds only its retry records
//	  8 bytes  the store version (compare-and-set token), little endian, non-zero
//	  varint   saved at: Unix milliseconds of the save
//	  varint   expires at, ms relative to saved at
//	  varint   Started, ms relative to saved at
//	  varint   LastActive, ms relative to saved at
//	body:
//	  uvarint  Count
//	  bytes    State (uvarint length, then the bytes)
//	  uvarint  number of History turns, then each:
//	           varint At (ms relative to saved at), In, Out, each as the
//	           uvarint length of the prefix it shares with the previous
//	           turn's, then bytes of the rest
//	  uvarint  number of retry records, then each:
//	           ID: byte 0 then bytes, or byte 1 then a Twilio SID's
//	               two letters and its 32 hex digits as 16 bytes,
//	           byte kind, then by kind:
//	           0 raw:     bytes Reply
//	           1 message: bytes inner; Reply = msgPrefix + inner + msgSuffix
//	           2 empty:   Reply = emptyResponse
//	           3 turn:    uvarint i; Reply = msgPrefix + History[i].Out with
//	                      only & < > escaped + msgSuffix
//	           4 shared:  uvarint i, uvarint n, bytes rest; Reply =
//	                      msgPrefix + the first n bytes of History[i].Out
//	                      escaped as for kind 3 + rest + msgSuffix
//
// varint is Go's zig-zag signed varint (encoding/binary), uvarint the
// unsigned one. The key is not stored: it is bound through securecookie's
// MAC (see Store.macName). Kinds 1 to 4 only abbreviate: the encoder
// uses them when they rebuild the reply byte for byte, and otherwise
// stores it raw, so retry answers always come back exactly as sent.
const formatVersion = 2

// minFormat is the oldest format version this one reads.
const minFormat = 1

const (
	flagCompressed = 1 << iota
	flagEnded
)

const (
	replyRaw = iota
	replyMessage
	replyEmpty
	replyTurn
	replyShared // format 2 on
)

const (
	msgPrefix     = `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`
	msgSuffix     = `</Message></Response>`
	emptyResponse = `<?xml version="1.0" encoding="UTF-8"?><Response/>`
)

// maxBody bounds a decompressed body, and the history texts a body
// decodes to: far more than any 4096-byte cookie holds uncompressed, small
// enough that no value can make a server allocate much. Save trims or
// refuses what would exceed it.
const maxBody = 64 << 10

// errFormat is wrapped by every decoding error of a record.
var errFormat = errors.New("malformed record")

// header is the part of a record the store reads for every request, also
// in Save: enough for the compare-and-set and the expiry check.
type header struct {
	format     byte // format version, set by parseHeader; appendHeader writes formatVersion
	version    uint64
	flags      byte
	savedAt    time.Time
	expiresAt  time.Time
	started    time.Time
	lastActive time.Time
}

// ms returns t in Unix milliseconds relative to ref; a zero t is stored as
// itself (it survives as a zero time after decoding).
func ms(t time.Time, ref int64) int64 { return t.UnixMilli() - ref }

func fromMS(v, ref int64) time.Time { return time.UnixMilli(ref + v).UTC() }

func appendHeader(dst []byte, h *header) []byte {
	ref := h.savedAt.UnixMilli()
	dst = append(dst, formatVersion, h.flags)
	dst = binary.LittleEndian.AppendUint64(dst, h.version)
	dst = binary.AppendVarint(dst, ref)
	dst = binary.AppendVarint(dst, ms(h.expiresAt, ref))
	dst = binary.AppendVarint(dst, ms(h.started, ref))
	return binary.AppendVarint(dst, ms(h.lastActive, ref))
}

// reader reads a record, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad or truncated %s", errFormat, what)
	}
	r.b = nil
}

func (r *reader) byte(what string) byte {
	if len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint64(what string) uint64 {
	if len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a uvarint that counts items of at least minSize bytes each,
// refusing counts the rest of the record cannot hold.
func (r *reader) count(what string, minSize int) int {
	v := r.uvarint(what)
	if v > uint64(len(r.b)/minSize) {
		r.fail(what)
		return 0
	}
	return int(v)
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string(what string) string { return string(r.bytes(what)) }

// errUnknownFormat is wrapped when a record was written by a later format
// version; such cookies are treated as unreadable, not as tampered.
var errUnknownFormat = errors.New("unknown record format version")

// parseHeader reads a record's header and returns the body after it.
func parseHeader(b []byte) (header, []byte, error) {
	var h header
	if len(b) > 0 && (b[0] < minFormat || b[0] > formatVersion) {
		return h, nil, fmt.Errorf("%w %d (this version reads %d to %d)", errUnknownFormat, b[0], minFormat, formatVersion)
	}
	r := reader{b: b}
	h.format = r.byte("format version")
	h.flags = r.byte("flags")
	h.version = r.uint64("version")
	ref := r.varint("save time")
	h.savedAt = fromMS(0, ref)
	h.expiresAt = fromMS(r.varint("expiry"), ref)
	h.started = fromMS(r.varint("start time"), ref)
	h.lastActive = fromMS(r.varint("last activity"), ref)
	if r.err != nil {
		return h, nil, r.err
	}
	if h.flags&^(flagCompressed|flagEnded) != 0 {
		return h, nil, fmt.Errorf("%w: unknown flags %#x", errFormat, h.flags)
	}
	if h.version == 0 {
		return h, nil, fmt.Errorf("%w: version 0", errFormat)
	}
	return h, r.b, nil
}

// appendBody appends the body of c, with history in place of c.History (the
// store may have trimmed it).
func appendBody(dst []byte, c *convo.Conversation, history []convo.Turn, ref int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(max(c.Count, 0)))
	dst = appendBytes(dst, c.State)
	dst = binary.AppendUvarint(dst, uint64(len(history)))
	var prev convo.Turn
	for _, t := range history {
		dst = binary.AppendVarint(dst, ms(t.At, ref))
		dst = appendShared(dst, prev.In, t.In)
		dst = appendShared(dst, prev.Out, t.Out)
		prev = t
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Handled)))
	for i, h := range c.Handled {
		dst = appendID(dst, h.ID)
		// The Handler keeps records and turns in step: record i most
		// likely answered the turn as far from the end.
		dst = appendReply(dst, h.Reply, history, len(history)-len(c.Handled)+i)
	}
	return dst
}

// appendID appends a message id, packing a Twilio SID ("SM" and 32
// lowercase hex digits) into 18 bytes.
func appendID(dst []byte, id string) []byte {
	if isSID(id) {
		dst = append(dst, 1, id[0], id[1])
		dst, _ = hex.AppendDecode(dst, []byte(id[2:])) // isSID checked the digits
		return dst
	}
	return appendString(append(dst, 0), id)
}

func isSID(id string) bool {
	if len(id) != 34 || id[0] < 'A' || id[0] > 'Z' || id[1] < 'A' || id[1] > 'Z' {
		return false
	}
	for i := 2; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// id reads a message id. A packed SID is appended to texts in text form,
// and "" returned: the caller cuts it from one string of them all.
func (r *reader) id(texts *strings.Builder) (id string, packed bool) {
	switch r.byte("retry id") {
	case 0:
		return r.string("retry id"), false
	case 1:
		if len(r.b) < 18 || r.b[0] < 'A' || r.b[0] > 'Z' || r.b[1] < 'A' || r.b[1] > 'Z' {
			r.fail("retry id")
			return "", false
		}
		var sid [34]byte
		sid[0], sid[1] = r.b[0], r.b[1]
		hex.Encode(sid[2:], r.b[2:18])
		texts.Write(sid[:])
		r.b = r.b[18:]
		return "", true
	}
	r.fail("retry id")
	return "", false
}

// appendShared appends s as the length of the prefix it shares with prev
// and the rest: consecutive turns ("… 3 times", "… 4 times") cost little.
func appendShared(dst []byte, prev, s string) []byte {
	n := 0
	for n < len(prev) && n < len(s) && prev[n] == s[n] {
		n++
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	return appendString(dst, s[n:])
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendReply appends a retry record's reply in its shortest exact form.
func appendReply(dst, reply []byte, history []convo.Turn, likely int) []byte {
	if string(reply) == emptyResponse {
		return append(dst, replyEmpty)
	}
	if len(reply) >= len(msgPrefix)+len(msgSuffix) &&
		string(reply[:len(msgPrefix)]) == msgPrefix &&
		string(reply[len(reply)-len(msgSuffix):]) == msgSuffix {
		inner := reply[len(msgPrefix) : len(reply)-len(msgSuffix)]
		if likely >= 0 && likely < len(history) && escapedEqual(inner, history[likely].Out) {
			dst = append(dst, replyTurn)
			return binary.AppendUvarint(dst, uint64(likely))
		}
		for i := len(history) - 1; i >= 0; i-- {
			if i != likely && escapedEqual(inner, history[i].Out) {
				dst = append(dst, replyTurn)
				return binary.AppendUvarint(dst, uint64(i))
			}
		}
		// The counter's older records ("… 5 times") share most of their
		// text with the turn nearest them ("… 7 times").
		if len(history) > 0 {
			i := min(max(likely, 0), len(history)-1)
			if n := escapedPrefix(inner, history[i].Out); n >= minShared {
				dst = append(dst, replyShared)
				dst = binary.AppendUvarint(dst, uint64(i))
				dst = binary.AppendUvarint(dst, uint64(n))
				return appendBytes(dst, inner[n:])
			}
		}
		dst = append(dst, replyMessage)
		return appendBytes(dst, inner)
	}
	dst = append(dst, replyRaw)
	return appendBytes(dst, reply)
}

// escapedEqual reports whether b is s with '&', '<' and '>' replaced by
// their entities and every other byte as it is: the escaping that kind 3
// records are rebuilt with. (convo's TwiML escapes more characters; for
// texts holding them the comparison fails and the reply is stored in full.)
func escapedEqual(b []byte, s string) bool {
	switch {
	case len(b) < len(s):
		return false
	case len(b) == len(s): // then nothing was escaped
		return string(b) == s && indexEscapable(s) < 0
	}
	return escapedPrefix(b, s) == len(b) && escapedLen(s) == len(b)
}

// indexEscapable returns the index of the first '&', '<' or '>' in s, or -1.
func indexEscapable(s string) int {
	i := -1
	for _, c := range [...]byte{'&', '<', '>'} {
		if j := strings.IndexByte(s, c); j >= 0 && (i < 0 || j < i) {
			i = j
			s = s[:j] // search no further for the others
		}
	}
	return i
}

// escapedLen returns the length of s escaped as appendEscaped does.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '&':
			n += len("&amp;") - 1
		case '<', '>':
			n += len("&lt;") - 1
		}
	}
	return n
}

// minShared is the shortest shared prefix a kind 4 record is written for:
// it takes two more bytes than kind 1.
const minShared = 8

// escapedPrefix returns how many leading bytes b shares with s escaped as
// escapedEqual and appendEscaped do.
func escapedPrefix(b []byte, s string) int {
	// Up to s's first character to escape, the bytes compare as they are.
	plain := indexEscapable(s)
	if plain < 0 {
		plain = len(s)
	}
	j := 0
	for j < plain && j < len(b) && b[j] == s[j] {
		j++
	}
	if j < plain {
		return j
	}
	for i := plain; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			esc = s[i : i+1]
		}
		for k := 0; k < len(esc); k++ {
			if j >= len(b) || b[j] != esc[k] {
				return j
			}
			j++
		}
	}
	return j
}

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := indexEscapable(s)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		switch s[i] {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		default:
			dst = append(dst, "&gt;"...)
		}
		s = s[i+1:]
	}
}

// span locates a text in the buffer parseBody rebuilds texts in.
type span struct{ off, n int }

// shared reads a text written by appendShared after prev, appending it to
// texts.
func (r *reader) shared(texts *strings.Builder, prev span, what string) span {
	n := r.uvarint(what)
	rest := r.bytes(what)
	if n > uint64(prev.n) {
		r.fail(what)
	}
	if r.err != nil {
		return span{}
	}
	if texts.Len()+int(n)+len(rest) > maxBody {
		r.fail(what + " (history text beyond 64 KiB)")
		return span{}
	}
	off := texts.Len()
	texts.WriteString(texts.String()[prev.off : prev.off+int(n)]) // String does not copy
	texts.Write(rest)
	return span{off, int(n) + len(rest)}
}

// conversationBlock is a conversation with room for the turns and retry
// records the Handler keeps by default with this store.
type conversationBlock struct {
	c       convo.Conversation
	turns   [convo.DefaultHistorySize]convo.Turn
	handled [retryRecords]convo.Handled
}

// parseBody decodes a body into a conversation for key.
func parseBody(h *header, body []byte, key convo.Key) (*convo.Conversation, error) {
	if h.flags&flagCompressed != 0 {
		var err error
		if body, err = inflate(body); err != nil {
			return nil, err
		}
	}
	ref := h.savedAt.UnixMilli()
	// History texts are cut from one string and byte slices from one
	// arena (capped, so appending to one never touches another): a
	// conversation costs a handful of allocations, however many turns.
	r := reader{b: body}
	var arena []byte // made once the retry records are counted
	cut := func(start int) []byte { return arena[start:len(arena):len(arena)] }
	// The Handler's defaults keep four turns and one retry record here:
	// one allocation holds them with the conversation.
	block := new(conversationBlock)
	c := &block.c
	// An ended conversation's record loads as the fresh conversation that
	// follows it, with the retry records: Ended is not set again.
	*c = convo.Conversation{Key: key, Version: h.version, Started: h.started, LastActive: h.lastActive}
	count := r.uvarint("count")
	if count > math.MaxInt {
		r.fail("count")
	}
	c.Count = int(count)
	state := r.bytes("state") // copied into the arena below: body may be shared (Store.verified)
	// History texts, then packed SIDs in text form, are written to texts
	// and cut from it: one allocation for all of them, most of the time
	// (turns share prefixes, so their texts take about twice their bytes
	// in the body).
	var texts strings.Builder
	texts.Grow(2*len(body) + 34*retryRecords)
	if n := r.count("history", 4); n > 0 {
		if n <= len(block.turns) {
			c.History = block.turns[:n:n]
		} else {
			c.History = make([]convo.Turn, n)
		}
		// The texts are rebuilt (each from the previous turn's prefix and
		// its own rest) into one buffer, made one string, and cut.
		var spanBuf [2 * convo.DefaultHistorySize]span
		spans := spanBuf[:0]
		var in, out span
		for i := range c.History {
			c.History[i].At = fromMS(r.varint("turn time"), ref)
			in = r.shared(&texts, in, "turn text")
			out = r.shared(&texts, out, "turn reply")
			spans = append(spans, in, out)
		}
		if r.err == nil {
			text := texts.String()
			for i := range c.History {
				in, out := spans[2*i], spans[2*i+1]
				c.History[i].In = text[in.off : in.off+in.n]
				c.History[i].Out = text[out.off : out.off+out.n]
			}
		}
	}
	n := r.count("retry records", 2)
	// Room for the state, the records' bytes and the replies they rebuild.
	size := len(state) + len(r.b) + n*(len(msgPrefix)+len(msgSuffix))
	for _, t := range c.History {
		size += len(t.Out) + len(t.Out)/8
	}
	arena = make([]byte, 0, size)
	if len(state) > 0 {
		arena = append(arena, state...)
		c.State = cut(0)
	}
	if n > 0 {
		if n <= len(block.handled) {
			c.Handled = block.handled[:n:n]
		} else {
			c.Handled = make([]convo.Handled, n)
		}
		sids := texts.Len() // where the packed SIDs start in texts
		var packedBuf [8]int
		packed := packedBuf[:0]
		for i := range c.Handled {
			hd := &c.Handled[i]
			var p bool
			if hd.ID, p = r.id(&texts); p {
				packed = append(packed, i)
			}
			start := len(arena)
			switch kind := r.byte("retry kind"); kind {
			case replyRaw:
				arena = append(arena, r.bytes("retry reply")...)
			case replyMessage:
				arena = append(append(append(arena, msgPrefix...), r.bytes("retry reply")...), msgSuffix...)
			case replyEmpty:
				arena = append(arena, emptyResponse...)
			case replyTurn:
				j := r.uvarint("retry turn")
				if j >= uint64(len(c.History)) {
					r.fail("retry turn")
					break
				}
				arena = append(appendEscaped(append(arena, msgPrefix...), c.History[j].Out), msgSuffix...)
			case replyShared:
				if h.format < 2 {
					r.fail("retry kind")
					break
				}
				j := r.uvarint("retry turn")
				n := r.uvarint("retry shared prefix")
				rest := r.bytes("retry reply")
				if r.err != nil {
					break
				}
				if j >= uint64(len(c.History)) {
					r.fail("retry turn")
					break
				}
				arena = appendEscaped(append(arena, msgPrefix...), c.History[j].Out)
				if n > uint64(len(arena)-start-len(msgPrefix)) {
					r.fail("retry shared prefix")
					break
				}
				arena = append(append(arena[:start+len(msgPrefix)+int(n)], rest...), msgSuffix...)
			default:
				r.fail("retry kind")
			}
			hd.Reply = cut(start)
		}
		if len(packed) > 0 && r.err == nil {
			text := texts.String()[sids:] // Builder only appends: the history's texts are intact
			for k, i := range packed {
				c.Handled[i].ID = text[k*34 : (k+1)*34]
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the record", errFormat, len(r.b))
	}
	return c, nil
}

var (
	deflaters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestCompression)
		return w
	}}
	inflaters sync.Pool
)

// deflate appends the raw DEFLATE compression of b to dst.
func deflate(dst, b []byte) []byte {
	buf := bytes.NewBuffer(dst)
	w := deflaters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(b) // writes to a bytes.Buffer cannot fail
	_ = w.Close()
	deflaters.Put(w)
	return buf.Bytes()
}

// inflate decompresses a raw DEFLATE body of at most maxBody bytes.
func inflate(b []byte) ([]byte, error) {
	src := bytes.NewReader(b)
	var r io.ReadCloser
	if v := inflaters.Get(); v != nil {
		r = v.(io.ReadCloser)
		_ = r.(flate.Resetter).Reset(src, nil)
	} else {
		r = flate.NewReader(src)
	}
	defer inflaters.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: compressed body: %v", errFormat, err)
	}
	if len(out) > maxBody {
		return nil, fmt.Errorf("%w: compressed body inflates beyond %d bytes", errFormat, maxBody)
	}
	return out, nil
}
