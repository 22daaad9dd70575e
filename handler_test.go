package convo_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	token   = "12345678901234567890123456789012"
	reyNum  = "+14158675308"
	twilNum = "+15005550006"
	hookURL = "https://convo.example.com/sms"
)

// sign computes X-Twilio-Signature as Twilio documents it, independently of
// twilio-go: base64(HMAC-SHA1(token, URL + each POST parameter's name and
// value, sorted by name)).
func sign(token, url string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(url)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

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
		req.Header.Set("X-Twilio-Signature", sign(token, hookURL, f))
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

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type fixture struct {
	h     *convo.Handler
	store *memstore.Store
	clock *convotest.Clock
	logs  *logBuffer
}

func newFixture(t testing.TB, mod func(*convo.Config)) *fixture {
	t.Helper()
	clock := convotest.NewClock(time.Time{})
	store := memstore.New(memstore.Options{Expiry: convo.Expiry{Now: clock.Now}})
	t.Cleanup(func() { store.Close() })
	logs := &logBuffer{}
	cfg := convo.Config{
		Store:     store,
		Reply:     convo.Greeter(convo.SeedNames()),
		AuthToken: token,
		Now:       clock.Now,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := convo.NewHandler(cfg)
	require.NoError(t, err)
	return &fixture{h: h, store: store, clock: clock, logs: logs}
}

func TestSeedConversation(t *testing.T) {
	f := newFixture(t, nil)
	for i := 1; i <= 3; i++ {
		rec := post(t, f.h, form(reyNum, twilNum, "hello", fmt.Sprint("SM", i)), token)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "text/xml", rec.Header().Get("Content-Type"))
		want := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 %d times</Message></Response>`, i)
		assert.Equal(t, want, rec.Body.String())
	}
	rec := post(t, f.h, form("+19995550000", twilNum, "hi", "SMx"), token)
	assert.Equal(t, []string{"Friend has messaged +15005550006 1 times"}, messages(t, rec.Body.Bytes()))
}

func TestNewHandlerRefusesUnsafeConfig(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	tests := []struct {
		name string
		cfg  convo.Config
		want string
	}{
		{"no store", convo.Config{AuthToken: token}, "Store"},
		{"no token", convo.Config{Store: store}, "AuthToken"},
		{"relative public URL", convo.Config{Store: store, AuthToken: token, PublicURL: "/sms"}, "PublicURL"},
		{"ftp public URL", convo.Config{Store: store, AuthToken: token, PublicURL: "ftp://x/sms"}, "PublicURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convo.NewHandler(tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := convo.NewHandler(convo.Config{Store: store, InsecureSkipSignatureCheck: true})
	assert.NoError(t, err, "the explicit opt-out must work")
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	good := form(reyNum, twilNum, "hi", "SM1")
	tests := []struct {
		name   string
		method string
		body   string
		sig    string // "" = sign the body's form correctly; "-" = none
		url    string
		want   int
	}{
		{"GET", http.MethodGet, "", "-", hookURL, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, good.Encode(), "", hookURL, http.StatusMethodNotAllowed},
		{"body too large", http.MethodPost, good.Encode() + "&Pad=" + strings.Repeat("x", convo.DefaultMaxBodyBytes), "-", hookURL, http.StatusRequestEntityTooLarge},
		{"malformed form", http.MethodPost, "From=%zz&To=1", "-", hookURL, http.StatusBadRequest},
		{"no signature", http.MethodPost, good.Encode(), "-", hookURL, http.StatusForbidden},
		{"wrong signature", http.MethodPost, good.Encode(), sign("wrong-token", hookURL, good), hookURL, http.StatusForbidden},
		{"signature for another URL", http.MethodPost, good.Encode(), sign(token, "https://evil.example.com/sms", good), hookURL, http.StatusForbidden},
		{"signature for another body", http.MethodPost, form(reyNum, twilNum, "tampered", "SM1").Encode(), sign(token, hookURL, good), hookURL, http.StatusForbidden},
		{"http instead of https", http.MethodPost, good.Encode(), "", "http://convo.example.com/sms", http.StatusForbidden},
		{"missing From", http.MethodPost, url.Values{"To": {twilNum}, "Body": {"x"}}.Encode(), "", hookURL, http.StatusBadRequest},
		{"missing To", http.MethodPost, url.Values{"From": {reyNum}, "Body": {"x"}}.Encode(), "", hookURL, http.StatusBadRequest},
		{"bad NumMedia", http.MethodPost, url.Values{"From": {reyNum}, "To": {twilNum}, "NumMedia": {"99"}}.Encode(), "", hookURL, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			switch tt.sig {
			case "":
				parsed, _ := url.ParseQuery(tt.body)
				req.Header.Set("X-Twilio-Signature", sign(token, hookURL, parsed))
			case "-":
			default:
				req.Header.Set("X-Twilio-Signature", tt.sig)
			}
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
			if tt.want == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", rec.Header().Get("Allow"))
			}
		})
	}
	c, err := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	require.NoError(t, err)
	assert.Zero(t, c.Count, "a refused request changed the conversation")
	logs := f.logs.String()
	assert.Contains(t, logs, "invalid Twilio signature")
	assert.NotContains(t, logs, token, "the auth token reached the log")
	assert.NotContains(t, logs, reyNum, "a full phone number reached the log")
}

func TestSignatureURLs(t *testing.T) {
	f := form(reyNum, twilNum, "hi", "SM1")
	tests := []struct {
		name    string
		cfg     func(*convo.Config)
		target  string // what the server sees
		signed  string // what Twilio signed
		headers map[string]string
		want    int
	}{
		{"as seen", nil, "https://convo.example.com/sms?x=1", "https://convo.example.com/sms?x=1", nil, 200},
		{"default port", nil, "https://convo.example.com/sms", "https://convo.example.com:443/sms", nil, 200},
		{"public base URL", func(c *convo.Config) { c.PublicURL = "https://public.example.com" },
			"http://127.0.0.1:8080/sms?x=1", "https://public.example.com/sms?x=1", nil, 200},
		{"public URL with path", func(c *convo.Config) { c.PublicURL = "https://public.example.com/hooks/sms" },
			"http://127.0.0.1:8080/sms?x=1", "https://public.example.com/hooks/sms?x=1", nil, 200},
		{"public URL not used by Twilio", func(c *convo.Config) { c.PublicURL = "https://public.example.com" },
			"http://127.0.0.1:8080/sms", "http://127.0.0.1:8080/sms", nil, 403},
		{"forwarded headers trusted", func(c *convo.Config) { c.TrustForwardedHeaders = true },
			"http://10.0.0.5/sms", "https://public.example.com/sms",
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"}, 200},
		{"forwarded headers ignored by default", nil,
			"http://10.0.0.5/sms", "https://public.example.com/sms",
			map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.com"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.cfg)
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", sign(token, tt.signed, f))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			fx.h.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

func TestConcurrentMessagesAllCounted(t *testing.T) {
	f := newFixture(t, nil)
	const n = 50
	replies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := post(t, f.h, form(reyNum, twilNum, "burst", fmt.Sprint("SMburst", i)), token)
			if rec.Code == http.StatusOK {
				replies[i] = messages(t, rec.Body.Bytes())[0]
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, r := range replies {
		seen[r] = true
	}
	for i := 1; i <= n; i++ {
		assert.True(t, seen[fmt.Sprintf("Rey has messaged +15005550006 %d times", i)], "count %d never answered", i)
	}
	c, _ := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	assert.Equal(t, n, c.Count)
}

// Two handlers sharing one store stand for two servers of a fleet: their
// in-process locks do not see each other, so only the store's
// compare-and-set keeps the count.
func TestFleetConflictsRerunTheTurn(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	var handlers []*convo.Handler
	for range 2 {
		h, err := convo.NewHandler(convo.Config{Store: store, InsecureSkipSignatureCheck: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		handlers = append(handlers, h)
	}
	const n = 60
	counts := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := post(t, handlers[i%2], form(reyNum, twilNum, "x", fmt.Sprint("SMfleet", i)), "")
			if assert.Equal(t, http.StatusOK, rec.Code) {
				counts <- messages(t, rec.Body.Bytes())[0]
			}
		}()
	}
	wg.Wait()
	close(counts)
	seen := map[string]int{}
	for c := range counts {
		seen[c]++
	}
	for i := 1; i <= n; i++ {
		assert.Equal(t, 1, seen[fmt.Sprintf("Friend has messaged +15005550006 %d times", i)], "count %d", i)
	}
}

func TestRetryAnsweredIdentically(t *testing.T) {
	f := newFixture(t, nil)
	first := post(t, f.h, form(reyNum, twilNum, "one", "SM1"), token)
	post(t, f.h, form(reyNum, twilNum, "two", "SM2"), token)
	retry := post(t, f.h, form(reyNum, twilNum, "one", "SM1"), token)
	require.Equal(t, http.StatusOK, retry.Code)
	assert.Equal(t, first.Body.Bytes(), retry.Body.Bytes(), "a retry must get the same bytes")
	c, _ := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	assert.Equal(t, 2, c.Count, "a retry was counted")

	// Without MessageSid, the idempotency token identifies the message.
	withToken := func() *httptest.ResponseRecorder {
		fm := form(reyNum, twilNum, "three", "")
		req := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(fm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sign(token, hookURL, fm))
		req.Header.Set("I-Twilio-Idempotency-Token", "idem-3")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec
	}
	a, b := withToken(), withToken()
	assert.Equal(t, a.Body.String(), b.Body.String())
	c, _ = f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	assert.Equal(t, 3, c.Count)
}

func TestMarkupStaysText(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(_ context.Context, _ *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			return convo.Text(m.From + "|" + m.To + "|" + m.Body), nil
		}
	})
	evil := `</Message><Redirect>https://evil.example.com</Redirect><Message>`
	rec := post(t, f.h, form(reyNum+evil, twilNum+`"'&`+evil, evil+"\x00\r\n]]>", "SM1"), token)
	require.Equal(t, http.StatusOK, rec.Code)
	msgs := messages(t, rec.Body.Bytes())
	require.Len(t, msgs, 1, "markup created elements: %s", rec.Body.String())
	assert.Equal(t, reyNum+evil+"|"+twilNum+`"'&`+evil+"|"+evil+"\uFFFD\n]]>", msgs[0])
	assert.NotContains(t, rec.Body.String(), "<Redirect>")
}

func TestStoreFailureAnswers503AndLosesNothing(t *testing.T) {
	var fs *convotest.FaultyStore
	f := newFixture(t, func(c *convo.Config) { fs = convotest.NewFaultyStore(c.Store); c.Store = fs })
	require.Equal(t, 200, post(t, f.h, form(reyNum, twilNum, "1", "SM1"), token).Code)

	fs.FailLoad(fmt.Errorf("load: %w", errors.New("connection refused")))
	assert.Equal(t, http.StatusServiceUnavailable, post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token).Code)
	fs.Heal()
	fs.FailSave(nil)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token).Code)
	fs.Heal()
	_, _, _, failures := fs.Calls()
	assert.Equal(t, 2, failures)

	rec := post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 2 times"}, messages(t, rec.Body.Bytes()), "state was lost or half-saved")
	logs := f.logs.String()
	assert.Contains(t, logs, "status=503")
	assert.Contains(t, logs, "…5308", "the log should name the conversation, redacted")
	assert.NotContains(t, logs, reyNum)
	assert.NotContains(t, logs, token)
}

