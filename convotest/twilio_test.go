package convotest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

// recorder is a handler that keeps every request it gets and answers with
// answer (nil: an empty <Response/>).
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	forms    []url.Values
	answer   http.HandlerFunc
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, r)
	rec.forms = append(rec.forms, r.PostForm)
	rec.mu.Unlock()
	if rec.answer != nil {
		rec.answer(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Response/>`)
}

func (rec *recorder) last(t *testing.T) (*http.Request, url.Values) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.requests, "the handler got no request")
	return rec.requests[len(rec.requests)-1], rec.forms[len(rec.forms)-1]
}

var (
	sidRE   = regexp.MustCompile(`^SM[0-9a-f]{32}$`)
	acRE    = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
	tokenRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestSignatureMatchesIndependentComputations(t *testing.T) {
	tests := []struct {
		name, token, url string
		form             url.Values
		want             string // computed with openssl dgst -sha1 -hmac, or "" to check with twilio-go only
	}{
		{
			name: "seed message", token: "12345", url: "https://example.com/sms",
			form: url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}},
			// printf '%s' 'https://example.com/smsBodyhiFrom+14158675308To+15005550006' | openssl dgst -sha1 -hmac 12345 -binary | base64
			want: "b8MEZr1dbGe8+hqir3TeMHLjp4c=",
		},
		{
			name: "no parameters", token: "12345", url: "https://example.com/sms",
			// printf '%s' 'https://example.com/sms' | openssl dgst -sha1 -hmac 12345 -binary | base64
			want: "U4LDD0cAOPwkAgFQgqCAAG/S9Sw=",
		},
		{
			name: "query, port, unicode and case-sensitive order", token: "tok", url: "http://127.0.0.1:8080/sms?x=1&y=%20",
			form: url.Values{"b": {"1"}, "B": {"2"}, "Body": {"héllo <&> ✓"}, "a": {""}},
		},
		{
			name: "realistic webhook", token: "abcdef0123456789abcdef0123456789", url: "https://bot.example.org/twilio/sms",
			form: url.Values{
				"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
				"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"Hello, World! 100% sure?"},
				"NumMedia": {"1"}, "MediaUrl0": {"https://api.twilio.com/2010-04-01/x.jpg"}, "MediaContentType0": {"image/jpeg"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := convotest.Signature(tt.token, tt.url, tt.form)
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
			}
			v := client.NewRequestValidator(tt.token)
			params := map[string]string{}
			for k, vs := range tt.form {
				params[k] = vs[0]
			}
			assert.True(t, v.Validate(tt.url, params, got), "twilio-go does not accept the signature")
			assert.False(t, v.Validate(tt.url+"x", params, got), "twilio-go accepts the signature for another URL")
		})
	}
}

func TestSignatureRepeatedValuesSorted(t *testing.T) {
	a := convotest.Signature("t", "https://e.com/", url.Values{"K": {"b", "a"}})
	b := convotest.Signature("t", "https://e.com/", url.Values{"K": {"a", "b"}})
	assert.Equal(t, a, b)
	assert.Equal(t, convotest.Signature("t", "https://e.com/", url.Values{"Ka": {""}, "Kb": {""}}), a)
}

func newCounter(t *testing.T, cfg convo.Config) http.Handler {
	t.Helper()
	if cfg.Store == nil {
		s := memstore.New(memstore.Options{})
		t.Cleanup(func() { s.Close() })
		cfg.Store = s
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Reply == nil {
		cfg.Reply = convo.Greeter(convo.SeedNames())
	}
	h, err := convo.NewHandler(cfg)
	require.NoError(t, err)
	return h
}

func TestSignatureAcceptedByHandler(t *testing.T) {
	ctx := context.Background()
	h := newCounter(t, convo.Config{AuthToken: "right"})

	for i, u := range []string{"", "https://example.com/sms", "http://bot.local:8080/hook/sms?tenant=a%20b"} {
		tw := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: "right", URL: u})
		r, err := tw.Phone("+14158675308", "+15005550006").Send(ctx, "hi & <bye>")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, r.Status, "URL %q: %s", u, r.Body)
		assert.Equal(t, []string{fmt.Sprintf("Rey has messaged +15005550006 %d times", i+1)}, r.Texts())
	}

	wrong := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: "wrong"})
	r, err := wrong.Phone("+14158675308", "+15005550006").Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Empty(t, r.Messages)

	unsigned := convotest.NewTwilio(h, convotest.TwilioOptions{})
	r, err = unsigned.Phone("+14158675308", "+15005550006").Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
}

func TestSignatureOverHTTPWithPublicURL(t *testing.T) {
	const public = "https://bot.example.com/sms"
	h := newCounter(t, convo.Config{AuthToken: "tok", PublicURL: public})
	srv := httptest.NewServer(h)
	defer srv.Close()

	tw, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{AuthToken: "tok", URL: public})
	require.NoError(t, err)
	r, err := tw.Phone("+12349013030", "+15005550006").Send(context.Background(), "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "Finn has messaged +15005550006 1 times", r.String())

	// Signing the URL the server is reached at fails behind the "proxy".
	tw, err = convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{AuthToken: "tok"})
	require.NoError(t, err)
	r, err = tw.Phone("+12349013030", "+15005550006").Send(context.Background(), "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
}

func TestNewTwilioURLRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "/sms", "ftp://x/sms", "http://", "http://[::1"} {
		_, err := convotest.NewTwilioURL(u, convotest.TwilioOptions{})
		assert.Error(t, err, "%q", u)
	}
	_, err := convotest.NewTwilioURL("http://127.0.0.1/sms", convotest.TwilioOptions{URL: "example.com/sms"})
	assert.Error(t, err)
	assert.Panics(t, func() { convotest.NewTwilio(&recorder{}, convotest.TwilioOptions{URL: "not a url"}) })
	assert.Panics(t, func() { convotest.NewTwilio(nil, convotest.TwilioOptions{}) })
}

func TestSMSParameters(t *testing.T) {
	rec := &recorder{}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{AuthToken: "tok", MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"})
	assert.Regexp(t, acRE, tw.AccountSID())
	p := tw.Phone("+14158675308", "+15005550006")
	ctx := context.Background()

	r, err := p.Send(ctx, "hello")
	require.NoError(t, err)
	req, f := rec.last(t)
	assert.Equal(t, f, r.Form, "Reply.Form is not what was sent")
	sid := f.Get("MessageSid")
	assert.Regexp(t, sidRE, sid)
	assert.Equal(t, sid, f.Get("SmsMessageSid"))
	assert.Equal(t, sid, f.Get("SmsSid"))
	assert.Equal(t, tw.AccountSID(), f.Get("AccountSid"))
	assert.Equal(t, "MG0123456789abcdef0123456789abcdef", f.Get("MessagingServiceSid"))
	assert.Equal(t, "+14158675308", f.Get("From"))
	assert.Equal(t, "+15005550006", f.Get("To"))
	assert.Equal(t, "hello", f.Get("Body"))
	assert.Equal(t, "0", f.Get("NumMedia"))
	assert.Equal(t, "1", f.Get("NumSegments"))
	assert.Equal(t, "received", f.Get("SmsStatus"))
	assert.Equal(t, "2010-04-01", f.Get("ApiVersion"))
	for _, k := range []string{"ProfileName", "WaId", "MessageType", "FromCity"} {
		assert.NotContains(t, f, k)
	}
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "/sms", req.URL.Path)
	assert.Equal(t, "example.com", req.Host)
	assert.NotNil(t, req.TLS, "an https webhook URL gives the request a TLS state")
	assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
	assert.Equal(t, convotest.Signature("tok", convotest.DefaultWebhookURL, f), req.Header.Get("X-Twilio-Signature"))
	token := req.Header.Get("I-Twilio-Idempotency-Token")
	assert.Regexp(t, tokenRE, token)

	_, err = p.Send(ctx, "again")
	require.NoError(t, err)
	req2, f2 := rec.last(t)
	assert.Regexp(t, sidRE, f2.Get("MessageSid"))
	assert.NotEqual(t, sid, f2.Get("MessageSid"), "MessageSid not fresh")
	assert.NotEqual(t, token, req2.Header.Get("I-Twilio-Idempotency-Token"), "idempotency token not fresh")
	assert.Equal(t, f.Get("AccountSid"), f2.Get("AccountSid"))

	// The message parses as convo parses webhooks.
	m, err := convo.ParseMessage(f)
	require.NoError(t, err)
	assert.Equal(t, "sms", m.Channel)
	assert.Equal(t, sid, m.MessageSID)
}

func TestMediaAndParams(t *testing.T) {
	rec := &recorder{}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{AccountSID: "ACfixed"})
	p := tw.Phone("+14158675308", "+15005550006")
	p.Params = url.Values{"FromCity": {"SAN FRANCISCO"}, "FromCountry": {"US"}}
	_, err := p.SendMessage(context.Background(), convotest.Message{
		Body: "look",
		Media: []convo.Media{
			{URL: "https://example.com/a.JPG?x=1"},
			{URL: "https://example.com/b.mp4"},
			{URL: "https://example.com/c", ContentType: "audio/ogg"},
			{URL: "https://example.com/d.unknownext"},
		},
		Params: url.Values{"FromCountry": {"CA"}, "MessageSid": {"SMmine"}},
	})
	require.NoError(t, err)
	_, f := rec.last(t)
	assert.Equal(t, "ACfixed", f.Get("AccountSid"))
	assert.Equal(t, "4", f.Get("NumMedia"))
	assert.Equal(t, "1", f.Get("NumSegments"))
	assert.Equal(t, "SAN FRANCISCO", f.Get("FromCity"))
	assert.Equal(t, "CA", f.Get("FromCountry"), "the message's Params win over the phone's")
	assert.Equal(t, "SMmine", f.Get("MessageSid"))
	m, err := convo.ParseMessage(f)
	require.NoError(t, err)
	assert.Equal(t, []convo.Media{
		{URL: "https://example.com/a.JPG?x=1", ContentType: "image/jpeg"},
		{URL: "https://example.com/b.mp4", ContentType: "video/mp4"},
		{URL: "https://example.com/c", ContentType: "audio/ogg"},
		{URL: "https://example.com/d.unknownext", ContentType: "application/octet-stream"},
	}, m.Media)

	_, err = p.SendMessage(context.Background(), convotest.Message{Media: make([]convo.Media, 11)})
	assert.Error(t, err, "11 media")
	_, err = p.SendMessage(context.Background(), convotest.Message{Media: []convo.Media{{}}})
	assert.Error(t, err, "media without URL")
}

func TestWhatsAppParameters(t *testing.T) {
	rec := &recorder{}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{})
	p := tw.Phone("whatsapp:+14158675308", "whatsapp:+14155238886")
	ctx := context.Background()

	_, err := p.Send(ctx, "hello")
	require.NoError(t, err)
	_, f := rec.last(t)
	assert.Equal(t, "whatsapp:+14158675308", f.Get("From"))
	assert.Equal(t, "whatsapp:+14155238886", f.Get("To"))
	assert.Equal(t, "14158675308", f.Get("WaId"))
	assert.Equal(t, convotest.DefaultProfileName, f.Get("ProfileName"))
	assert.Equal(t, "text", f.Get("MessageType"))
	assert.Equal(t, "1", f.Get("NumSegments"))

	p.ProfileName = "Rey"
	_, err = p.SendMessage(ctx, convotest.Message{Media: []convo.Media{{URL: "https://example.com/doc.pdf"}}})
	require.NoError(t, err)
	_, f = rec.last(t)
	assert.Equal(t, "Rey", f.Get("ProfileName"))
	assert.Equal(t, "document", f.Get("MessageType"))
	m, err := convo.ParseMessage(f)
	require.NoError(t, err)
	assert.Equal(t, "whatsapp", m.Channel)
	assert.Equal(t, "Rey", m.ProfileName)
	assert.Equal(t, "14158675308", m.WaID)
}

func TestSegments(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{"", 1},
		{"hi", 1},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1},  // extension characters count twice
		{strings.Repeat("€", 81), 2},  // 162 units
		{strings.Repeat("é", 160), 1}, // é is GSM-7
		{strings.Repeat("✓", 70), 1},
		{strings.Repeat("✓", 71), 2},
		{strings.Repeat("a", 159) + "✓", 3}, // one UCS-2 character makes the whole text UCS-2
		{strings.Repeat("😀", 35), 1},        // two UTF-16 units each
		{strings.Repeat("😀", 36), 2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, convotest.Segments(tt.body), "%.20q… (%d bytes)", tt.body, len(tt.body))
	}
}

// cookieHandler sets the cookie given by the test, and records the cookie
// each request carried.
type cookieHandler struct {
	mu  sync.Mutex
	set string // the Set-Cookie line of the next answer, if any
	got []string
}

func (h *cookieHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for _, c := range r.Cookies() {
		got = append(got, c.Name+"="+c.Value)
	}
	h.got = append(h.got, strings.Join(got, "; "))
	if h.set != "" {
		w.Header().Add("Set-Cookie", h.set)
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprint(w, `<Response/>`)
}

func (h *cookieHandler) next(setCookie string) {
	h.mu.Lock()
	h.set = setCookie
	h.mu.Unlock()
}

func (h *cookieHandler) lastCookie() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[len(h.got)-1]
}

func TestCookiesFollowTwilioRules(t *testing.T) {
	ctx := context.Background()
	clock := convotest.NewClock(time.Time{})
	h := &cookieHandler{}
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{Now: clock.Now})
	rey := tw.Phone("+14158675308", "+15005550006")
	finn := tw.Phone("+12349013030", "+15005550006")
	reyWA := tw.Phone("whatsapp:+14158675308", "whatsapp:+15005550006")
	send := func(p *convotest.Phone, setCookie string) string {
		t.Helper()
		h.next(setCookie)
		_, err := p.Send(ctx, "x")
		require.NoError(t, err)
		return h.lastCookie()
	}

	assert.Equal(t, "", send(rey, "s=1"), "first message carries no cookie")
	assert.Equal(t, "s=1", send(rey, ""), "cookie not carried")
	assert.Equal(t, "", send(finn, ""), "another pair got Rey's cookie")
	assert.Equal(t, "", send(reyWA, ""), "the WhatsApp pair got the SMS pair's cookie")
	assert.Len(t, rey.Cookies(), 1)

	// Without an expiry a cookie lives four hours after it was last set.
	clock.Advance(3 * time.Hour)
	assert.Equal(t, "s=1", send(rey, "s=2"), "cookie expired before four hours")
	clock.Advance(3 * time.Hour) // 6h after the first set, 3h after the second
	assert.Equal(t, "s=2", send(rey, ""), "setting the cookie again did not restart its four hours")
	clock.Advance(time.Hour)
	assert.Equal(t, "", send(rey, ""), "cookie outlived four idle hours")

	// A longer expiry is capped to four hours, a shorter one honoured.
	send(rey, "s=3; Max-Age=86400")
	clock.Advance(4*time.Hour - time.Second)
	assert.Equal(t, "s=3", send(rey, ""))
	clock.Advance(time.Second)
	assert.Equal(t, "", send(rey, ""), "Max-Age of a day not capped to four hours")

	send(rey, "s=4; Expires="+clock.Now().Add(48*time.Hour).UTC().Format(http.TimeFormat))
	clock.Advance(4 * time.Hour)
	assert.Equal(t, "", send(rey, ""), "Expires in two days not capped to four hours")

	send(rey, "s=5; Max-Age=60")
	clock.Advance(59 * time.Second)
	assert.Equal(t, "s=5", send(rey, ""))
	clock.Advance(time.Second)
	assert.Equal(t, "", send(rey, ""), "Max-Age=60 not honoured")

	send(rey, "s=6")
	send(rey, "s=; Max-Age=0")
	assert.Equal(t, "", send(rey, ""), "Max-Age=0 did not delete the cookie")
}

func TestCookiesOverHTTP(t *testing.T) {
	srv := httptest.NewServer(&cookieHandler{set: "sess=abc; Path=/; HttpOnly"})
	defer srv.Close()
	tw, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{})
	require.NoError(t, err)
	p := tw.Phone("+14158675308", "+15005550006")
	_, err = p.Send(context.Background(), "a")
	require.NoError(t, err)
	require.Len(t, p.Cookies(), 1)
	assert.Equal(t, "abc", p.Cookies()[0].Value)
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "n", Value: r.PostForm.Get("Body")})
		fmt.Fprint(w, `<Response/>`)
	}}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{AuthToken: "tok"})
	p := tw.Phone("+14158675308", "+15005550006")

	_, err := p.Retry(ctx)
	assert.ErrorIs(t, err, convotest.ErrNoMessage)

	first, err := p.Send(ctx, "one")
	require.NoError(t, err)
	req1, f1 := rec.last(t)
	retried, err := p.Retry(ctx)
	require.NoError(t, err)
	req2, f2 := rec.last(t)

	assert.Equal(t, f1, f2, "a retry sends the same parameters")
	assert.Equal(t, first.Form.Get("MessageSid"), retried.Form.Get("MessageSid"))
	for _, h := range []string{"I-Twilio-Idempotency-Token", "X-Twilio-Signature"} {
		assert.NotEmpty(t, req1.Header.Get(h))
		assert.Equal(t, req1.Header.Get(h), req2.Header.Get(h), h)
	}
	assert.Empty(t, req1.Cookies())
	c, err := req2.Cookie("n")
	require.NoError(t, err, "the retry does not carry the cookie held now")
	assert.Equal(t, "one", c.Value)
}

func TestBurstIsSimultaneous(t *testing.T) {
	const n = 16
	var arrived sync.WaitGroup
	arrived.Add(n)
	allIn := make(chan struct{})
	go func() { arrived.Wait(); close(allIn) }()
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-allIn: // every message of the burst is in flight at once
		case <-time.After(10 * time.Second):
			http.Error(w, "not simultaneous", http.StatusGatewayTimeout)
			return
		}
		fmt.Fprintf(w, `<Response><Message>got %s</Message></Response>`, r.PostForm.Get("Body"))
	}}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{})
	replies, err := tw.Phone("+14158675308", "+15005550006").Burst(context.Background(), n, func(i int) string { return fmt.Sprint("m", i) })
	require.NoError(t, err)
	require.Len(t, replies, n)
	sids := map[string]bool{}
	for i, r := range replies {
		require.NotNil(t, r)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, fmt.Sprint("got m", i), r.String(), "replies not in the order sent")
		sids[r.Form.Get("MessageSid")] = true
	}
	assert.Len(t, sids, n, "MessageSids repeat within a burst")
}

func TestBurstReportsErrors(t *testing.T) {
	rec := &recorder{answer: func(w http.ResponseWriter, r *http.Request) {
		if r.PostForm.Get("Body") == "message 2" {
			fmt.Fprint(w, `<Response><Nope/></Response>`)
			return
		}
		fmt.Fprint(w, `<Response/>`)
	}}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{})
	replies, err := tw.Phone("+1", "+2").Burst(context.Background(), 3, nil)
	require.ErrorIs(t, err, convotest.ErrInvalidTwiML)
	assert.Contains(t, err.Error(), "burst message 1")
	require.Len(t, replies, 3)
	assert.NotNil(t, replies[1], "the reply with invalid TwiML is returned with its error")
}

func TestReplies(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		want     convo.Reply
		wantErr  bool
		wantText []string
	}{
		{
			name: "media and redirect", status: 200,
			body: `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Message to="+1" action="/status" method="GET">
    <Body>Look &amp; see</Body>
    <Media> https://example.com/a.jpg </Media>
    <Media>https://example.com/b.png</Media>
  </Message>
  <Message statusCallback="https://example.com/cb">plain &lt;text&gt;</Message>
  <Redirect method="POST">https://example.com/next</Redirect>
</Response>`,
			want: convo.Reply{
				Messages: []convo.Outgoing{
					{Body: "Look & see", Media: []string{"https://example.com/a.jpg", "https://example.com/b.png"}, To: "+1", Action: "/status", Method: "GET"},
					{Body: "plain <text>", StatusCallback: "https://example.com/cb"},
				},
				Redirect: &convo.Redirect{URL: "https://example.com/next", Method: "POST"},
			},
			wantText: []string{"Look & see", "plain <text>"},
		},
		{name: "empty response", status: 200, body: `<Response/>`, wantText: []string{}},
		{name: "204 no body", status: 204, body: ``, wantText: []string{}},
		{name: "error status is not parsed", status: 500, body: `Internal Server Error`, wantText: []string{}},
		{name: "invalid TwiML", status: 200, body: `Thanks!`, wantErr: true, wantText: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				w.Header().Set("X-Test", "yes")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			r, err := convotest.NewTwilio(h, convotest.TwilioOptions{}).Phone("+1", "+2").Send(context.Background(), "x")
			if tt.wantErr {
				require.ErrorIs(t, err, convotest.ErrInvalidTwiML)
			} else {
				require.NoError(t, err)
			}
			require.NotNil(t, r)
			assert.Equal(t, tt.status, r.Status)
			assert.Equal(t, tt.body, string(r.Body))
			assert.Equal(t, "yes", r.Header.Get("X-Test"))
			assert.Equal(t, tt.want, r.Reply)
			assert.Equal(t, tt.wantText, r.Texts())
		})
	}
}

func TestContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &recorder{}
	_, err := convotest.NewTwilio(rec, convotest.TwilioOptions{}).Phone("+1", "+2").Send(ctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, rec.requests)

	srv := httptest.NewServer(rec)
	defer srv.Close()
	tw, err := convotest.NewTwilioURL(srv.URL, convotest.TwilioOptions{})
	require.NoError(t, err)
	_, err = tw.Phone("+1", "+2").Send(ctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestUnreachableURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	tw, err := convotest.NewTwilioURL(u+"/sms", convotest.TwilioOptions{})
	require.NoError(t, err)
	_, err = tw.Phone("+1", "+2").Send(context.Background(), "x")
	require.Error(t, err)
	assert.False(t, errors.Is(err, convotest.ErrInvalidTwiML))
}

func TestRedirectsNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	tw, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{})
	require.NoError(t, err)
	r, err := tw.Phone("+1", "+2").Send(context.Background(), "x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusFound, r.Status)
}

func TestPhones(t *testing.T) {
	ctx := context.Background()
	h := newCounter(t, convo.Config{InsecureSkipSignatureCheck: true})
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{})
	phones := tw.Phones(30, "+15005550006")
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for _, p := range phones {
		seen[p.Key().From] = true
		assert.Regexp(t, `^\+1415\d{7}$`, p.Key().From)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 3; i++ {
				r, err := p.Send(ctx, "hi")
				assert.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("Friend has messaged +15005550006 %d times", i), r.String())
			}
		}()
	}
	wg.Wait()
	assert.Len(t, seen, 30)
}

func TestResend(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	tw := convotest.NewTwilio(rec, convotest.TwilioOptions{AuthToken: "tok"})
	p := tw.Phone("+14158675308", "+15005550006")
	first, err := p.Send(ctx, "one")
	require.NoError(t, err)
	req1, f1 := rec.last(t)
	_, err = p.Send(ctx, "two")
	require.NoError(t, err)

	again, err := p.Resend(ctx, first)
	require.NoError(t, err)
	req2, f2 := rec.last(t)
	assert.Equal(t, f1, f2)
	assert.Equal(t, first.Form, again.Form)
	assert.Equal(t, req1.Header.Get("I-Twilio-Idempotency-Token"), req2.Header.Get("I-Twilio-Idempotency-Token"))

	_, err = tw.Phone("+12349013030", "+15005550006").Resend(ctx, first)
	assert.Error(t, err, "resending another phone's message")
	_, err = p.Resend(ctx, &convotest.Reply{})
	assert.Error(t, err)
}

// The signer agrees with twilio-go's validator for any URL and parameters
// whose names sort the same by bytes, as twilio-go sorts them, and by
// UTF-16 code units, as Twilio does (they differ between characters above
// U+FFFF and those from U+E000 to U+FFFF; the root package checks those
// against vectors of Twilio's Node helper).
func FuzzSignature(f *testing.F) {
	f.Add("12345", "https://example.com/sms", "Body", "hi", "From", "+14158675308")
	f.Add("t", "http://127.0.0.1:8080/sms?a=1&b=%20", "b", "", "B", "✓ <&>")
	f.Add("", "https://e.com/", "", "", "x", "\x00\xff")
	f.Fuzz(func(t *testing.T, token, u, k1, v1, k2, v2 string) {
		form := url.Values{k1: {v1}, k2: {v2}}
		params := map[string]string{k1: v1, k2: v2}
		if k1 == k2 {
			form = url.Values{k1: {v2}}
		}
		if c := slices.Compare(utf16.Encode([]rune(k1)), utf16.Encode([]rune(k2))); c != 0 && (c < 0) != (k1 < k2) {
			t.Skip("twilio-go sorts these names by bytes, Twilio by UTF-16 code units")
		}
		sig := convotest.Signature(token, u, form)
		v := client.NewRequestValidator(token)
		assert.True(t, v.Validate(u, params, sig), "twilio-go rejects the signature of %q %v", u, form)
	})
}
