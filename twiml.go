package convo

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Reply is what a reply function answers a message with: any number of
// messages, then optionally a redirect. The zero Reply answers nothing (an
// empty <Response/>).
type Reply struct {
	Messages []Outgoing
	Redirect *Redirect
}

// Outgoing is one <Message> of a reply.
type Outgoing struct {
	Body  string   // the text; escaped when rendered, so any text is safe
	Media []string // up to 10 media URLs

	// Optional attributes of <Message>; empty ones are left out.
	To, From, Action, Method, StatusCallback string
}

// Redirect is a <Redirect>: Twilio fetches URL for further TwiML.
type Redirect struct {
	URL    string
	Method string // "POST" (Twilio's default when empty) or "GET"
}

// Text returns a reply of one message with body as its text.
func Text(body string) Reply {
	return Reply{Messages: []Outgoing{{Body: body}}}
}

// Textf is Text with fmt.Sprintf formatting.
func Textf(format string, a ...any) Reply {
	return Text(fmt.Sprintf(format, a...))
}

// String returns the reply's texts joined by "\n": what History keeps as a
// turn's Out.
func (r Reply) String() string {
	texts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		texts[i] = m.Body
	}
	return strings.Join(texts, "\n")
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// TwiML renders the reply as a TwiML document. Every text and attribute is
// escaped, and characters XML cannot carry become U+FFFD, so no input can
// add or end an element. The result parses to the same document as the one
// twilio-go's twiml package writes for the same verbs (TestTwiMLMatchesTwilioGo).
func (r Reply) TwiML() []byte {
	return r.AppendTwiML(make([]byte, 0, 256))
}

// AppendTwiML appends the reply's TwiML document to dst.
func (r Reply) AppendTwiML(dst []byte) []byte {
	dst = append(dst, xmlHeader...)
	if len(r.Messages) == 0 && r.Redirect == nil {
		return append(dst, "<Response/>"...)
	}
	dst = append(dst, "<Response>"...)
	for i := range r.Messages {
		m := &r.Messages[i]
		dst = append(dst, "<Message"...)
		dst = appendAttr(dst, "to", m.To)
		dst = appendAttr(dst, "from", m.From)
		dst = appendAttr(dst, "action", m.Action)
		dst = appendAttr(dst, "method", m.Method)
		dst = appendAttr(dst, "statusCallback", m.StatusCallback)
		dst = append(dst, '>')
		if len(m.Media) == 0 {
			dst = appendXML(dst, m.Body, false)
		} else {
			if m.Body != "" {
				dst = append(dst, "<Body>"...)
				dst = appendXML(dst, m.Body, false)
				dst = append(dst, "</Body>"...)
			}
			for _, u := range m.Media {
				dst = append(dst, "<Media>"...)
				dst = appendXML(dst, u, false)
				dst = append(dst, "</Media>"...)
			}
		}
		dst = append(dst, "</Message>"...)
	}
	if rd := r.Redirect; rd != nil {
		dst = append(dst, "<Redirect"...)
		dst = appendAttr(dst, "method", rd.Method)
		dst = append(dst, '>')
		dst = appendXML(dst, rd.URL, false)
		dst = append(dst, "</Redirect>"...)
	}
	return append(dst, "</Response>"...)
}

func appendAttr(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = appendXML(dst, value, true)
	return append(dst, '"')
}

// xmlEscapes[c] is how appendXML writes the ASCII character c: "" for as
// itself. Tabs and line ends are written raw, as twilio-go's etree writes
// them, so that every XML parser reads the same document from both.
var xmlEscapes = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		t[c] = "\uFFFD"
	}
	t['\t'], t['\n'], t['\r'] = "", "", ""
	t['&'], t['<'], t['>'] = "&amp;", "&lt;", "&gt;"
	return t
}()

// appendXML appends s escaped for XML character data (or, with attr, an
// attribute value in double quotes). Like encoding/xml.EscapeText, it
// replaces invalid UTF-8 and characters outside XML's range with U+FFFD;
// unlike it, it writes tabs and line ends raw, as twilio-go does.
func appendXML(dst []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		esc, size := "", 1
		if c := s[i]; c == '"' && attr {
			esc = "&#34;"
		} else if c < utf8.RuneSelf {
			esc = xmlEscapes[c]
		} else {
			var r rune
			if r, size = utf8.DecodeRuneInString(s[i:]); (r == utf8.RuneError && size == 1) || !inXMLRange(r) {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			dst = append(append(dst, s[last:i]...), esc...)
			last = i + size
		}
		i += size
	}
	return append(dst, s[last:]...)
}

// inXMLRange reports whether XML 1.0 allows r as a character.
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// MaxMessageLen is the longest message body Twilio sends, in UTF-16 code
// units (the characters Twilio counts); a longer one fails with error 21617.
const MaxMessageLen = 1600

// LongReplies says what the Handler does with a reply message over
// MaxMessageLen.
type LongReplies int

const (
	// SplitLongReplies sends a long message as several, each at most
	// MaxMessageLen long, cut at the last white space before the limit
	// (or, in a run with none, at the limit). Media and attributes go
	// with the first part. This is the default.
	SplitLongReplies LongReplies = iota
	// RefuseLongReplies treats a long message as a failed reply function:
	// an error line is logged, nothing saved and the Fallback answered.
	RefuseLongReplies
)

// split returns r with every message over MaxMessageLen split as
// SplitLongReplies says, or an error when refuse is set.
func (r Reply) split(refuse bool) (Reply, error) {
	long := false
	for _, m := range r.Messages {
		long = long || utf16Len(m.Body) > MaxMessageLen
	}
	if !long {
		return r, nil
	}
	var out []Outgoing
	for _, m := range r.Messages {
		n := utf16Len(m.Body)
		if n > MaxMessageLen && refuse {
			return r, fmt.Errorf("convo: a reply message of %d characters is over Twilio's %d", n, MaxMessageLen)
		}
		part := m
		for n > MaxMessageLen {
			head, tail := cut(part.Body)
			part.Body = head
			out = append(out, part)
			part = Outgoing{Body: tail, To: m.To, From: m.From, Action: m.Action, Method: m.Method, StatusCallback: m.StatusCallback}
			n = utf16Len(tail)
		}
		out = append(out, part)
	}
	return Reply{Messages: out, Redirect: r.Redirect}, nil
}

// cut splits s, which is longer than MaxMessageLen, before the last white
// space within the limit, or at the limit when there is none, dropping the
// white space at the cut.
func cut(s string) (head, tail string) {
	units, end, space := 0, 0, -1
	for i, r := range s {
		if units += utf16.RuneLen(r); units > MaxMessageLen {
			end = i
			break
		}
		if unicode.IsSpace(r) && i > 0 {
			space = i
		}
	}
	if space > 0 {
		end = space
	}
	return strings.TrimRightFunc(s[:end], unicode.IsSpace), strings.TrimLeftFunc(s[end:], unicode.IsSpace)
}

// utf16Len returns the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