func TestTurnTimeout(t *testing.T) {
	var fs *convotest.FaultyStore
	f := newFixture(t, func(c *convo.Config) {
		fs = convotest.NewFaultyStore(c.Store)
		fs.Stall(time.Minute)
		c.Store = fs
		c.TurnTimeout = 50 * time.Millisecond
	})
	start := time.Now()
	rec := post(t, f.h, form(reyNum, twilNum, "slow", "SM1"), token)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Less(t, time.Since(start), 10*time.Second, "a stalled store held the answer")
	fs.Heal()
	c, _ := fs.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	assert.Zero(t, c.Count)
	rec = post(t, f.h, form(reyNum, twilNum, "fast", "SM2"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 1 times"}, messages(t, rec.Body.Bytes()))
}

func TestReplyFailures(t *testing.T) {
	t.Run("in a goroutine", func(t *testing.T) { testReplyFailures(t, 0) })
	t.Run("inline", func(t *testing.T) { testReplyFailures(t, -1) })
}

func testReplyFailures(t *testing.T, replyTimeout time.Duration) {
	var mode atomic.Value
	mode.Store("ok")
	f := newFixture(t, func(c *convo.Config) {
		c.ReplyTimeout = replyTimeout
		seed := c.Reply
		c.Reply = func(ctx context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			switch mode.Load() {
			case "error":
				cv.Count = 1000
				return convo.Reply{}, errors.New("backend down")
			case "panic":
				cv.Count = 1000
				panic("boom")
			}
			return seed(ctx, cv, m)
		}
	})
	require.Equal(t, 200, post(t, f.h, form(reyNum, twilNum, "1", "SM1"), token).Code)
	mode.Store("error")
	assert.Equal(t, http.StatusInternalServerError, post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token).Code)
	mode.Store("panic")
	assert.Equal(t, http.StatusInternalServerError, post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token).Code)
	assert.Contains(t, f.logs.String(), "panicked: boom")
	assert.Contains(t, f.logs.String(), "goroutine", "a panic is logged with its stack")
	mode.Store("ok")
	rec := post(t, f.h, form(reyNum, twilNum, "2", "SM2"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 2 times"}, messages(t, rec.Body.Bytes()))
}

func TestEndStartsOver(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(_ context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "STOP" {
				cv.End()
				return convo.Text("bye"), nil
			}
			return convo.Textf("n=%d", cv.Count), nil
		}
	})
	post(t, f.h, form(reyNum, twilNum, "a", "SM1"), token)
	post(t, f.h, form(reyNum, twilNum, "b", "SM2"), token)
	bye := post(t, f.h, form(reyNum, twilNum, "STOP", "SM3"), token)
	assert.Equal(t, []string{"bye"}, messages(t, bye.Body.Bytes()))
	again := post(t, f.h, form(reyNum, twilNum, "STOP", "SM3"), token)
	assert.Equal(t, bye.Body.String(), again.Body.String(), "a retry of the ending message")
	rec := post(t, f.h, form(reyNum, twilNum, "c", "SM4"), token)
	assert.Equal(t, []string{"n=1"}, messages(t, rec.Body.Bytes()), "the conversation did not start over")
}

