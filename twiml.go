package convo

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/twilio/twilio-go/twiml"
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
	switch len(r.Messages) {
	case 0:
		return ""
	case 1:
		return r.Messages[0].Body
	}
	var b strings.Builder
	for i, m := range r.Messages {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.Body)
	}
	return b.String()
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>`

// TwiML renders the reply as a TwiML document. Every text and attribute is
// escaped, and characters XML cannot carry become U+FFFD, so no input can
// add or end an element. The result parses to the same document as
// twilio-go's twiml.Messages(r.Elements()).
func (r Reply) TwiML() []byte {
	return r.AppendTwiML(make([]byte, 0, r.sizeHint()))
}

func (r Reply) sizeHint() int {
	n := len(xmlHeader) + len("<Response></Response>")
	for _, m := range r.Messages {
		n += len("<Message></Message>") + len(m.Body) + 16
		for _, u := range m.Media {
			n += len("<Media></Media>") + len(u)
		}
	}
	if r.Redirect != nil {
		n += 48 + len(r.Redirect.URL)
	}
	return n
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
			dst = appendEscaped(dst, m.Body, false)
		} else {
			if m.Body != "" {
				dst = append(dst, "<Body>"...)
				dst = appendEscaped(dst, m.Body, false)
				dst = append(dst, "</Body>"...)
			}
			for _, u := range m.Media {
				dst = append(dst, "<Media>"...)
				dst = appendEscaped(dst, u, false)
				dst = append(dst, "</Media>"...)
			}
		}
		dst = append(dst, "</Message>"...)
	}
	if rd := r.Redirect; rd != nil {
		dst = append(dst, "<Redirect"...)
		dst = appendAttr(dst, "method", rd.Method)
		dst = append(dst, '>')
		dst = appendEscaped(dst, rd.URL, false)
		dst = append(dst, "</Redirect>"...)
	}
	return append(dst, "</Response>"...)
}

// Elements returns the reply as twilio-go's TwiML verbs, for code that
// builds documents with github.com/twilio/twilio-go/twiml.
func (r Reply) Elements() []twiml.Element {
	var verbs []twiml.Element
	for _, m := range r.Messages {
		msg := twiml.MessagingMessage{
			To: m.To, From: m.From, Action: m.Action, Method: m.Method, StatusCallback: m.StatusCallback,
		}
		if len(m.Media) == 0 {
			msg.Body = m.Body
		} else {
			if m.Body != "" {
				msg.InnerElements = append(msg.InnerElements, twiml.MessagingBody{Message: m.Body})
			}
			for _, u := range m.Media {
				msg.InnerElements = append(msg.InnerElements, twiml.MessagingMedia{Url: u})
			}
		}
		verbs = append(verbs, msg)
	}
	if rd := r.Redirect; rd != nil {
		verbs = append(verbs, twiml.MessagingRedirect{Url: rd.URL, Method: rd.Method})
	}
	return verbs
}

func appendAttr(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, `="`...)
	dst = appendEscaped(dst, value, true)
	return append(dst, '"')
}

// appendEscaped appends s escaped for XML character data (or, with attr, an
// attribute value in double quotes). Like encoding/xml.EscapeText, it
// replaces invalid UTF-8 and characters outside XML's range with U+FFFD;
// unlike it, it writes tabs and line ends raw, as twilio-go does.
func appendEscaped(dst []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '"' {
			i++
			continue
		}
		var esc string
		width := 1
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			if !attr {
				i++
				continue
			}
			esc = "&#34;"
		case '\t', '\n', '\r':
			// Written raw, as twilio-go's etree writes them, so that
			// every XML parser reads the same document from both.
			i++
			continue
		default:
			var r rune
			r, width = utf8.DecodeRuneInString(s[i:])
			if (r != utf8.RuneError || width > 1) && inXMLRange(r) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += width
		last = i
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
