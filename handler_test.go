package convo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
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
	reply := convo.Greeter(nil)
	tests := []struct {
		name string
		cfg  convo.Config
		want string
	}{
		{"no store", convo.Config{Reply: reply, AuthToken: token}, "Store"},
		{"no reply", convo.Config{Store: store, AuthToken: token}, "Reply"},
		{"no token", convo.Config{Store: store, Reply: reply}, "AuthToken"},
		{"relative public URL", convo.Config{Store: store, Reply: reply, AuthToken: token, PublicURL: "/sms"}, "PublicURL"},
		{"ftp public URL", convo.Config{Store: store, Reply: reply, AuthToken: token, PublicURL: "ftp://x/sms"}, "PublicURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convo.NewHandler(tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	for _, cfg := range []convo.Config{
		{Store: store, Reply: reply, InsecureSkipSignatureCheck: true},
		{Store: store, Reply: reply, SharedKeySecret: "shared"},
	} {
		_, err := convo.NewHandler(cfg)
		assert.NoError(t, err)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, nil)
	good := form(reyNum, twilNum, "hi", "SM1")
	long := form(strings.Repeat("1", 10<<10), twilNum, "hi", "SM2")
	tests := []struct {
		name   string
		method string
		ctype  string
		body   string
		sig    string // "" = sign the body's form correctly; "-" = none
		url    string
		want   int
	}{
		{"GET", http.MethodGet, "", "", "-", hookURL, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "", good.Encode(), "", hookURL, http.StatusMethodNotAllowed},
		{"JSON", http.MethodPost, "application/json", `{"From":"+1"}`, "-", hookURL, http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, "-", good.Encode(), "", hookURL, http.StatusUnsupportedMediaType},
		{"body too large", http.MethodPost, "", good.Encode() + "&Pad=" + strings.Repeat("x", convo.DefaultMaxBodyBytes), "-", hookURL, http.StatusRequestEntityTooLarge},
		{"malformed form", http.MethodPost, "", "From=%zz&To=1", "-", hookURL, http.StatusBadRequest},
		{"no signature", http.MethodPost, "", good.Encode(), "-", hookURL, http.StatusForbidden},
		{"signature not base64", http.MethodPost, "", good.Encode(), "!!", hookURL, http.StatusForbidden},
		{"wrong signature", http.MethodPost, "", good.Encode(), convotest.Signature("wrong-token", hookURL, good), hookURL, http.StatusForbidden},
		{"signature for another URL", http.MethodPost, "", good.Encode(), convotest.Signature(token, "https://evil.example.com/sms", good), hookURL, http.StatusForbidden},
		{"signature for another body", http.MethodPost, "", form(reyNum, twilNum, "tampered", "SM1").Encode(), convotest.Signature(token, hookURL, good), hookURL, http.StatusForbidden},
		{"http instead of https", http.MethodPost, "", good.Encode(), "", "http://convo.example.com/sms", http.StatusForbidden},
		{"missing From", http.MethodPost, "", url.Values{"To": {twilNum}, "Body": {"x"}}.Encode(), "", hookURL, http.StatusBadRequest},
		{"missing To", http.MethodPost, "", url.Values{"From": {reyNum}, "Body": {"x"}}.Encode(), "", hookURL, http.StatusBadRequest},
		{"From of 10 KB", http.MethodPost, "", long.Encode(), "", hookURL, http.StatusBadRequest},
		{"bad NumMedia", http.MethodPost, "", url.Values{"From": {reyNum}, "To": {twilNum}, "NumMedia": {"99"}}.Encode(), "", hookURL, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			switch tt.ctype {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.ctype)
			}
			switch tt.sig {
			case "":
				parsed, _ := url.ParseQuery(tt.body)
				req.Header.Set("X-Twilio-Signature", convotest.Signature(token, hookURL, parsed))
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
	assert.Equal(t, 0, f.store.Len(), "a refused request reached the store")
	logs := f.logs.String()
	assert.Contains(t, logs, "invalid Twilio signature")
	assert.Contains(t, logs, "status=400")
	assert.NotContains(t, logs, token, "the auth token reached the log")
	assert.NotContains(t, logs, reyNum, "a full phone number reached the log")
}

// A From or To over MaxAddressLen is refused with 400 before any store is
// touched, whatever the store.
func TestOverLongAddressNeverReachesTheStore(t *testing.T) {
	var fs *convotest.FaultyStore
	f := newFixture(t, func(c *convo.Config) { fs = convotest.NewFaultyStore(c.Store); c.Store = fs })
	for _, fm := range []url.Values{
		form(strings.Repeat("9", 10<<10), twilNum, "hi", "SM1"),
		form(reyNum, "whatsapp:"+strings.Repeat("9", convo.MaxAddressLen), "hi", "SM2"),
	} {
		assert.Equal(t, http.StatusBadRequest, post(t, f.h, fm, token).Code)
	}
	loads, saves, _, _ := fs.Calls()
	assert.Zero(t, loads+saves, "the store was called for a refused request")
	assert.NotContains(t, f.logs.String(), "ERROR", "a caller's mistake logged as a failure")
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
		{"default port added", nil, "https://convo.example.com/sms", "https://convo.example.com:443/sms", nil, 200},
		{"default port removed", nil, "https://convo.example.com:443/sms", "https://convo.example.com/sms", nil, 200},
		{"public base URL", func(c *convo.Config) { c.PublicURL = "https://public.example.com" },
			"http://127.0.0.1:8080/sms?x=1", "https://public.example.com/sms?x=1", nil, 200},
		{"public URL with path", func(c *convo.Config) { c.PublicURL = "https://public.example.com/hooks/sms" },
			"http://127.0.0.1:8080/sms?x=1", "https://public.example.com/hooks/sms?x=1", nil, 200},
		{"public URL with query", func(c *convo.Config) { c.PublicURL = "https://public.example.com/hooks/sms?k=v" },
			"http://127.0.0.1:8080/sms?x=1", "https://public.example.com/hooks/sms?k=v", nil, 200},
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
			req.Header.Set("X-Twilio-Signature", convotest.Signature(token, tt.signed, f))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			fx.h.ServeHTTP(rec, req)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

func TestBurstAllCounted(t *testing.T) {
	f := newFixture(t, nil)
	replies, err := f.rey.Burst(context.Background(), 50, nil)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range replies {
		seen[r.String()] = true
	}
	for i := 1; i <= 50; i++ {
		assert.True(t, seen[counted(i)[0]], "count %d never answered", i)
	}
	assert.Equal(t, 50, f.stored(t, rey).Count)
}

// Two Handlers sharing one store stand for two servers of a fleet: their
// in-process locks do not see each other, so only the store's
// compare-and-set keeps the count. Then Twilio retries every message of
// the burst on the other server: each gets its first answer, byte for byte,
// and nothing is counted again.
func TestFleetBurstAndRetriesOnTheOtherServer(t *testing.T) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	var tws []*convotest.Twilio
	for range 2 {
		h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true})
		require.NoError(t, err)
		tws = append(tws, convotest.NewTwilio(h, convotest.TwilioOptions{}))
	}
	ctx := context.Background()
	phone := tws[0].Phone(reyNum, twilNum)
	replies, err := phone.Burst(ctx, 40, nil)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range replies {
		seen[r.String()] = true
		again, err := tws[1].Resend(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, string(r.Body), string(again.Body), "a retry on the other server got another answer")
	}
	assert.Len(t, seen, 40, "the burst's counts are not 40 distinct ones")
	r, err := phone.Send(ctx, "one more")
	require.NoError(t, err)
	assert.Equal(t, "Friend has messaged +15005550006 41 times", r.String())
}

