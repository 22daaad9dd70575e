package convotest_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTwiMLRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":                   ``,
		"not XML":                 `Thanks!`,
		"unclosed":                `<Response><Message>hi</Response>`,
		"wrong root":              `<Reply><Message>hi</Message></Reply>`,
		"text in Response":        `<Response>hi</Response>`,
		"unknown verb":            `<Response><Say>hi</Say></Response>`,
		"unknown noun":            `<Response><Message><Text>hi</Text></Message></Response>`,
		"nested noun":             `<Response><Message><Body><b>hi</b></Body></Message></Response>`,
		"two bodies":              `<Response><Message><Body>a</Body><Body>b</Body></Message></Response>`,
		"text beside body":        `<Response><Message>a<Body>b</Body></Message></Response>`,
		"empty media":             `<Response><Message><Media> </Media></Message></Response>`,
		"eleven media":            `<Response><Message>` + strings.Repeat(`<Media>u</Media>`, 11) + `</Message></Response>`,
		"redirect without URL":    `<Response><Redirect/></Response>`,
		"verb after redirect":     `<Response><Redirect>/x</Redirect><Message>hi</Message></Response>`,
		"second root":             `<Response/><Response/>`,
		"text after root":         `<Response/>trailing`,
		"element inside redirect": `<Response><Redirect><x/></Redirect></Response>`,
	} {
		_, err := convotest.ParseTwiML([]byte(doc))
		assert.ErrorIs(t, err, convotest.ErrInvalidTwiML, name)
	}
}

func TestParseTwiMLAccepts(t *testing.T) {
	r, err := convotest.ParseTwiML([]byte("<?xml version=\"1.0\"?>\n<!-- hi -->\n<Response>\n <Message>  two  spaces\n</Message>\n</Response>\n<!-- end -->\n"))
	require.NoError(t, err)
	assert.Equal(t, convo.Text("  two  spaces\n"), r, "message text is kept exactly")
}

// Whatever convo renders, ParseTwiML reads back.
func TestParseTwiMLInvertsRender(t *testing.T) {
	replies := []convo.Reply{
		{},
		convo.Text(""),
		convo.Text(`<Message>&amp; "quotes" 'single' ]]> </Response>`),
		convo.Text("tabs\tand\nnewlines ✓ 😀"),
		{Messages: []convo.Outgoing{
			{Body: "a", Media: []string{"https://e.com/1.jpg?a=1&b=2"}, To: `+1"2`, From: "<f>", Action: "/a?x=1&y=2", Method: "GET", StatusCallback: "https://cb"},
			{Media: []string{"https://e.com/2.jpg"}},
			{Body: "third"},
		}, Redirect: &convo.Redirect{URL: "https://e.com/next?a=1&b=2"}},
		{Redirect: &convo.Redirect{URL: "/relative", Method: "GET"}},
	}
	for _, want := range replies {
		got, err := convotest.ParseTwiML(want.TwiML())
		require.NoError(t, err, "%s", want.TwiML())
		assert.Equal(t, want, got, "%s", want.TwiML())
	}
}

func FuzzParseTwiML(f *testing.F) {
	f.Add([]byte(`<Response><Message>hi</Message></Response>`), "hi", "https://e.com/a.jpg", "")
	f.Add([]byte(`<Response><Message><Body>a</Body><Media>u</Media></Message><Redirect method="GET">/x</Redirect></Response>`), "", "u", "/x")
	f.Add([]byte(`<?xml version="1.0"?><Response/>`), "a\x00b\xff<&>", "", "")
	f.Add([]byte(`<Response><Message to="&#34;">&#xD;</Message></Response>`), "\r\n\t", " u ", " /r ")
	f.Fuzz(func(t *testing.T, doc []byte, body, media, redirect string) {
		// Any document: an answer or an error, never a panic.
		if r, err := convotest.ParseTwiML(doc); err == nil {
			for _, m := range r.Messages {
				assert.LessOrEqual(t, len(m.Media), convo.MaxMedia)
			}
		}

		// Any reply convo renders reads back, its texts made XML-safe and
		// its line ends normalized as every XML parser, Twilio's too,
		// normalizes them (a renderer may escape CR or write it raw).
		want := convo.Reply{Messages: []convo.Outgoing{{Body: body, To: body}}}
		if u := strings.TrimSpace(media); u != "" {
			want.Messages[0].Media = []string{media}
		}
		if u := strings.TrimSpace(redirect); u != "" {
			want.Redirect = &convo.Redirect{URL: redirect, Method: "GET"}
		}
		got, err := convotest.ParseTwiML(want.TwiML())
		require.NoError(t, err, "%q", want.TwiML())
		require.Len(t, got.Messages, 1)
		assert.Equal(t, lineEnds(xmlSafe(body)), lineEnds(got.Messages[0].Body))
		assert.Equal(t, attrSpaces(xmlSafe(body)), attrSpaces(got.Messages[0].To))
		if want.Messages[0].Media != nil {
			require.Len(t, got.Messages[0].Media, 1)
			assert.Equal(t, lineEnds(strings.TrimSpace(xmlSafe(media))), lineEnds(got.Messages[0].Media[0]))
		}
		if want.Redirect != nil {
			require.NotNil(t, got.Redirect)
			assert.Equal(t, lineEnds(strings.TrimSpace(xmlSafe(redirect))), lineEnds(got.Redirect.URL))
		}
	})
}

// xmlSafe replaces what XML cannot carry with U+FFFD, as convo's renderer
// does: each invalid byte, and each character outside XML's range.
func xmlSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		ok := r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
			r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
		if r == utf8.RuneError || !ok {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lineEnds normalizes CR LF and lone CR to LF, as XML parsers do.
func lineEnds(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// attrSpaces turns the white space characters of an attribute value into
// spaces, as XML's attribute-value normalization does.
func attrSpaces(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(lineEnds(s))
}
