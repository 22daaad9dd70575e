package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/servetest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rey = "+14158675308"

var quiet = slog.New(slog.DiscardHandler)

// counterServer serves the counter example's webhook (convo.Greeter of the
// seed's names on memstore) on httptest, on clock; token "" accepts
// unsigned requests. It returns the webhook's URL.
func counterServer(t testing.TB, clock *convotest.Clock, token string) string {
	t.Helper()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	h, err := convo.NewHandler(convo.Config{
		Store: store, Reply: convo.Greeter(convo.SeedNames()), AuthToken: token, InsecureSkipSignatureCheck: token == "",
		Now: clock.Now, Logger: quiet,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/sms"
}

// devphone serves the dev phone for webhook on httptest and returns its URL.
func devphone(t testing.TB, opts Options) string {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := newServer(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends v as JSON to the dev phone's API and decodes the answer into
// out, returning the status.
func post(t testing.TB, base, path string, v, out any) int {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	res, err := http.Post(base+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	if out != nil {
		require.NoError(t, json.NewDecoder(res.Body).Decode(out))
	}
	return res.StatusCode
}

func send(t testing.TB, base string, req SendRequest) Thread {
	t.Helper()
	var th Thread
	require.Equal(t, http.StatusOK, post(t, base, "/api/send", req, &th))
	return th
}

func last(t testing.TB, th Thread) Entry {
	t.Helper()
	require.NotEmpty(t, th.Entries)
	return th.Entries[len(th.Entries)-1]
}

func replyText(e Entry) string {
	var texts []string
	for _, r := range e.Replies {
		texts = append(texts, r.Body)
	}
	return strings.Join(texts, "\n")
}

// burst sends a burst of n of Rey's messages through the API, checks its
// entries and returns the replies' texts, sorted.
func burst(t *testing.T, base string, n int) []string {
	t.Helper()
	var th Thread
	require.Equal(t, http.StatusOK, post(t, base, "/api/burst", BurstRequest{From: rey, To: DefaultTo, Body: "quick", N: n}, &th))
	var got []string
	for i, e := range th.Entries[len(th.Entries)-n:] {
		assert.Equal(t, "burst", e.Kind)
		assert.Equal(t, fmt.Sprintf("%d/%d", i+1, n), e.Burst)
		assert.Equal(t, fmt.Sprintf("quick (%d/%d)", i+1, n), e.Body)
		assert.Empty(t, e.Error)
		got = append(got, replyText(e))
	}
	slices.Sort(got)
	return got
}

// getJSON fetches url and decodes its JSON into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.NewDecoder(res.Body).Decode(out))
}

func TestCounterThroughTheAPI(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	base := devphone(t, Options{Webhook: counterServer(t, clock, ""), Clock: clock})
	msg := SendRequest{From: rey, To: DefaultTo, Body: "hi"}

	var sids []string
	for i := 1; i <= 3; i++ {
		e := last(t, send(t, base, msg))
		assert.Equal(t, "message", e.Kind)
		assert.Equal(t, http.StatusOK, e.Status)
		assert.Empty(t, e.Error)
		assert.Equal(t, fmt.Sprintf("Rey has messaged %s %d times", DefaultTo, i), replyText(e))
		assert.Regexp(t, `^SM[0-9a-f]{32}$`, e.MessageSID)
		assert.Equal(t, clock.Now(), e.At)
		sids = append(sids, e.MessageSID)
	}
	assert.Len(t, slices.Compact(slices.Clone(sids)), 3, "each message has its own MessageSid")

	// Twilio's retry: same MessageSid, answered again, not counted.
	var th Thread
	require.Equal(t, http.StatusOK, post(t, base, "/api/retry", PairRequest{From: rey, To: DefaultTo}, &th))
	e := last(t, th)
	assert.Equal(t, "retry", e.Kind)
	assert.Equal(t, sids[2], e.MessageSID)
	assert.Equal(t, "hi", e.Body)
	assert.Equal(t, "Rey has messaged +15005550006 3 times", replyText(e))

	// A burst of 5 at once: none lost, each counted once.
	assert.Equal(t, []string{
		"Rey has messaged +15005550006 4 times", "Rey has messaged +15005550006 5 times",
		"Rey has messaged +15005550006 6 times", "Rey has messaged +15005550006 7 times",
		"Rey has messaged +15005550006 8 times",
	}, burst(t, base, 5))

	// Four hours pass on the shared clock: the conversation starts over.
	require.Equal(t, http.StatusOK, post(t, base, "/api/clock", ClockRequest{Advance: "4h", From: rey, To: DefaultTo}, &th))
	e = last(t, th)
	assert.Equal(t, "clock", e.Kind)
	assert.Contains(t, e.Note, "4h")
	assert.Equal(t, time.Date(2026, 1, 1, 16, 0, 0, 0, time.UTC), th.Now)
	assert.Equal(t, "Rey has messaged +15005550006 1 times", replyText(last(t, send(t, base, msg))))

	// Another pair is another conversation, listed apart.
	assert.Equal(t, "Finn has messaged +15005550001 1 times",
		replyText(last(t, send(t, base, SendRequest{From: "+12349013030", To: "+15005550001", Body: "yo"}))))
	var pairs []PairView
	getJSON(t, base+"/api/pairs", &pairs)
	assert.Equal(t, []PairView{
		{From: rey, To: DefaultTo, Name: "Rey", Sent: 10, Label: "Rey +14158675308 → +15005550006"},
		{From: "+12349013030", To: "+15005550001", Name: "Finn", Sent: 1, Label: "Finn +12349013030 → +15005550001"},
	}, pairs)

	// GET /api/thread gives the same thread back.
	var again Thread
	getJSON(t, base+"/api/thread?"+url.Values{"from": {rey}, "to": {DefaultTo}}.Encode(), &again)
	assert.Len(t, again.Entries, 3+1+5+1+1)
	assert.Empty(t, again.Cookies, "the memory store sets no cookie")
}

// webhook serves fn on httptest, recording each request's form and header.
type webhook struct {
	mu    sync.Mutex
	forms []url.Values
	heads []http.Header
	url   string
}

// requests returns the forms and headers received so far.
func (wh *webhook) requests() ([]url.Values, []http.Header) {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return slices.Clone(wh.forms), slices.Clone(wh.heads)
}

func newWebhook(t testing.TB, fn http.HandlerFunc) *webhook {
	wh := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		wh.mu.Lock()
		wh.forms = append(wh.forms, r.PostForm)
		wh.heads = append(wh.heads, r.Header.Clone())
		wh.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(srv.Close)
	wh.url = srv.URL + "/sms"
	return wh
}

func twiml(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, body)
	}
}

func TestRealisticParameters(t *testing.T) {
	wh := newWebhook(t, twiml("<Response/>"))
	base := devphone(t, Options{Webhook: wh.url})
	e := last(t, send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "look",
		Media: []string{" https://example.com/cat.jpg ", "https://example.com/a.pdf"}}))
	assert.Equal(t, []string{"https://example.com/cat.jpg", "https://example.com/a.pdf"}, e.Media)
	assert.Empty(t, e.Replies)
	assert.Nil(t, e.Redirect)
	assert.Empty(t, e.Error)

	forms, heads := wh.requests()
	require.Len(t, forms, 1)
	f := forms[0]
	assert.Regexp(t, `^AC[0-9a-f]{32}$`, f.Get("AccountSid"))
	assert.Equal(t, e.MessageSID, f.Get("MessageSid"))
	assert.Equal(t, e.MessageSID, f.Get("SmsMessageSid"))
	assert.Equal(t, rey, f.Get("From"))
	assert.Equal(t, DefaultTo, f.Get("To"))
	assert.Equal(t, "look", f.Get("Body"))
	assert.Equal(t, "2", f.Get("NumMedia"))
	assert.Equal(t, "https://example.com/cat.jpg", f.Get("MediaUrl0"))
	assert.Equal(t, "image/jpeg", f.Get("MediaContentType0"))
	assert.Equal(t, "application/pdf", f.Get("MediaContentType1"))
	assert.Equal(t, "1", f.Get("NumSegments"))
	assert.Equal(t, "received", f.Get("SmsStatus"))
	assert.Equal(t, "2010-04-01", f.Get("ApiVersion"))
	h := heads[0]
	assert.Equal(t, "TwilioProxy/1.1", h.Get("User-Agent"))
	assert.NotEmpty(t, h.Get("I-Twilio-Idempotency-Token"))
	assert.Empty(t, h.Get("X-Twilio-Signature"), "no token, no signature")

	// WhatsApp addresses make a WhatsApp phone.
	send(t, base, SendRequest{From: "whatsapp:" + rey, To: "whatsapp:" + DefaultTo, Body: "hola"})
	forms, _ = wh.requests()
	require.Len(t, forms, 2)
	assert.Equal(t, "whatsapp:"+rey, forms[1].Get("From"))
	assert.Equal(t, "14158675308", forms[1].Get("WaId"))
	assert.Equal(t, convotest.DefaultProfileName, forms[1].Get("ProfileName"))
}