// A retry is answered from its record however many messages came between,
// within the retry window; after it, the message is handled anew.
func TestRetriesKeptByTime(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	first, err := f.rey.Send(ctx, "first")
	require.NoError(t, err)
	for range 30 {
		f.text(t, "newer")
	}
	again, err := f.rey.Resend(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, string(first.Body), string(again.Body), "a retry after 30 newer messages got another answer")
	assert.Equal(t, 31, f.stored(t, rey).Count, "a retry was counted")

	f.clock.Advance(convo.DefaultRetryWindow + time.Second)
	later, err := f.rey.Send(ctx, "later")
	require.NoError(t, err)
	again, err = f.rey.Resend(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, counted(33), again.Texts(), "a message retried after the window is handled anew")
	assert.Equal(t, []string{later.Form.Get("MessageSid"), first.Form.Get("MessageSid")}, convo.RetryIDs(f.stored(t, rey)),
		"records outside the window are dropped")
}

func TestRetryRecordsBounded(t *testing.T) {
	f := newFixture(t, nil)
	for range 100 {
		f.text(t, "hi")
	}
	assert.Len(t, convo.RetryIDs(f.stored(t, rey)), 64, "at most 64 retry records")
}

func TestRetryWithoutMessageSidUsesIdempotencyToken(t *testing.T) {
	f := newFixture(t, nil)
	send := func() string {
		fm := form(reyNum, twilNum, "three", "")
		req := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(fm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", convotest.Signature(token, hookURL, fm))
		req.Header.Set("I-Twilio-Idempotency-Token", "idem-3")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec.Body.String()
	}
	assert.Equal(t, send(), send())
	assert.Equal(t, 1, f.stored(t, rey).Count)
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
	require.Equal(t, counted(1), f.text(t, "1"))

	fs.FailLoad(errors.New("connection refused"))
	r, err := f.rey.Send(context.Background(), "2")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	fs.Heal()
	fs.FailSave(nil)
	r, err = f.rey.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	fs.Heal()

	r, err = f.rey.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, counted(2), r.Texts(), "state was lost or half-saved")
	logs := f.logs.String()
	assert.Contains(t, logs, "status=503")
	assert.Contains(t, logs, "…5308", "the log should name the conversation, redacted")
	assert.NotContains(t, logs, reyNum)
	assert.NotContains(t, logs, token)
}

