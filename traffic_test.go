package convo_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// STOP, as a keyword or marked by Advanced Opt-Out, ends the conversation
// and answers nothing (Twilio confirms itself); the reply function sees it;
// START starts afresh; HELP is an ordinary message the reply function sees.
func TestOptOuts(t *testing.T) {
	for _, advanced := range []bool{false, true} {
		name := "keywords"
		if advanced {
			name = "OptOutType"
		}
		t.Run(name, func(t *testing.T) {
			var seen []convo.OptOut
			f := newFixture(t, func(c *convo.Config) {
				seed := c.Reply
				c.Reply = func(ctx context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
					seen = append(seen, m.OptOut)
					return seed(ctx, cv, m)
				}
			})
			tw := convotest.NewTwilio(f.h, convotest.TwilioOptions{AuthToken: token, URL: hookURL, Now: f.clock.Now, AdvancedOptOut: advanced})
			phone := tw.Phone(reyNum, twilNum)
			ctx := context.Background()
			send := func(body string) *convotest.Reply {
				r, err := phone.Send(ctx, body)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, r.Status)
				if advanced && body != "hi" {
					assert.NotEmpty(t, r.Form.Get("OptOutType"), "the fake sends OptOutType")
				}
				return r
			}
			send("hi")
			send("hi")
			assert.Equal(t, counted(3), send(" help ").Texts(), "HELP is a message like any other")
			stop := send("Stop")
			assert.Equal(t, emptyTwiML, string(stop.Body), "a reply to STOP is never delivered")
			assert.Equal(t, counted(1), send("START").Texts(), "START starts a fresh conversation")
			assert.Equal(t, counted(2), send("hi").Texts())
			send("quit")
			assert.Equal(t, counted(1), send("hi").Texts(), "QUIT ended the conversation")
			assert.Equal(t, []convo.OptOut{"", "", convo.OptOutHelp, convo.OptOutStop, convo.OptOutStart, "", convo.OptOutStop, ""}, seen)
		})
	}
}

func TestOptOutKeywordsOnlyOnSMS(t *testing.T) {
	f := newFixture(t, nil)
	wa := f.tw.Phone("whatsapp:"+reyNum, "whatsapp:"+twilNum)
	ctx := context.Background()
	_, err := wa.Send(ctx, "hi")
	require.NoError(t, err)
	r, err := wa.Send(ctx, "STOP")
	require.NoError(t, err)
	assert.Equal(t, "Friend has messaged whatsapp:+15005550006 2 times", r.String(), "Twilio handles no keywords on WhatsApp")
}

// A status callback never runs a turn: the count stays, no conversation is
// made for its reversed pair, the answer is 200 with an empty body, and
// OnStatus gets it with the conversation's key.
func TestStatusCallbacks(t *testing.T) {
	var mu sync.Mutex
	var got []convo.Status
	f := newFixture(t, func(c *convo.Config) {
		c.OnStatus = func(_ context.Context, s *convo.Status) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, *s)
		}
	})
	ctx := context.Background()
	f.text(t, "hi")
	for _, status := range []string{"queued", "sent", "delivered", "undelivered", "failed", "read"} {
		r, err := f.rey.SendStatus(ctx, convotest.StatusCallback{MessageSID: "SMout", Status: status})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Empty(t, r.Body, "a status callback is answered with an empty body")
	}
	assert.Equal(t, counted(2), f.text(t, "again"), "a status callback changed the count")
	assert.Equal(t, 1, f.store.Len(), "a status callback made a conversation")
	require.Len(t, got, 6)
	assert.Equal(t, rey, got[0].Key, "the callback's pair, reversed, is the conversation")
	assert.Equal(t, "SMout", got[0].MessageSID)
	assert.Equal(t, "delivered", got[2].Status)
	assert.Equal(t, "30003", got[3].ErrorCode)

	// Without OnStatus they are answered all the same.
	f = newFixture(t, nil)
	r, err := f.rey.SendStatus(ctx, convotest.StatusCallback{Status: "delivered"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, 0, f.store.Len())
}

func TestLongRepliesSplit(t *testing.T) {
	long := strings.Repeat("word ", 999) + "word" // 4,999 characters
	emoji := strings.Repeat("🎉", 1000)            // 2,000 UTF-16 units, no space
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(_ context.Context, _ *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "emoji" {
				return convo.Text(emoji), nil
			}
			return convo.Reply{Messages: []convo.Outgoing{{Body: long, Media: []string{"https://example.com/a.png"}}}}, nil
		}
	})
	r, err := f.rey.Send(context.Background(), "long")
	require.NoError(t, err, "convotest reports an over-long message")
	require.Len(t, r.Messages, 4)
	assert.Equal(t, []string{"https://example.com/a.png"}, r.Messages[0].Media, "media go with the first part")
	var joined []string
	for _, m := range r.Messages {
		assert.LessOrEqual(t, len(utf16.Encode([]rune(m.Body))), convo.MaxMessageLen)
		assert.False(t, strings.HasSuffix(m.Body, " ") || strings.HasPrefix(m.Body, " "), "cut at a word boundary")
		joined = append(joined, m.Body)
	}
	assert.True(t, long == strings.Join(joined, " "), "something was lost or broken up")

	r, err = f.rey.Send(context.Background(), "emoji")
	require.NoError(t, err)
	require.Len(t, r.Messages, 2)
	assert.Equal(t, emoji, r.Messages[0].Body+r.Messages[1].Body, "a run without spaces is cut between characters")
}

