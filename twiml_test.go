package convo_test

import (
	"encoding/xml"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/twiml"
)

// node is a parsed XML element with its attributes sorted, so documents
// compare equal whatever order attributes were written in (twilio-go's
// follows map iteration).
type node struct {
	Name     string
	Attrs    []xml.Attr
	Text     string
	Children []*node
}

func parseDoc(t testing.TB, doc []byte) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(doc)))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "not XML: %q", doc)
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attrs: append([]xml.Attr(nil), tok.Attr...)}
			sort.Slice(n.Attrs, func(i, j int) bool { return n.Attrs[i].Name.Local < n.Attrs[j].Name.Local })
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				require.Nil(t, root, "two root elements")
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		}
	}
	require.NotNil(t, root)
	return root
}

var replyShapes = map[string]convo.Reply{
	"nothing":      {},
	"one text":     convo.Text("Rey has messaged +15005550006 3 times"),
	"empty text":   convo.Text(""),
	"two texts":    {Messages: []convo.Outgoing{{Body: "one"}, {Body: "two"}}},
	"markup":       convo.Text(`</Message><Redirect>https://evil</Redirect> & "quotes" 'single' <![CDATA[x]]>`),
	"whitespace":   convo.Text("line1\nline2\r\n\ttabbed  "),
	"unicode":      convo.Text("ünïcødé 🎉 \u2028 日本語"),
	"invalid utf8": convo.Text("bad \xff\xfe bytes \x00 \x01 \x1b"),
	"media only":   {Messages: []convo.Outgoing{{Media: []string{"https://example.com/a.png?x=1&y=2"}}}},
	"text and media": {Messages: []convo.Outgoing{{Body: "look <here>", Media: []string{
		"https://example.com/a.png", "https://example.com/b.gif"}}}},
	"attributes": {Messages: []convo.Outgoing{{Body: "hi", To: "+1<2>", From: `+1"3"`, Action: "https://x/cb?a=1&b=2",
		Method: "POST", StatusCallback: "https://x/status\n"}}},
	"redirect":          {Redirect: &convo.Redirect{URL: "https://example.com/next?a=1&b=<2>", Method: "GET"}},
	"text and redirect": {Messages: []convo.Outgoing{{Body: "wait"}}, Redirect: &convo.Redirect{URL: "https://example.com/next"}},
}

// The fast writer must give the same document as twilio-go's twiml package
// for every reply shape.
func TestTwiMLMatchesTwilioGo(t *testing.T) {
	for name, r := range replyShapes {
		t.Run(name, func(t *testing.T) {
			ours := r.TwiML()
			theirs, err := twiml.Messages(elements(r))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(ours), `<?xml version="1.0" encoding="UTF-8"?>`))
			assert.Equal(t, parseDoc(t, []byte(theirs)), parseDoc(t, ours), "ours:   %s\ntheirs: %s", ours, theirs)
		})
	}
}

func TestTwiMLExactBytes(t *testing.T) {
	tests := []struct {
		reply convo.Reply
		want  string
	}{
		{convo.Reply{}, `<?xml version="1.0" encoding="UTF-8"?><Response/>`},
		{convo.Text("a<b & c>d"), `<?xml version="1.0" encoding="UTF-8"?><Response><Message>a&lt;b &amp; c&gt;d</Message></Response>`},
		{convo.Reply{Messages: []convo.Outgoing{{Body: "x", Media: []string{"https://m/1"}}}},
			`<?xml version="1.0" encoding="UTF-8"?><Response><Message><Body>x</Body><Media>https://m/1</Media></Message></Response>`},
		{convo.Reply{Redirect: &convo.Redirect{URL: "https://n/"}},
			`<?xml version="1.0" encoding="UTF-8"?><Response><Redirect>https://n/</Redirect></Response>`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(tt.reply.TwiML()))
	}
}

func TestReplyString(t *testing.T) {
	assert.Equal(t, "", convo.Reply{}.String())
	assert.Equal(t, "a", convo.Text("a").String())
	assert.Equal(t, "a\nb", convo.Reply{Messages: []convo.Outgoing{{Body: "a"}, {Body: "b"}}}.String())
	assert.Equal(t, "n=3", convo.Textf("n=%d", 3).String())
}

// Any text, rendered and parsed back, is the same text (characters XML
// cannot carry replaced by U+FFFD) inside exactly one element, and the
// document is the one twilio-go renders.
func FuzzTwiMLText(f *testing.F) {
	for _, s := range []string{"", "hello", "</Message><Redirect>x</Redirect>", "a\r\nb", "\xff\x00", "]]>", "&amp;", "🎉"} {
		f.Add(s, "https://example.com/m?a=1&b=2")
	}
	f.Fuzz(func(t *testing.T, text, media string) {
		doc := parseDoc(t, convo.Text(text).TwiML())
		require.Equal(t, "Response", doc.Name)
		require.Len(t, doc.Children, 1)
		msg := doc.Children[0]
		require.Equal(t, "Message", msg.Name)
		require.Empty(t, msg.Children, "text became markup")
		require.Equal(t, sanitize(text), msg.Text)

		r := convo.Reply{Messages: []convo.Outgoing{{Body: text, Media: []string{media}, To: text}}}
		theirs, err := twiml.Messages(elements(r))
		require.NoError(t, err)
		require.Equal(t, parseDoc(t, []byte(theirs)), parseDoc(t, r.TwiML()))
	})
}

// sanitize is what an XML round trip makes of s: invalid UTF-8 and
// characters outside XML's range become U+FFFD, and line ends become LF
// (TwiML text is written as twilio-go writes it, CR raw).
func sanitize(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	for _, r := range s { // each invalid byte yields one U+FFFD
		if r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF {
			b.WriteRune(r)
		} else {
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}

// elements returns r as twilio-go's TwiML verbs, to render it with
// twilio-go's twiml package for comparison.
func elements(r convo.Reply) []twiml.Element {
	var verbs []twiml.Element
	for _, m := range r.Messages {
		msg := twiml.MessagingMessage{To: m.To, From: m.From, Action: m.Action, Method: m.Method, StatusCallback: m.StatusCallback}
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