func TestCorruptRecordAnswers500AndIsKept(t *testing.T) {
	f := newFixture(t, nil)
	require.NoError(t, f.store.Save(context.Background(), rey, []byte(`{"v":99}`), time.Hour, 0, 1))
	r, err := f.rey.Send(context.Background(), "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, r.Status)
	data, _, _ := f.store.Load(context.Background(), rey)
	assert.Equal(t, `{"v":99}`, string(data), "a corrupt record was overwritten")
	assert.Contains(t, f.logs.String(), "cannot be decoded")
}

func TestTurnTimeout(t *testing.T) {
	var fs *convotest.FaultyStore
	f := newFixture(t, func(c *convo.Config) {
		fs = convotest.NewFaultyStore(c.Store)
		fs.Stall(time.Minute)
		c.Store = fs
		c.TurnTimeout = 50 * time.Millisecond
	})
	r, err := f.rey.Send(context.Background(), "slow")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
	fs.Heal()
	assert.Equal(t, counted(1), f.text(t, "fast"))
}

// sizeLimited refuses records over max bytes, as a cookie does.
type sizeLimited struct {
	convo.Store
	max int
}

func (s sizeLimited) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if len(data) > s.max {
		return fmt.Errorf("%d bytes: %w", len(data), convo.ErrTooLarge)
	}
	return s.Store.Save(ctx, key, data, ttl, prev, next)
}

func TestTooLargeDropsHistoryThenFails(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Store = sizeLimited{c.Store, 1500}
		c.RetryWindow = time.Millisecond // one retry record at a time
		c.Reply = func(_ context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "huge" {
				return convo.Reply{}, convo.SetState(cv, strings.Repeat("x", 2000))
			}
			return convo.Text(strings.Repeat("a", 200)), nil
		}
	})
	for range 6 {
		f.clock.Advance(time.Second)
		f.text(t, strings.Repeat("b", 100))
	}
	c := f.stored(t, rey)
	assert.Equal(t, 6, c.Count)
	assert.Less(t, len(c.History), convo.DefaultHistorySize, "the oldest turns were not dropped to fit")
	assert.NotEmpty(t, c.History)

	r, err := f.rey.Send(context.Background(), "huge")
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, r.Status, "state that cannot fit")
	assert.Equal(t, 6, f.stored(t, rey).Count)
}

func TestReplyFailuresAnswerTheFallback(t *testing.T) {
	var mode atomic.Value
	mode.Store("ok")
	f := newFixture(t, func(c *convo.Config) {
		c.Fallback = convo.Text("Sorry, try again.")
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
	assert.Equal(t, counted(1), f.text(t, "1"))
	for _, m := range []string{"error", "panic"} {
		mode.Store(m)
		assert.Equal(t, []string{"Sorry, try again."}, f.text(t, m))
	}
	logs := f.logs.String()
	assert.Contains(t, logs, "backend down")
	assert.Contains(t, logs, "panicked: boom")
	assert.Contains(t, logs, "goroutine", "a panic is logged with its stack")
	mode.Store("ok")
	assert.Equal(t, counted(2), f.text(t, "2"), "a failed turn was saved")
}

func TestEndStartsOver(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(_ context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "RESTART" {
				cv.End()
				return convo.Text("bye"), nil
			}
			return convo.Textf("n=%d", cv.Count), nil
		}
	})
	f.text(t, "a")
	f.text(t, "b")
	bye, err := f.rey.Send(context.Background(), "RESTART")
	require.NoError(t, err)
	assert.Equal(t, []string{"bye"}, bye.Texts())
	again, err := f.rey.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, string(bye.Body), string(again.Body), "a retry of the ending message")
	assert.Equal(t, []string{"n=1"}, f.text(t, "c"), "the conversation did not start over")
}

