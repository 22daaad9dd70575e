package convo_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of the Handler, driven by convotest's fake Twilio.

const (
	reyNumber = "+14158675308"
	ourNumber = "+15005550006"
)

type e2e struct {
	clock *convotest.Clock
	store *memstore.Store
	h     *convo.Handler
}

// newE2E returns the seed's counter on memstore, with a hand-moved clock
// shared by the store and the handler.
func newE2E(t *testing.T, cfg convo.Config) *e2e {
	t.Helper()
	e := &e2e{clock: convotest.NewClock(time.Time{})}
	e.store = memstore.New(memstore.Options{Expiry: convo.Expiry{Now: e.clock.Now}})
	t.Cleanup(func() { e.store.Close() })
	cfg.Store = e.store
	cfg.Now = e.clock.Now
	if cfg.Reply == nil {
		cfg.Reply = convo.Greeter(convo.SeedNames())
	}
	if cfg.AuthToken == "" {
		cfg.InsecureSkipSignatureCheck = true
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := convo.NewHandler(cfg)
	require.NoError(t, err)
	e.h = h
	return e
}

func (e *e2e) twilio(opts convotest.TwilioOptions) *convotest.Twilio {
	opts.Now = e.clock.Now
	return convotest.NewTwilio(e.h, opts)
}

// count extracts N from "… has messaged … N times".
func count(t *testing.T, r *convotest.Reply) int {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	fields := strings.Fields(r.String())
	require.GreaterOrEqual(t, len(fields), 2, "reply %q", r.String())
	n, err := strconv.Atoi(fields[len(fields)-2])
	require.NoError(t, err, "reply %q", r.String())
	return n
}

func TestE2EBurstCountsEachMessageOnce(t *testing.T) {
	e := newE2E(t, convo.Config{})
	rey := e.twilio(convotest.TwilioOptions{}).Phone(reyNumber, ourNumber)
	ctx := context.Background()

	const n = 50
	replies, err := rey.Burst(ctx, n, nil)
	require.NoError(t, err)
	seen := make(map[int]int)
	for _, r := range replies {
		seen[count(t, r)]++
	}
	for i := 1; i <= n; i++ {
		assert.Equal(t, 1, seen[i], "count %d answered %d times", i, seen[i])
	}
	r, err := rey.Send(ctx, "after the burst")
	require.NoError(t, err)
	assert.Equal(t, n+1, count(t, r))
}

func TestE2EManyPhonesBurstAtOnce(t *testing.T) {
	e := newE2E(t, convo.Config{})
	tw := e.twilio(convotest.TwilioOptions{})
	ctx := context.Background()
	const phones, each = 8, 10
	var wg sync.WaitGroup
	for _, p := range tw.Phones(phones, ourNumber) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies, err := p.Burst(ctx, each, nil)
			if !assert.NoError(t, err) {
				return
			}
			seen := map[string]bool{}
			for _, r := range replies {
				seen[r.String()] = true
			}
			assert.Len(t, seen, each, "a count of %s repeated", p.Key().Redacted())
			assert.True(t, seen[fmt.Sprintf("Friend has messaged %s %d times", ourNumber, each)])
		}()
	}
	wg.Wait()
	assert.Equal(t, phones, e.store.Len())
}

func TestE2ERetryIsAnsweredByteForByte(t *testing.T) {
	e := newE2E(t, convo.Config{AuthToken: "tok"})
	rey := e.twilio(convotest.TwilioOptions{AuthToken: "tok"}).Phone(reyNumber, ourNumber)
	ctx := context.Background()

	_, err := rey.Send(ctx, "one")
	require.NoError(t, err)
	first, err := rey.Send(ctx, "two")
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, first))

	for range 3 {
		again, err := rey.Retry(ctx)
		require.NoError(t, err)
		assert.Equal(t, first.Status, again.Status)
		assert.Equal(t, string(first.Body), string(again.Body), "a retry is not answered byte for byte")
		assert.Equal(t, first.Form.Get("MessageSid"), again.Form.Get("MessageSid"))
	}
	next, err := rey.Send(ctx, "three")
	require.NoError(t, err)
	assert.Equal(t, 3, count(t, next), "a retry was counted")
}

func TestE2ERetryWithoutMessageSidUsesIdempotencyToken(t *testing.T) {
	e := newE2E(t, convo.Config{})
	rey := e.twilio(convotest.TwilioOptions{}).Phone(reyNumber, ourNumber)
	ctx := context.Background()
	// Messages whose MessageSid (and older aliases) are empty.
	rey.Params = map[string][]string{"MessageSid": {""}, "SmsMessageSid": {""}, "SmsSid": {""}}

	first, err := rey.Send(ctx, "one")
	require.NoError(t, err)
	again, err := rey.Retry(ctx)
	require.NoError(t, err)
	assert.Equal(t, string(first.Body), string(again.Body))
	next, err := rey.Send(ctx, "two")
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, next))
}

func TestE2EConversationExpiresAfterFourIdleHours(t *testing.T) {
	e := newE2E(t, convo.Config{})
	rey := e.twilio(convotest.TwilioOptions{}).Phone(reyNumber, ourNumber)
	ctx := context.Background()
	send := func() int {
		t.Helper()
		r, err := rey.Send(ctx, "hi")
		require.NoError(t, err)
		return count(t, r)
	}

	assert.Equal(t, 1, send())
	e.clock.Advance(4*time.Hour - time.Second)
	assert.Equal(t, 2, send(), "expired before four idle hours")
	e.clock.Advance(4*time.Hour - time.Second)
	assert.Equal(t, 3, send(), "each message restarts the four hours")
	e.clock.Advance(4 * time.Hour)
	assert.Equal(t, 1, send(), "did not start over after four idle hours")
	assert.Equal(t, 2, send())
}