func TestSignedRequests(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	hook := counterServer(t, clock, "s3cret")

	base := devphone(t, Options{Webhook: hook, AuthToken: "s3cret", Clock: clock})
	e := last(t, send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"}))
	assert.Empty(t, e.Error)
	assert.Equal(t, "Rey has messaged +15005550006 1 times", replyText(e))

	var cfg Config
	res, err := http.Get(base + "/api/config")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(res.Body).Decode(&cfg))
	res.Body.Close()
	assert.True(t, cfg.Signed)
	assert.Equal(t, hook, cfg.Webhook)
	assert.Equal(t, DefaultTo, cfg.DefaultTo)
	assert.Equal(t, presets, cfg.Presets)
	assert.Equal(t, 4096, cfg.Limit)

	// Signed for another URL, or not signed: refused, and shown so.
	for _, opts := range []Options{
		{Webhook: hook, AuthToken: "s3cret", PublicURL: "https://example.com/sms", Clock: clock},
		{Webhook: hook, AuthToken: "wrong", Clock: clock},
		{Webhook: hook, Clock: clock},
	} {
		base := devphone(t, opts)
		e := last(t, send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"}))
		assert.Equal(t, http.StatusForbidden, e.Status)
		assert.Contains(t, e.Error, "HTTP 403 Forbidden (Twilio error 11200)")
		assert.Empty(t, e.Replies)
	}
}

func TestAnswersShownPlainly(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name     string
		fn       http.HandlerFunc
		webhook  string
		status   int
		err      string
		replies  []Outgoing
		redirect *Redirect
	}{
		{name: "text and media", fn: twiml(`<Response><Message><Body>a &lt;b&gt;</Body><Media>https://example.com/x.png</Media></Message><Message to="+15550001111">two</Message></Response>`),
			status: 200, replies: []Outgoing{{Body: "a <b>", Media: []string{"https://example.com/x.png"}}, {Body: "two", To: "+15550001111"}}},
		{name: "redirect", fn: twiml(`<Response><Message>wait</Message><Redirect method="GET">https://example.com/next</Redirect></Response>`),
			status: 200, replies: []Outgoing{{Body: "wait"}}, redirect: &Redirect{URL: "https://example.com/next", Method: "GET"}},
		{name: "empty body", fn: func(http.ResponseWriter, *http.Request) {}, status: 200},
		{name: "server error", fn: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom\nsecond line", 500) },
			status: 500, err: "HTTP 500 Internal Server Error (Twilio error 11200): boom"},
		{name: "not TwiML", fn: twiml("<html>hello</html>"), status: 200, err: "HTTP 200 but not valid TwiML (Twilio error 12100)"},
		{name: "unreachable", webhook: closed.URL + "/sms", err: "no answer (Twilio error 11200)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := tc.webhook
			if hook == "" {
				hook = newWebhook(t, tc.fn).url
			}
			var logs bytes.Buffer
			base := devphone(t, Options{Webhook: hook, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			e := last(t, send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"}))
			assert.Equal(t, tc.status, e.Status)
			assert.Equal(t, tc.replies, e.Replies)
			assert.Equal(t, tc.redirect, e.Redirect)
			if tc.err == "" {
				assert.Empty(t, e.Error)
				assert.Empty(t, logs.String())
				return
			}
			assert.Contains(t, e.Error, tc.err)
			assert.NotContains(t, e.Error, "second line")
			assert.Contains(t, logs.String(), "webhook failed")
			assert.NotContains(t, logs.String(), rey, "full numbers stay out of the logs")
			assert.NotContains(t, logs.String(), DefaultTo)
		})
	}
}

func TestCookiePanel(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	value := strings.Repeat("v", 3000)
	wh := newWebhook(t, func(w http.ResponseWriter, r *http.Request) {
		maxAge := "600"
		if r.PostForm.Get("Body") == "long" {
			maxAge = "86400"
		}
		w.Header().Add("Set-Cookie", "convo="+value+"; Path=/; Max-Age="+maxAge+"; HttpOnly")
		twiml("<Response/>")(w, r)
	})
	base := devphone(t, Options{Webhook: wh.url, Clock: clock})
	th := send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"})
	require.Len(t, th.Cookies, 1)
	c := th.Cookies[0]
	assert.Equal(t, "convo", c.Name)
	assert.Equal(t, len("convo=")+3000, c.Bytes)
	assert.Equal(t, len("Set-Cookie: convo=")+3000+len("; Path=/; Max-Age=600; HttpOnly"), c.LineBytes)
	assert.Equal(t, 4096, c.Limit)
	assert.Len(t, c.Value, maxValueShown)
	assert.True(t, c.Truncated)
	assert.Equal(t, "10m", c.ExpiresIn, "a shorter Max-Age is honoured")
	assert.Equal(t, clock.Now().Add(10*time.Minute), c.ExpiresAt)
	assert.Empty(t, th.Gone)

	// The next message carries the cookie back.
	send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "long"})
	_, heads := wh.requests()
	assert.Contains(t, heads[1].Get("Cookie"), "convo="+value)

	var th2 Thread
	require.Equal(t, http.StatusOK, post(t, base, "/api/clock", ClockRequest{Advance: "1h", From: rey, To: DefaultTo}, &th2))
	require.Len(t, th2.Cookies, 1)
	assert.Equal(t, "3h", th2.Cookies[0].ExpiresIn, "a day is capped to Twilio's 4 hours")

	// Another pair never sees the cookie.
	th3 := send(t, base, SendRequest{From: "+12348134522", To: DefaultTo, Body: "hi"})
	_, heads = wh.requests()
	assert.Empty(t, heads[2].Get("Cookie"))
	require.Len(t, th3.Cookies, 1)

	require.Equal(t, http.StatusOK, post(t, base, "/api/clock", ClockRequest{Advance: "3h", From: rey, To: DefaultTo}, &th2))
	assert.Empty(t, th2.Cookies)
	assert.Equal(t, []string{"convo"}, th2.Gone)
	send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"})
	_, heads = wh.requests()
	assert.Empty(t, heads[3].Get("Cookie"), "an expired cookie is not sent")
}

