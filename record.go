package convo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The record is how every store keeps a conversation: a JSON object that
// an operator can read with any JSON tool (or with SQL), version 2:
//
//	{"v":2,"count":3,"started":1764663857123,"last_active":1764663917123,
//	 "history":[{"in":"hi","out":"Rey has messaged +15005550006 3 times","at":1764663917123}],
//	 "state":{…the application's state…},
//	 "retries":[{"id":"SM…","at":1764663917123,"response":"<Response><Message>…"}],
//	 "ended":true}
//
// Times are Unix milliseconds (in SQL, PostgreSQL's to_timestamp(ms/1000.0)
// or MySQL's FROM_UNIXTIME(ms/1000) reads them); empty fields are left out. A retry
// record's response is the TwiML answered without its XML declaration,
// which every answer starts with. The Handler
// encodes and decodes records with the code in this file rather than with
// encoding/json, which takes about ten times as long to decode one
// (BenchmarkRecord); FuzzRecord checks that the two agree.
const recordVersion = 2

// ErrCorrupt is reported when a stored record cannot be decoded, or was
// written by an unknown record format. The record is left as it is; the
// Handler answers 500 for its conversation until it is deleted.
var ErrCorrupt = errors.New("convo: stored conversation cannot be decoded")

// encodeRecord returns the record of c, in a slice allocated once.
func encodeRecord(c *Conversation) ([]byte, error) {
	n := 128 + len(c.State)
	for _, t := range c.History {
		n += len(t.In) + len(t.Out) + 48 // plus a few escapes
	}
	for _, r := range c.retries {
		n += len(r.ID) + len(r.Response) + 48
	}
	return appendRecord(make([]byte, 0, n), c)
}

// appendRecord appends the record of c to dst. State must be valid JSON,
// as SetState makes it.
func appendRecord(dst []byte, c *Conversation) ([]byte, error) {
	if len(c.State) > 0 && !json.Valid(c.State) {
		return nil, errors.New("convo: Conversation.State is not valid JSON")
	}
	dst = append(dst, `{"v":2,"count":`...)
	dst = strconv.AppendInt(dst, int64(c.Count), 10)
	dst = appendTimeField(dst, `,"started":`, c.Started)
	dst = appendTimeField(dst, `,"last_active":`, c.LastActive)
	for i, t := range c.History {
		if i == 0 {
			dst = append(dst, `,"history":[`...)
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(append(dst, `{"in":`...), t.In)
		dst = appendString(append(dst, `,"out":`...), t.Out)
		dst = appendTimeField(dst, `,"at":`, t.At)
		dst = append(dst, '}')
	}
	if len(c.History) > 0 {
		dst = append(dst, ']')
	}
	if len(c.State) > 0 {
		dst = append(append(dst, `,"state":`...), c.State...)
	}
	for i, r := range c.retries {
		if i == 0 {
			dst = append(dst, `,"retries":[`...)
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(append(dst, `{"id":`...), r.ID)
		dst = appendTimeField(dst, `,"at":`, r.At)
		dst = appendString(append(dst, `,"response":`...), r.Response)
		dst = append(dst, '}')
	}
	if len(c.retries) > 0 {
		dst = append(dst, ']')
	}
	if c.ended {
		dst = append(dst, `,"ended":true`...)
	}
	return append(dst, '}'), nil
}

func appendTimeField(dst []byte, name string, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	return strconv.AppendInt(append(dst, name...), t.UnixMilli(), 10)
}

// jsonEscapes[c] is how appendString writes the ASCII character c when it
// is not itself.
var jsonEscapes = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		t[c] = fmt.Sprintf(`\u%04x`, c)
	}
	t['\n'], t['\r'], t['\t'], t['"'], t['\\'] = `\n`, `\r`, `\t`, `\"`, `\\`
	return t
}()

// jsonPlain[c] reports whether appendString writes the byte c as itself:
// printable ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping: invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	last := 0
	for i := 0; i < len(s); {
		if jsonPlain[s[i]] {
			i++
			continue
		}
		esc, size := "", 1
		if c := s[i]; c < utf8.RuneSelf {
			esc = jsonEscapes[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				esc = `\ufffd`
			case r == '\u2028' || r == '\u2029':
				esc = fmt.Sprintf(`\u%04x`, r)
			}
		}
		if esc != "" {
			dst = append(append(dst, s[last:i]...), esc...)
			last = i + size
		}
		i += size
	}
	return append(append(dst, s[last:]...), '"')
}

// decodeRecord decodes a record of key. It accepts what encoding/json would
// decode into the record's fields, with unknown fields refused, except
// nulls and field names in another case, which it refuses too.
func decodeRecord(key Key, data []byte) (*Conversation, error) {
	c := &Conversation{Key: key}
	d := decoder{s: string(data)}
	version := 0
	d.object(func(name string) {
		switch name {
		case "v":
			version = d.int()
		case "count":
			c.Count = d.int()
		case "started":
			c.Started = d.time()
		case "last_active":
			c.LastActive = d.time()
		case "history":
			c.History = make([]Turn, 0, 8)
			d.array(func() { c.History = append(c.History, d.turn()) })
		case "state":
			c.State = json.RawMessage(d.raw())
		case "retries":
			c.retries = make([]retryRecord, 0, 8)
			d.array(func() { c.retries = append(c.retries, d.retryRecord()) })
		case "ended":
			c.ended = d.bool()
		default:
			d.fail("unknown field %q", name)
		}
	})
	d.space()
	switch {
	case d.err != nil:
	case d.i < len(d.s):
		d.fail("data after the record")
	case version != recordVersion:
		d.fail("record format %d, not %d", version, recordVersion)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, d.err)
	}
	return c, nil
}