func TestIdleExpiryStartsOver(t *testing.T) {
	f := newFixture(t, nil)
	post(t, f.h, form(reyNum, twilNum, "a", "SM1"), token)
	f.clock.Advance(3 * time.Hour)
	rec := post(t, f.h, form(reyNum, twilNum, "b", "SM2"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 2 times"}, messages(t, rec.Body.Bytes()))
	f.clock.Advance(4 * time.Hour)
	rec = post(t, f.h, form(reyNum, twilNum, "c", "SM3"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 1 times"}, messages(t, rec.Body.Bytes()))
}

func TestHistoryAndRetryRecordsBounded(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) { c.HistorySize = 3; c.RetryRecords = 5 })
	for i := range 20 {
		require.Equal(t, 200, post(t, f.h, form(reyNum, twilNum, fmt.Sprint("m", i), fmt.Sprint("SM", i)), token).Code)
	}
	c, _ := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	require.Len(t, c.History, 3)
	assert.Equal(t, "m19", c.History[2].In)
	assert.Equal(t, "m17", c.History[0].In)
	assert.Equal(t, "Rey has messaged +15005550006 20 times", c.History[2].Out)
	require.Len(t, c.Handled, 5)
	assert.Equal(t, "SM15", c.Handled[0].ID)
}

// retryStore is a store with its own default number of retry records.
type retryStore struct {
	convo.Store
	records int
}

func (s retryStore) DefaultRetryRecords() int { return s.records }

func TestRetryRecordsStoreDefault(t *testing.T) {
	tests := []struct {
		name          string
		store, config int // the store's default, Config.RetryRecords
		want          int
	}{
		{"store's default", 2, 0, 2},
		{"config wins", 2, 5, 5},
		{"config says none", 2, -1, 0},
		{"store says none", -3, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *convo.Config) {
				c.Store = retryStore{c.Store, tt.store}
				c.RetryRecords = tt.config
			})
			for i := range 8 {
				require.Equal(t, 200, post(t, f.h, form(reyNum, twilNum, "hi", fmt.Sprint("SM", i)), token).Code)
			}
			c, err := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
			require.NoError(t, err)
			require.Len(t, c.Handled, tt.want)
			if tt.want > 0 {
				assert.Equal(t, "SM7", c.Handled[tt.want-1].ID, "the newest records are kept")
			}
		})
	}
}

