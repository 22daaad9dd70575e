package convo_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/require"
)

const (
	token   = "12345678901234567890123456789012"
	reyNum  = "+14158675308"
	twilNum = "+15005550006"
	hookURL = "https://convo.example.com/sms"
)

var rey = convo.Key{From: reyNum, To: twilNum}

func form(from, to, body, sid string) url.Values {
	f := url.Values{"From": {from}, "To": {to}, "Body": {body}, "AccountSid": {"AC" + strings.Repeat("0", 32)}}
	if sid != "" {
		f.Set("MessageSid", sid)
	}
	return f
}

// post sends form to h as Twilio would to hookURL, signed with token when it
// is not empty.
func post(t testing.TB, h http.Handler, f url.Values, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", convotest.Signature(token, hookURL, f))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// messages parses a TwiML answer and returns the texts of its <Message>s.
func messages(t testing.TB, doc []byte) []string {
	t.Helper()
	var resp struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	require.NoError(t, xml.Unmarshal(doc, &resp), "answer is not TwiML: %s", doc)
	var out []string
	for _, m := range resp.Messages {
		out = append(out, m.Text+m.Body)
	}
	return out
}

// fixture is a Handler on a memstore with the seed's greeter, a test clock,
// captured logs and a fake Twilio signing with token.
type fixture struct {
	h     *convo.Handler
	store *memstore.Store
	clock *convotest.Clock
	logs  *convotest.Logs
	tw    *convotest.Twilio
	rey   *convotest.Phone
}

func newFixture(t testing.TB, mod func(*convo.Config)) *fixture {
	t.Helper()
	clock := convotest.NewClock(time.Time{})
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	logs, logger := convotest.NewLogs()
	cfg := convo.Config{
		Store:     store,
		Reply:     convo.Greeter(convo.SeedNames()),
		AuthToken: token,
		Now:       clock.Now,
		Logger:    logger,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := convo.NewHandler(cfg)
	require.NoError(t, err)
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: token, URL: hookURL, Now: clock.Now})
	return &fixture{h: h, store: store, clock: clock, logs: logs, tw: tw, rey: tw.Phone(reyNum, twilNum)}
}

// stored returns the conversation f's store holds for key (a fresh one
// when none).
func (f *fixture) stored(t testing.TB, key convo.Key) *convo.Conversation {
	t.Helper()
	data, _, err := f.store.Load(context.Background(), key)
	require.NoError(t, err)
	if data == nil {
		return &convo.Conversation{Key: key}
	}
	c, err := convo.DecodeRecord(key, data)
	require.NoError(t, err)
	return c
}

// text sends body from Rey and returns the texts answered.
func (f *fixture) text(t testing.TB, body string) []string {
	t.Helper()
	r, err := f.rey.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return r.Texts()
}

// counted returns "Rey has messaged +15005550006 n times".
func counted(n int) []string {
	return []string{fmt.Sprintf("Rey has messaged +15005550006 %d times", n)}
}