func TestIdleAndLifetime(t *testing.T) {
	f := newFixture(t, nil)
	f.text(t, "a")
	f.clock.Advance(3 * time.Hour)
	assert.Equal(t, counted(2), f.text(t, "b"))
	f.clock.Advance(4 * time.Hour)
	assert.Equal(t, counted(1), f.text(t, "c"), "four idle hours did not end it")

	f = newFixture(t, func(c *convo.Config) { c.Idle = time.Hour; c.Lifetime = 3 * time.Hour })
	for i := 1; i <= 6; i++ {
		assert.Equal(t, counted(i), f.text(t, "busy"))
		f.clock.Advance(30 * time.Minute)
	}
	assert.Equal(t, counted(1), f.text(t, "late"), "Lifetime did not end it")
}

func TestHistoryBounded(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) { c.HistorySize = 3 })
	for i := range 20 {
		f.text(t, fmt.Sprint("m", i))
	}
	c := f.stored(t, rey)
	require.Len(t, c.History, 3)
	assert.Equal(t, "m17", c.History[0].In)
	assert.Equal(t, "m19", c.History[2].In)
	assert.Equal(t, counted(20)[0], c.History[2].Out)

	f = newFixture(t, func(c *convo.Config) { c.HistorySize = -1 })
	f.text(t, "a")
	assert.Empty(t, f.stored(t, rey).History)
}

func TestChannelsAreSeparateConversations(t *testing.T) {
	f := newFixture(t, nil)
	f.text(t, "a")
	wa := f.tw.Phone("whatsapp:"+reyNum, "whatsapp:"+twilNum)
	r, err := wa.Send(context.Background(), "b")
	require.NoError(t, err)
	assert.Equal(t, "Friend has messaged whatsapp:+15005550006 1 times", r.String())
	assert.Equal(t, counted(2), f.text(t, "c"))
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
	f.text(t, "red")
	assert.Equal(t, []string{"step 2: red,blue"}, f.text(t, "blue"))
	q, err := convo.StateOf[quiz](f.stored(t, rey))
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

type ctxKey struct{}

// The reply function's context is the request's: it carries what
// middleware put there and the turn's deadline, and not the exchange the
// stores use, so nothing in it can reach the answer's header.
func TestReplyContext(t *testing.T) {
	type seen struct {
		value       any
		hasDeadline bool
		exchange    bool
	}
	got := make(chan seen, 1)
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = func(ctx context.Context, _ *convo.Conversation, _ *convo.Message) (convo.Reply, error) {
			_, dl := ctx.Deadline()
			_, x := convo.ExchangeFrom(ctx)
			got <- seen{ctx.Value(ctxKey{}), dl, x}
			return convo.Reply{}, nil
		}
	})
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "from middleware")))
	})
	require.Equal(t, http.StatusOK, post(t, mw, form(reyNum, twilNum, "hi", "SM1"), token).Code)
	s := <-got
	assert.Equal(t, "from middleware", s.value)
	assert.True(t, s.hasDeadline, "the reply context has no deadline")
	assert.False(t, s.exchange, "the reply context carries the stores' exchange")
}

// A reply function that never returns, ignoring its context, costs its
// goroutine and nothing else: Twilio gets the Fallback in time, ServeHTTP
// returns, the connection is reused, the pair's next message is answered,
// and nothing the abandoned turn changes is saved.
func TestSlowReplyLeaksNoConnection(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFixture(t, func(c *convo.Config) {
		seed := c.Reply
		c.ReplyTimeout = 50 * time.Millisecond
		c.Fallback = convo.Text("One moment, please text again.")
		c.PublicURL = hookURL
		c.Reply = func(ctx context.Context, cv *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "slow" {
				<-release // ignores ctx, as a badly written reply function would
				cv.Count = 1000
				return convo.Text("too late"), nil
			}
			return seed(ctx, cv, m)
		}
	})
	var active atomic.Int64
	srv := httptest.NewUnstartedServer(f.h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateActive:
			active.Add(1)
		case http.StateIdle, http.StateHijacked, http.StateClosed:
			active.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	tw, err := convotest.NewTwilioURL(srv.URL+"/sms", convotest.TwilioOptions{AuthToken: token, URL: hookURL, Now: f.clock.Now})
	require.NoError(t, err)
	phone := tw.Phone(reyNum, twilNum)
	ctx := context.Background()
	fds := openFiles()
	for range 50 {
		r, err := phone.Send(ctx, "slow")
		require.NoError(t, err)
		require.Equal(t, []string{"One moment, please text again."}, r.Texts())
		assert.NotEqual(t, "close", r.Header.Get("Connection"), "the connection was given up")
	}
	assert.Eventually(t, func() bool { return active.Load() <= 0 }, 5*time.Second, time.Millisecond,
		"connections stay active while abandoned reply functions run")
	if fds > 0 {
		assert.Less(t, openFiles()-fds, 10, "abandoned reply functions hold open files")
	}
	r, err := phone.Send(ctx, "fast")
	require.NoError(t, err)
	assert.Equal(t, counted(1), r.Texts(), "an abandoned turn changed state")
	assert.Contains(t, f.logs.String(), "fallback")
}

// openFiles returns how many files this process has open, or 0 where that
// cannot be told.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}

// No goroutine outlives the Handler's requests and the store's Close.
func TestNoGoroutineLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		f := newFixture(t, nil)
		_, err := f.rey.Burst(context.Background(), 20, nil)
		require.NoError(t, err)
		require.NoError(t, f.store.Close())
	}()
	deadline := time.Now().Add(5 * time.Second) // not assert.Eventually, which runs a goroutine of its own
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
	assert.Equal(t, counted(1), messages(t, rec.Body.Bytes()))
}