func TestE2EPairsAreKeptApart(t *testing.T) {
	e := newE2E(t, convo.Config{})
	tw := e.twilio(convotest.TwilioOptions{})
	ctx := context.Background()
	sms := tw.Phone(reyNumber, ourNumber)
	wa := tw.Phone("whatsapp:"+reyNumber, "whatsapp:"+ourNumber)
	otherNumber := tw.Phone(reyNumber, "+15005550001")
	finn := tw.Phone("+12349013030", ourNumber)

	for i := 1; i <= 3; i++ {
		r, err := sms.Send(ctx, "hi")
		require.NoError(t, err)
		assert.Equal(t, "Rey has messaged +15005550006 "+strconv.Itoa(i)+" times", r.String())
	}
	r, err := wa.Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, "Friend has messaged whatsapp:+15005550006 1 times", r.String(),
		"the WhatsApp pair shares the SMS pair's conversation (or names it)")
	r, err = otherNumber.Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, 1, count(t, r))
	r, err = finn.Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, "Finn has messaged +15005550006 1 times", r.String())
	r, err = sms.Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, 4, count(t, r))
}

func TestE2ESignature(t *testing.T) {
	e := newE2E(t, convo.Config{AuthToken: "right"})
	ctx := context.Background()

	for _, token := range []string{"wrong", ""} {
		r, err := e.twilio(convotest.TwilioOptions{AuthToken: token}).Phone(reyNumber, ourNumber).Send(ctx, "hi")
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, r.Status, "token %q", token)
		assert.Empty(t, r.Messages)
	}
	assert.Equal(t, 0, e.store.Len(), "a refused message was saved")

	tw := e.twilio(convotest.TwilioOptions{AuthToken: "right"})
	r, err := tw.Phone(reyNumber, ourNumber).Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, 1, count(t, r))

	// A message changed after signing (here: its Body, by a proxy) is
	// refused; the same proxy leaving it alone is not.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("Body") == "tamper" {
			r.PostForm.Set("Body", "tampered")
		}
		e.h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	viaProxy, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{AuthToken: "right"})
	require.NoError(t, err)
	p := viaProxy.Phone(reyNumber, ourNumber)
	r, err = p.Send(ctx, "tamper")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status, "a tampered message was accepted")
	r, err = p.Send(ctx, "hi")
	require.NoError(t, err)
	assert.Equal(t, 2, count(t, r))
}

func TestE2EOverHTTP(t *testing.T) {
	e := newE2E(t, convo.Config{AuthToken: "tok"})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	tw, err := convotest.NewTwilioURL(srv.URL+"/sms?tenant=1", convotest.TwilioOptions{AuthToken: "tok", Now: e.clock.Now})
	require.NoError(t, err)
	rey := tw.Phone(reyNumber, ourNumber)
	ctx := context.Background()

	replies, err := rey.Burst(ctx, 20, nil)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, r := range replies {
		seen[count(t, r)] = true
	}
	assert.Len(t, seen, 20)
	// The Handler keeps the replies of the latest DefaultRetryRecords
	// messages: their retries are answered again, byte for byte, and not
	// counted; an older message's retry is handled as a new message.
	byCount := make(map[int]*convotest.Reply)
	for _, r := range replies {
		byCount[count(t, r)] = r
	}
	for c := 20; c > 20-convo.DefaultRetryRecords; c-- {
		again, err := rey.Resend(ctx, byCount[c])
		require.NoError(t, err)
		assert.Equal(t, string(byCount[c].Body), string(again.Body), "retry of message %d", c)
	}
	again, err := rey.Resend(ctx, byCount[20-convo.DefaultRetryRecords])
	require.NoError(t, err)
	assert.Equal(t, 21, count(t, again), "a retry beyond the retry records")
}

func TestE2ERichReplies(t *testing.T) {
	e := newE2E(t, convo.Config{Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
		if m.Body == "bye" {
			c.End()
			return convo.Reply{Redirect: &convo.Redirect{URL: "https://example.com/goodbye", Method: "GET"}}, nil
		}
		media := make([]string, len(m.Media))
		for i, md := range m.Media {
			media[i] = md.URL + "#" + md.ContentType
		}
		return convo.Reply{Messages: []convo.Outgoing{
			{Body: fmt.Sprintf("%d: <%s> & %d media", c.Count, m.Body, len(m.Media)), Media: media},
			{Body: "second"},
		}}, nil
	}})
	p := e.twilio(convotest.TwilioOptions{}).Phone(reyNumber, ourNumber)
	ctx := context.Background()

	r, err := p.SendMessage(ctx, convotest.Message{Body: "</Message>", Media: []convo.Media{{URL: "https://e.com/a.png"}, {URL: "https://e.com/b.gif"}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"1: <</Message>> & 2 media", "second"}, r.Texts())
	assert.Equal(t, []string{"https://e.com/a.png#image/png", "https://e.com/b.gif#image/gif"}, r.Messages[0].Media)

	r, err = p.Send(ctx, "bye")
	require.NoError(t, err)
	assert.Empty(t, r.Messages)
	assert.Equal(t, &convo.Redirect{URL: "https://example.com/goodbye", Method: "GET"}, r.Redirect)

	r, err = p.Send(ctx, "hello again")
	require.NoError(t, err)
	assert.Equal(t, "1: <hello again> & 0 media", r.Texts()[0], "an ended conversation did not start over")
}