func TestBurstShowsEachFailure(t *testing.T) {
	n := 0
	var mu sync.Mutex
	wh := newWebhook(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		odd := n%2 == 1
		mu.Unlock()
		if r.PostForm.Get("Body") == "burst 2/4" {
			twiml("not xml <")(w, r)
			return
		}
		if odd {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		twiml("<Response><Message>ok</Message></Response>")(w, r)
	})
	base := devphone(t, Options{Webhook: wh.url})
	var th Thread
	require.Equal(t, http.StatusOK, post(t, base, "/api/burst", BurstRequest{From: rey, To: DefaultTo, N: 4}, &th))
	require.Len(t, th.Entries, 4)
	for i, e := range th.Entries {
		assert.Equal(t, fmt.Sprintf("burst %d/4", i+1), e.Body)
		switch {
		case i == 1:
			assert.Contains(t, e.Error, "Twilio error 12100")
		case e.Status == http.StatusServiceUnavailable:
			assert.Contains(t, e.Error, "HTTP 503 Service Unavailable (Twilio error 11200): busy")
		default:
			assert.Empty(t, e.Error)
			assert.Equal(t, "ok", replyText(e))
		}
	}
}

func TestBadRequests(t *testing.T) {
	wh := newWebhook(t, twiml("<Response/>"))
	base := devphone(t, Options{Webhook: wh.url})
	long := strings.Repeat("é", maxBodyChars+1)
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "https://example.com/" + fmt.Sprint(i)
	}
	for _, tc := range []struct {
		name, path, contentType, body string
		header                        map[string]string
		status                        int
		err                           string
	}{
		{"not JSON", "/api/send", "text/plain", `{"from":"+1","to":"+2","body":"x"}`, nil, 415, "application/json"},
		{"bad JSON", "/api/send", "application/json", `{"from":`, nil, 400, "bad JSON"},
		{"unknown field", "/api/send", "application/json", `{"from":"+1","to":"+2","text":"x"}`, nil, 400, "unknown field"},
		{"two values", "/api/send", "application/json", `{"from":"+1","to":"+2","body":"x"} {}`, nil, 400, "more than one value"},
		{"no from", "/api/send", "application/json", `{"to":"+2","body":"x"}`, nil, 400, "From is empty"},
		{"space in to", "/api/send", "application/json", `{"from":"+1","to":"+2 3","body":"x"}`, nil, 400, "To holds spaces"},
		{"long address", "/api/send", "application/json", `{"from":"+1` + strings.Repeat("1", 70) + `","to":"+2","body":"x"}`, nil, 400, "at most 64"},
		{"nothing", "/api/send", "application/json", `{"from":"+1","to":"+2"}`, nil, 400, "nothing to send"},
		{"too long", "/api/send", "application/json", `{"from":"+1","to":"+2","body":"` + long + `"}`, nil, 400, "caps a message at 1600"},
		{"too many media", "/api/send", "application/json", mustJSON(SendRequest{From: "+1", To: "+2", Media: eleven}), nil, 400, "at most 10"},
		{"bad media", "/api/send", "application/json", `{"from":"+1","to":"+2","media":["ftp://x/y"]}`, nil, 400, "not an absolute http(s) URL"},
		{"huge", "/api/send", "application/json", `{"body":"` + strings.Repeat("x", maxAPIBody) + `"}`, nil, 413, "bad JSON"},
		{"cross-site", "/api/send", "application/json", `{"from":"+1","to":"+2","body":"x"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
		{"burst of 0", "/api/burst", "application/json", `{"from":"+1","to":"+2","n":0}`, nil, 400, "1 to 100"},
		{"burst of 101", "/api/burst", "application/json", `{"from":"+1","to":"+2","n":101}`, nil, 400, "1 to 100"},
		{"retry before sending", "/api/retry", "application/json", `{"from":"+1","to":"+2"}`, nil, 409, "no message to retry"},
		{"jump back", "/api/clock", "application/json", `{"advance":"-1h"}`, nil, 400, "positive duration"},
		{"jump nonsense", "/api/clock", "application/json", `{"advance":"soon"}`, nil, 400, "positive duration"},
		{"jump too far", "/api/clock", "application/json", `{"advance":"1000h"}`, nil, 400, "up to 720h"},
		{"jump, bad pair", "/api/clock", "application/json", `{"advance":"1h","from":"+1"}`, nil, 400, "To is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", tc.contentType)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			var e APIError
			require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
			assert.Contains(t, e.Error, tc.err)
		})
	}
	forms, _ := wh.requests()
	assert.Empty(t, forms, "no bad request reached the webhook")
}

func TestBadGETs(t *testing.T) {
	base := devphone(t, Options{Webhook: newWebhook(t, twiml("<Response/>")).url})
	res, err := http.Get(base + "/api/thread?from=%2B1")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, err = http.Get(base + "/api/send")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPage(t *testing.T) {
	base := devphone(t, Options{Webhook: "http://127.0.0.1:1/sms"})
	for path, want := range map[string]string{
		"/":          "<title>convo dev phone</title>",
		"/app.js":    `act("/api/retry", pair())`,
		"/style.css": "#thread",
	} {
		res, err := http.Get(base + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Contains(t, string(b), want, path)
		assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'", path)
	}
	res, err := http.Get(base + "/index.html")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestNewServerRefusesBadURL(t *testing.T) {
	_, err := newServer(Options{Webhook: "127.0.0.1:8080/sms"})
	assert.ErrorContains(t, err, "webhook URL")
}

// startDevphone runs the command on a free port and returns the page's URL.
func startDevphone(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	return strings.TrimSuffix(servetest.Start(t, run, env, args...).URL, "/")
}

func TestCommandCounterMode(t *testing.T) {
	for _, env := range []map[string]string{nil, {"TWILIO_AUTH_TOKEN": "s3cret"}} {
		base := startDevphone(t, env, "-counter")
		msg := SendRequest{From: rey, To: DefaultTo, Body: "hi"}
		send(t, base, msg)
		assert.Equal(t, "Rey has messaged +15005550006 2 times", replyText(last(t, send(t, base, msg))))
		var th Thread
		require.Equal(t, http.StatusOK, post(t, base, "/api/clock", ClockRequest{Advance: "4h", From: rey, To: DefaultTo}, &th))
		assert.Equal(t, "Rey has messaged +15005550006 1 times", replyText(last(t, send(t, base, msg))),
			"in -counter mode the handler shares the dev phone's clock")
	}
}

func TestCommandTextsURL(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	hook := counterServer(t, clock, "s3cret")
	base := startDevphone(t, map[string]string{"TWILIO_AUTH_TOKEN": "s3cret"}, "-url", hook)
	assert.Equal(t, "Rey has messaged +15005550006 1 times",
		replyText(last(t, send(t, base, SendRequest{From: rey, To: DefaultTo, Body: "hi"}))))
}

func TestCommandRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-url", "nope"}, {"-addr", "256.0.0.1:1"}, {"stray"}, {"-unknown"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, quiet)
		assert.Error(t, err, args)
	}
}

// FuzzAPI sends arbitrary bodies to every POST of the API, answered by the
// counter in process: each gets JSON with a status from the documented set,
// and the server keeps serving.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), `{"from":"+14158675308","to":"+15005550006","body":"hi"}`)
	f.Add(uint8(0), `{"from":"+1","to":"+2","media":["https://example.com/a.jpg"]}`)
	f.Add(uint8(1), `{"from":"+1","to":"+2"}`)
	f.Add(uint8(2), `{"from":"+1","to":"+2","body":"x","n":3}`)
	f.Add(uint8(3), `{"advance":"1h30m","from":"+1","to":"+2"}`)
	f.Add(uint8(3), `{"advance":"9223372036854775807ns"}`)
	f.Add(uint8(0), `{"from":"\u0000","to":"+2","body":"\ud800"}`)
	clock := convotest.NewClock(time.Time{})
	h, closer, err := counterHandler("", clock.Now, quiet)
	require.NoError(f, err)
	f.Cleanup(func() { closer.Close() })
	s, err := newServer(Options{Handler: h, Clock: clock, Logger: quiet})
	require.NoError(f, err)
	paths := []string{"/api/send", "/api/retry", "/api/burst", "/api/clock"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		req := httptest.NewRequest(http.MethodPost, paths[int(which)%len(paths)], strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		assert.Contains(t, []int{200, 400, 409, 413}, rec.Code, rec.Body.String())
		assert.True(t, json.Valid(rec.Body.Bytes()), rec.Body.String())
	})
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8081": true, "127.0.0.1": true, "[::1]:8081": true, "::1": true, "localhost:8081": true,
		"LOCALHOST": true, "127.1.2.3:80": true,
		"evil.example:8081": false, "evil.example": false, "10.0.0.1:8081": false, "": false, "localhost.evil.example": false,
	} {
		assert.Equal(t, want, loopbackHost(host), host)
	}
}

func TestCommandRefusesForeignHost(t *testing.T) {
	base := startDevphone(t, nil, "-counter")
	req, err := http.NewRequest(http.MethodGet, base+"/api/config", nil)
	require.NoError(t, err)
	req.Host = "rebound.example:8081"
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusMisdirectedRequest, res.StatusCode, "DNS rebinding is refused")

	req.Host = "localhost"
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestThreadLimit(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	h, closer, err := counterHandler("", clock.Now, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { closer.Close() })
	s, err := newServer(Options{Handler: h, Clock: clock, Logger: quiet})
	require.NoError(t, err)
	sendTo := func(i int) int {
		req := httptest.NewRequest(http.MethodPost, "/api/send", strings.NewReader(mustJSON(SendRequest{From: fmt.Sprintf("+1415555%04d", i), To: DefaultTo, Body: "hi"})))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range maxPairs {
		require.Equal(t, http.StatusOK, sendTo(i))
	}
	assert.Equal(t, http.StatusConflict, sendTo(maxPairs))
	assert.Equal(t, http.StatusOK, sendTo(0), "existing threads go on")
}