// Concurrent webhooks of many pairs on one Handler, under the race detector.
func TestManyPairsAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	for _, p := range f.tw.Phones(20, twilNum) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies, err := p.Burst(context.Background(), 5, nil)
			assert.NoError(t, err)
			assert.Len(t, replies, 5)
		}()
	}
	wg.Wait()
	assert.Equal(t, 20, f.store.Len())
}

// The example store passes the conformance suite.
func TestExampleStoreConforms(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T) convo.Store { return &mapStore{m: map[convo.Key]mapRecord{}} })
}

func TestConversationAndUpdate(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = convo.WithState(func(_ context.Context, cv *convo.Conversation, m *convo.Message, s *[]string) (convo.Reply, error) {
			return convo.Textf("%d %v", cv.Count, *s), nil
		})
	})
	ctx := context.Background()
	c, err := f.h.Conversation(ctx, rey)
	require.NoError(t, err)
	assert.Zero(t, c.Count, "a missing conversation is fresh")

	// An update of a conversation that does not exist yet makes it.
	require.NoError(t, f.h.Update(ctx, rey, func(c *convo.Conversation) error {
		c.History = append(c.History, convo.Turn{At: f.clock.Now(), Out: "Reminder: your table at 8"})
		return convo.SetState(c, []string{"reminded"})
	}))
	assert.Equal(t, []string{"1 [reminded]"}, f.text(t, "hi"), "the next message sees what Update saved")
	c, err = f.h.Conversation(ctx, rey)
	require.NoError(t, err)
	assert.Equal(t, 1, c.Count)
	assert.Equal(t, "Reminder: your table at 8", c.History[0].Out)

	boom := errors.New("boom")
	assert.ErrorIs(t, f.h.Update(ctx, rey, func(c *convo.Conversation) error {
		c.Count = 99
		return boom
	}), boom)
	assert.Equal(t, []string{"2 [reminded]"}, f.text(t, "again"), "a failed update saved")

	f.clock.Advance(5 * time.Hour)
	c, err = f.h.Conversation(ctx, rey)
	require.NoError(t, err)
	assert.Zero(t, c.Count, "an expired conversation is fresh")
}

// Updates from another server and a burst of messages on this one: none lost.
func TestUpdateDuringBurst(t *testing.T) {
	f := newFixture(t, func(c *convo.Config) {
		c.Reply = convo.WithState(func(_ context.Context, _ *convo.Conversation, _ *convo.Message, n *int) (convo.Reply, error) {
			*n++
			return convo.Reply{}, nil
		})
	})
	other, err := convo.NewHandler(convo.Config{Store: f.store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true, Now: f.clock.Now})
	require.NoError(t, err)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := f.rey.Burst(ctx, 30, nil)
		assert.NoError(t, err)
	}()
	for range 30 {
		require.NoError(t, other.Update(ctx, rey, func(c *convo.Conversation) error {
			n, err := convo.StateOf[int](c)
			if err != nil {
				return err
			}
			return convo.SetState(c, n+1000)
		}))
	}
	wg.Wait()
	n, err := convo.StateOf[int](f.stored(t, rey))
	require.NoError(t, err)
	assert.Equal(t, 30*1000+30, n, "an update or a message was lost")
	assert.Equal(t, 30, f.stored(t, rey).Count)
}