func TestLongRepliesRefused(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.LongReplies = convo.RefuseLongReplies
		c.Fallback = convo.Text("Sorry.")
		c.Reply = func(context.Context, *convo.Conversation, *convo.Message) (convo.Reply, error) {
			return convo.Text(strings.Repeat("x", convo.MaxMessageLen+1)), nil
		}
	})
	assert.Equal(t, []string{"Sorry."}, f.text(t, "hi"))
	assert.Contains(t, f.logs.String(), "over Twilio's 1600")
	assert.Zero(t, f.store.Len(), "a refused reply was saved")
}

// Without the Handler's splitting, convotest reports what Twilio would.
func TestConvotestReportsOverLongMessages(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(convo.Text(strings.Repeat("x", 1601)).TwiML())
	})
	_, err := convotest.NewTwilio(h, convotest.TwilioOptions{}).Phone(reyNum, twilNum).Send(context.Background(), "hi")
	assert.ErrorIs(t, err, convotest.ErrMessageTooLong)
}

type recorder struct {
	mu     sync.Mutex
	events []convo.Event
}

func (r *recorder) Observe(_ context.Context, e *convo.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, *e)
}

func (r *recorder) last() convo.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events[len(r.events)-1]
}

func TestObserver(t *testing.T) {
	rec := &recorder{}
	fail := false
	f := newFixture(t, func(c *convo.Config) {
		c.Observer = rec
		seed := c.Reply
		c.Reply = func(ctx context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if fail {
				return convo.Reply{}, errors.New("boom")
			}
			time.Sleep(time.Millisecond)
			return seed(ctx, cv, m)
		}
	})
	ctx := context.Background()
	f.text(t, "hi")
	e := rec.last()
	assert.Equal(t, convo.Answered, e.Outcome)
	assert.Equal(t, http.StatusOK, e.Status)
	assert.Equal(t, "sms", e.Channel)
	assert.Positive(t, e.Load)
	assert.Positive(t, e.Save)
	assert.GreaterOrEqual(t, e.Reply, time.Millisecond)
	assert.GreaterOrEqual(t, e.Total, e.Load+e.Save+e.Reply)

	_, err := f.rey.Retry(ctx)
	require.NoError(t, err)
	assert.Equal(t, convo.Replayed, rec.last().Outcome)

	fail = true
	f.text(t, "x")
	assert.Equal(t, convo.Fallback, rec.last().Outcome)
	assert.ErrorContains(t, rec.last().Err, "boom")
	fail = false

	f.text(t, "STOP")
	assert.Equal(t, convo.OptOutStop, rec.last().OptOut)

	_, err = f.rey.SendStatus(ctx, convotest.StatusCallback{Status: "delivered"})
	require.NoError(t, err)
	assert.Equal(t, convo.StatusCallback, rec.last().Outcome)

	post(t, f.h, form(reyNum, twilNum, "forged", "SMx"), "wrong-token")
	assert.Equal(t, convo.Refused, rec.last().Outcome)
	assert.Equal(t, http.StatusForbidden, rec.last().Status)

	// Two servers on one store: the turn that loses the race is re-run.
	h2, err := convo.NewHandler(convo.Config{Store: f.store, Reply: convo.Greeter(nil), AuthToken: token, Observer: rec, Now: f.clock.Now})
	require.NoError(t, err)
	tw2 := convotest.NewTwilio(h2, convotest.TwilioOptions{AuthToken: token, URL: hookURL, Now: f.clock.Now})
	var wg sync.WaitGroup
	for _, tw := range []*convotest.Twilio{f.tw, tw2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tw.Phone("+12349013030", twilNum).Burst(ctx, 20, nil)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	conflicts := 0
	for _, e := range rec.events {
		conflicts += e.Conflicts
	}
	assert.Positive(t, conflicts, "no conflict was reported by two servers bursting on one store")
}

func TestConvotestSignsWithASharedKey(t *testing.T) {
	for _, alg := range []string{"", "HMAC_SHA1", "HMAC_SHA256"} {
		f := newFixture(t, func(c *convo.Config) { c.SharedKeySecret = "shared secret" })
		tw := convotest.NewTwilio(f.h, convotest.TwilioOptions{SharedKeySecret: "shared secret", SharedKeyAlgorithm: alg, URL: hookURL})
		r, err := tw.Phone(reyNum, twilNum).Send(context.Background(), "hi")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, r.Status, alg)
	}
}