func TestChannelsAreSeparateConversations(t *testing.T) {
	f := newFixture(t, nil)
	post(t, f.h, form(reyNum, twilNum, "a", "SM1"), token)
	rec := post(t, f.h, form("whatsapp:"+reyNum, "whatsapp:"+twilNum, "b", "SM2"), token)
	assert.Equal(t, []string{"Friend has messaged whatsapp:+15005550006 1 times"}, messages(t, rec.Body.Bytes()))
	rec = post(t, f.h, form(reyNum, twilNum, "c", "SM3"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 2 times"}, messages(t, rec.Body.Bytes()))
}

type quiz struct {
	Step    int      `json:"step"`
	Answers []string `json:"answers"`
}

func TestWithStateTypedState(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = convo.WithState(func(_ context.Context, _ *convo.Conversation, m *convo.Message, q *quiz) (convo.Reply, error) {
			q.Step++
			q.Answers = append(q.Answers, m.Body)
			return convo.Textf("step %d: %s", q.Step, strings.Join(q.Answers, ",")), nil
		})
	})
	post(t, f.h, form(reyNum, twilNum, "red", "SM1"), token)
	rec := post(t, f.h, form(reyNum, twilNum, "blue", "SM2"), token)
	assert.Equal(t, []string{"step 2: red,blue"}, messages(t, rec.Body.Bytes()))
	c, _ := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	q, err := convo.StateOf[quiz](c)
	require.NoError(t, err)
	assert.Equal(t, quiz{Step: 2, Answers: []string{"red", "blue"}}, q)
}

