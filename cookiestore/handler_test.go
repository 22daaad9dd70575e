package cookiestore_test

import (
	"context"
	"fmt"
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
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twilio plays Twilio against a convo Handler on cookiestore: it posts
// webhooks and keeps the cookies of the answers per From/To pair.
type twilio struct {
	t       *testing.T
	handler *convo.Handler
	store   *cookiestore.Store
	jar     *convotest.CookieJar
	clock   *convotest.Clock
	log     *logBuffer
}

func newTwilio(t *testing.T, reply convo.ReplyFunc, opts cookiestore.Options) *twilio {
	t.Helper()
	tw := &twilio{t: t, clock: convotest.NewClock(time.Time{}), log: &logBuffer{}}
	tw.jar = convotest.NewCookieJar(tw.clock.Now)
	if opts.Keys == nil {
		opts.Keys = []cookiestore.KeyPair{testKeys(t)}
	}
	logger := slog.New(slog.NewTextHandler(tw.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Expiry.Now, opts.Logger = tw.clock.Now, logger
	s, err := cookiestore.New(opts)
	require.NoError(t, err)
	if reply == nil {
		reply = convo.Greeter(convo.SeedNames())
	}
	h, err := convo.NewHandler(convo.Config{Store: s, Reply: reply, InsecureSkipSignatureCheck: true, Now: tw.clock.Now, Logger: logger})
	require.NoError(t, err)
	tw.handler, tw.store = h, s
	return tw
}

// request builds a webhook of key with the cookies the jar holds now.
func (tw *twilio) request(key convo.Key, sid, body string) *http.Request {
	form := url.Values{"From": {key.From}, "To": {key.To}, "Body": {body}, "MessageSid": {sid},
		"AccountSid": {"AC00000000000000000000000000000000"}, "NumMedia": {"0"}}
	req := httptest.NewRequest(http.MethodPost, "https://example.com/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tw.jar.AddCookies(key, req)
	return req
}

// serve answers req and, as Twilio does, keeps the answer's cookie.
func (tw *twilio) serve(key convo.Key, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	tw.handler.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		// One Set-Cookie per answer; none for a replayed retry, which
		// changes nothing, so Twilio keeps the cookie it has.
		assert.LessOrEqual(tw.t, len(rec.Header().Values("Set-Cookie")), 1, "more than one Set-Cookie in an answer")
		tw.jar.Update(key, rec.Header())
	}
	return rec
}

func (tw *twilio) send(key convo.Key, sid, body string) *httptest.ResponseRecorder {
	return tw.serve(key, tw.request(key, sid, body))
}

func (tw *twilio) text(key convo.Key, sid string) string {
	tw.t.Helper()
	rec := tw.send(key, sid, "hi")
	require.Equal(tw.t, http.StatusOK, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// TestHandlerSetsOneCookie checks every answer of a new message carries
// exactly one Set-Cookie.
func TestHandlerSetsOneCookie(t *testing.T) {
	tw := newTwilio(t, nil, cookiestore.Options{})
	for i := range 6 {
		rec := tw.send(rey, fmt.Sprint("SM", i), "hi")
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Len(t, rec.Header().Values("Set-Cookie"), 1)
	}
}

func twiml(s string) string {
	return string(convo.Text(s).TwiML())
}

func TestHandlerCounter(t *testing.T) {
	tw := newTwilio(t, nil, cookiestore.Options{})
	for i := 1; i <= 3; i++ {
		assert.Equal(t, twiml(fmt.Sprintf("Rey has messaged +15005550006 %d times", i)), tw.text(rey, fmt.Sprint("SM", i)))
	}
	assert.Equal(t, twiml("Finn has messaged +15005550006 1 times"), tw.text(finn, "SMf1"), "pairs are separate")
	assert.Equal(t, twiml("Rey has messaged +15005550006 4 times"), tw.text(rey, "SM4"))
}

func TestHandlerRetryAnsweredByteForByte(t *testing.T) {
	reply := func(_ context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
		return convo.Reply{Messages: []convo.Outgoing{
			{Body: fmt.Sprintf("count %d <&> \"%s\"\t", c.Count, m.Body)},
			{Body: "pic", Media: []string{"https://example.com/a.png?x=1&y=2"}},
		}}, nil
	}
	tw := newTwilio(t, reply, cookiestore.Options{})
	tw.text(rey, "SM1")
	first := tw.text(rey, "SM2")
	// Twilio retries SM2 (the answer came too late); the cookie is the one
	// the first answer set.
	again := tw.text(rey, "SM2")
	assert.Equal(t, first, again, "a retry must get the same TwiML, byte for byte")
	assert.Contains(t, tw.text(rey, "SM3"), "count 3", "the retry was counted")
}

// When Twilio never got the first answer, it never got its cookie either:
// the retry brings the old cookie and is handled anew. The conversation
// counts the message once, since the first answer's state was lost with it.
func TestHandlerRetryAfterLostAnswer(t *testing.T) {
	tw := newTwilio(t, nil, cookiestore.Options{})
	tw.text(rey, "SM1")
	lost := httptest.NewRecorder()
	tw.handler.ServeHTTP(lost, tw.request(rey, "SM2", "hi")) // answer never reaches Twilio
	require.Equal(t, http.StatusOK, lost.Code)
	assert.Equal(t, lost.Body.String(), tw.text(rey, "SM2"))
	assert.Equal(t, twiml("Rey has messaged +15005550006 3 times"), tw.text(rey, "SM3"))
}

func TestHandlerRefusedCookieStartsFresh(t *testing.T) {
	tw := newTwilio(t, nil, cookiestore.Options{})
	tw.text(rey, "SM1")
	tw.text(rey, "SM2")
	req := tw.request(rey, "SM3", "hi")
	req.Header.Set("Cookie", "convo=AAAA"+strings.Repeat("B", 100))
	rec := tw.serve(rey, req)
	require.Equal(t, http.StatusOK, rec.Code, "a tampered cookie must not fail the webhook")
	assert.Equal(t, twiml("Rey has messaged +15005550006 1 times"), rec.Body.String())
	assert.Contains(t, tw.log.String(), "cookie refused")
	assert.Equal(t, twiml("Rey has messaged +15005550006 2 times"), tw.text(rey, "SM4"))
}

func TestHandlerIdleExpiry(t *testing.T) {
	tw := newTwilio(t, nil, cookiestore.Options{Expiry: convo.Expiry{Idle: 30 * time.Minute}})
	tw.text(rey, "SM1")
	tw.clock.Advance(29 * time.Minute)
	assert.Contains(t, tw.text(rey, "SM2"), " 2 times")
	tw.clock.Advance(31 * time.Minute)
	assert.Contains(t, tw.text(rey, "SM3"), " 1 times", "an idle conversation must start over")
}

func TestHandlerEnd(t *testing.T) {
	reply := func(_ context.Context, c *convo.Conversation, _ *convo.Message) (convo.Reply, error) {
		if c.Count == 2 {
			c.End()
			return convo.Text("bye"), nil
		}
		return convo.Textf("message %d", c.Count), nil
	}
	tw := newTwilio(t, reply, cookiestore.Options{})
	tw.text(rey, "SM1")
	assert.Equal(t, twiml("bye"), tw.text(rey, "SM2"))
	assert.Equal(t, twiml("bye"), tw.text(rey, "SM2"), "a retry of the ending message gets the same answer")
	assert.Equal(t, twiml("message 1"), tw.text(rey, "SM3"), "the next message starts over")
}

func TestHandlerTooLarge(t *testing.T) {
	big := randomText(t, 4000)
	reply := func(_ context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
		if m.Body == "big" {
			if err := convo.SetState(c, big); err != nil {
				return convo.Reply{}, err
			}
		}
		return convo.Textf("message %d", c.Count), nil
	}
	tw := newTwilio(t, reply, cookiestore.Options{})
	tw.text(rey, "SM1")
	rec := tw.send(rey, "SM2", "big")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
	logged := tw.log.String()
	assert.Contains(t, logged, "level=ERROR")
	assert.Contains(t, logged, convo.ErrTooLarge.Error())
	assert.Equal(t, twiml("message 2"), tw.text(rey, "SM3"), "the failed turn changed the conversation")
}

// burst sends one message, then n at once, then one more, and returns
// the count the last one reports (n+2 when nothing is lost).
//
// With sameCookie, the n requests are built before any is answered, so
// each carries the cookie of the first answer: Twilio dispatching a
// pair's messages in parallel. Otherwise they go through a real HTTP
// server, released together, each taking the cookie the jar holds the
// moment it is sent, and the jar keeps each answer's cookie as it comes:
// what is lost then depends on how the turns overlap.
func burst(t *testing.T, n int, sameCookie bool) int {
	tw := newTwilio(t, nil, cookiestore.Options{})
	tw.text(rey, "SM0")
	var wg sync.WaitGroup
	if sameCookie {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i] = tw.request(rey, fmt.Sprint("SMb", i), "hi")
		}
		for _, req := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.Equal(t, http.StatusOK, tw.serve(rey, req).Code)
			}()
		}
	} else {
		srv := httptest.NewServer(tw.handler)
		defer srv.Close()
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req := tw.request(rey, fmt.Sprint("SMb", i), "hi")
				req.URL, _ = url.Parse(srv.URL + "/sms")
				req.RequestURI, req.Host = "", ""
				resp, err := srv.Client().Do(req)
				if !assert.NoError(t, err) {
					return
				}
				defer resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				tw.jar.Update(rey, resp.Header)
			}()
		}
		close(start)
	}
	wg.Wait()
	last := tw.text(rey, "SMlast")
	var count int
	_, err := fmt.Sscanf(strings.TrimPrefix(last, `<?xml version="1.0" encoding="UTF-8"?><Response><Message>`), "Rey has messaged +15005550006 %d times", &count)
	require.NoError(t, err, last)
	return count
}

// TestBurst measures what the package doc states: a client-held store
// cannot see a save answered to another request with the same cookie.
func TestBurst(t *testing.T) {
	// Every request of the burst carries the same cookie: all 40 count
	// from 1 to 2, and the one after counts 3 where 42 messages came.
	assert.Equal(t, 3, burst(t, 40, true), "a burst sent with one cookie")

	// Over HTTP, requests picking up the cookie as they are sent.
	var counts []int
	for range 10 {
		got := burst(t, 40, false)
		assert.GreaterOrEqual(t, got, 3)
		assert.LessOrEqual(t, got, 42)
		counts = append(counts, got)
	}
	slices.Sort(counts)
	t.Logf("burst of 40 over HTTP, cookies picked up as sent: final counts %v of 42", counts)
}