func (d *decoder) turn() (t Turn) {
	d.object(func(name string) {
		switch name {
		case "at":
			t.At = d.time()
		case "in":
			t.In = d.string()
		case "out":
			t.Out = d.string()
		default:
			d.fail("unknown field %q in a turn", name)
		}
	})
	return t
}

func (d *decoder) retryRecord() (r retryRecord) {
	d.object(func(name string) {
		switch name {
		case "id":
			r.ID = d.string()
		case "at":
			r.At = d.time()
		case "response":
			r.Response = d.string()
		default:
			d.fail("unknown field %q in a retry record", name)
		}
	})
	return r
}

// decoder reads JSON values from s. Its first error stops it: every
// method then does nothing and returns a zero value.
type decoder struct {
	s   string
	i   int
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: "+format, append([]any{d.i}, a...)...)
	}
}

func (d *decoder) space() {
	for d.i < len(d.s) && (d.s[d.i] == ' ' || d.s[d.i] == '\t' || d.s[d.i] == '\n' || d.s[d.i] == '\r') {
		d.i++
	}
}

// next skips white space and consumes c if it comes next.
func (d *decoder) next(c byte) bool {
	d.space()
	if d.err == nil && d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *decoder) expect(c byte) {
	if !d.next(c) {
		d.fail("want %q", c)
	}
}

// object reads an object, calling field with each name, positioned at its
// value, which field must read.
func (d *decoder) object(field func(name string)) {
	d.expect('{')
	if d.next('}') {
		return
	}
	for d.err == nil {
		name := d.string()
		d.expect(':')
		if d.err != nil {
			return
		}
		field(name)
		if !d.next(',') {
			d.expect('}')
			return
		}
	}
}

// array reads an array, calling elem for each element.
func (d *decoder) array(elem func()) {
	d.expect('[')
	if d.next(']') {
		return
	}
	for d.err == nil {
		elem()
		if !d.next(',') {
			d.expect(']')
			return
		}
	}
}

// string reads a string: a part of d.s when it holds no escape and no
// control character and is valid UTF-8, as most do, else a copy decoded by
// encoding/json.
func (d *decoder) string() string {
	d.expect('"')
	if d.err != nil {
		return ""
	}
	start := d.i
	if end := strings.IndexByte(d.s[start:], '"'); end >= 0 {
		if s := d.s[start : start+end]; plainString(s) {
			d.i += end + 1
			return s
		}
	}
	for ; d.i < len(d.s); d.i++ { // escapes: find the closing quote the long way
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			return d.unquote(d.s[start-1 : d.i])
		case c == '\\':
			d.i++ // the escaped character, which may be '"'
		}
	}
	d.i = len(d.s)
	d.fail("unterminated string")
	return ""
}

// plainString reports whether s, the inside of a string literal, is its
// own value: no escape, no control character, valid UTF-8.
func plainString(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == '\\' {
			return false
		}
		ascii = ascii && s[i] < utf8.RuneSelf
	}
	return ascii || utf8.ValidString(s)
}

// unquote decodes a string literal with escapes or invalid UTF-8, rare in
// a record, with encoding/json.
func (d *decoder) unquote(literal string) (s string) {
	if err := json.Unmarshal([]byte(literal), &s); err != nil {
		d.fail("%v", err)
	}
	return s
}

// number reads an integer, as JSON writes one.
func (d *decoder) number() int64 {
	d.space()
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	if err != nil || (d.i-digits > 1 && d.s[digits] == '0') {
		d.fail("want an integer")
	}
	return n
}

func (d *decoder) int() int {
	n := d.number()
	if n < 0 || n > math.MaxInt32 {
		d.fail("want a count")
	}
	return int(n)
}

// time reads a time in Unix milliseconds, within some 290,000 years of
// 1970, as time.Time's arithmetic allows.
func (d *decoder) time() time.Time {
	n := d.number()
	if n < -1<<53 || n > 1<<53 {
		d.fail("want a time in Unix milliseconds")
	}
	return time.UnixMilli(n).UTC()
}

func (d *decoder) bool() bool {
	d.space()
	for _, lit := range []string{"true", "false"} {
		if len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit {
			d.i += len(lit)
			return lit == "true"
		}
	}
	d.fail("want true or false")
	return false
}

// raw reads any JSON value but null and returns a copy of its text.
func (d *decoder) raw() []byte {
	d.space()
	start := d.i
	d.skip()
	v := []byte(d.s[start:d.i])
	if d.err == nil && (!json.Valid(v) || string(v) == "null") {
		d.fail("state is not a JSON value")
	}
	return v
}

// skip reads past one JSON value. It leaves numbers and literals to the
// json.Valid of raw.
func (d *decoder) skip() {
	d.space()
	switch {
	case d.i >= len(d.s):
		d.fail("want a value")
	case d.s[d.i] == '{':
		d.object(func(string) { d.skip() })
	case d.s[d.i] == '[':
		d.array(d.skip)
	case d.s[d.i] == '"':
		d.string()
	default:
		for d.i < len(d.s) && !strings.ContainsRune(",}] \t\r\n", rune(d.s[d.i])) {
			d.i++
		}
	}
}