func TestMessagePassedToReply(t *testing.T) {
	var got *convo.Message
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(_ context.Context, _ *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			got = m
			return convo.Reply{}, nil
		}
	})
	fm := form("whatsapp:"+reyNum, "whatsapp:"+twilNum, "pic", "SM1")
	fm.Set("NumMedia", "2")
	fm.Set("MediaUrl0", "https://api.example.com/m0")
	fm.Set("MediaContentType0", "image/jpeg")
	fm.Set("MediaUrl1", "https://api.example.com/m1")
	fm.Set("MediaContentType1", "image/png")
	fm.Set("ProfileName", "Rey")
	fm.Set("WaId", "14158675308")
	fm.Set("FromCity", "SAN FRANCISCO")
	rec := post(t, f.h, fm, token)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response/>`, rec.Body.String())
	require.NotNil(t, got)
	assert.Equal(t, "whatsapp", got.Channel)
	assert.Equal(t, "Rey", got.ProfileName)
	assert.Equal(t, "14158675308", got.WaID)
	assert.Equal(t, []convo.Media{{URL: "https://api.example.com/m0", ContentType: "image/jpeg"}, {URL: "https://api.example.com/m1", ContentType: "image/png"}}, got.Media)
	assert.Equal(t, "SAN FRANCISCO", got.Params.Get("FromCity"))
}

// A reply function that outlives ReplyTimeout, ignoring its context, is
// abandoned: Twilio gets the fallback in time, the pair's next message
// does not wait for it, and nothing it changed is saved. Over HTTP/1 with a
// writer that flushes (net/http's), a watchdog answers while the reply
// function runs on in the request's goroutine; with any other writer the
// reply function runs in a goroutine of its own and ServeHTTP returns.
func TestSlowReplyAbandoned(t *testing.T) {
	t.Run("under a watchdog", func(t *testing.T) { testSlowReplyAbandoned(t, true) })
	t.Run("in a goroutine", func(t *testing.T) { testSlowReplyAbandoned(t, false) })
}

// noFlush is a ResponseWriter that cannot flush.
type noFlush struct{ w http.ResponseWriter }

func (n noFlush) Header() http.Header         { return n.w.Header() }
func (n noFlush) Write(b []byte) (int, error) { return n.w.Write(b) }
func (n noFlush) WriteHeader(code int)        { n.w.WriteHeader(code) }

func testSlowReplyAbandoned(t *testing.T, watchdog bool) {
	release := make(chan struct{})
	var finished atomic.Bool
	f := newFixture(t, func(c *convo.Config) {
		seed := c.Reply
		c.ReplyTimeout = 50 * time.Millisecond
		c.Fallback = convo.Text("One moment, please text again.")
		c.PublicURL = hookURL // the signatures are for hookURL, whatever address the test server has
		c.Reply = func(ctx context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "slow" {
				<-release // ignores ctx, as a badly written reply function would
				cv.Count = 1000
				require.NoError(t, convo.SetState(cv, "changed late"))
				finished.Store(true)
				return convo.Text("too late"), nil
			}
			return seed(ctx, cv, m)
		}
	})
	var h http.Handler = f.h
	if !watchdog {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.h.ServeHTTP(noFlush{w}, r) })
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release) // srv.Close waits for the blocked handler
		}
	}()
	send := func(body, sid string) (*http.Response, []byte) {
		t.Helper()
		fm := form(reyNum, twilNum, body, sid)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/sms", strings.NewReader(fm.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sign(token, hookURL, fm))
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	resp, _ := send("1", "SM1")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	start := time.Now()
	resp, body := send("slow", "SM2")
	assert.Less(t, time.Since(start), 5*time.Second, "Twilio was not answered in time")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"One moment, please text again."}, messages(t, body))
	if watchdog {
		assert.True(t, resp.Close, "the connection, held until the reply function returns, must not be reused")
	}

	// The pair's next message is answered while the slow reply still runs.
	resp, body = send("3", "SM3")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"Rey has messaged +15005550006 2 times"}, messages(t, body), "the abandoned turn changed state")
	assert.False(t, finished.Load())

	close(release)
	assert.Eventually(t, finished.Load, 5*time.Second, time.Millisecond)
	resp, body = send("4", "SM4")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"Rey has messaged +15005550006 3 times"}, messages(t, body), "the abandoned turn was saved")
	c, _ := f.store.Load(context.Background(), convo.Key{From: reyNum, To: twilNum})
	assert.Empty(t, c.State)
	assert.Contains(t, f.logs.String(), "fallback")
}

// No goroutine outlives the Handler's requests and the store's Close.
func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		f := newFixture(t, nil)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				post(t, f.h, form(reyNum, twilNum, "x", fmt.Sprint("SMleak", i)), token)
			}()
		}
		wg.Wait()
		require.NoError(t, f.store.Close())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left running")
}

// A middleware that reads the form first (r.FormValue, r.ParseForm) must
// not make the webhook look empty.
func TestFormParsedByMiddleware(t *testing.T) {
	f := newFixture(t, nil)
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.FormValue("From")
		f.h.ServeHTTP(w, r)
	})
	rec := post(t, mw, form(reyNum, twilNum, "hi", "SM1"), token)
	assert.Equal(t, []string{"Rey has messaged +15005550006 1 times"}, messages(t, rec.Body.Bytes()))
}
