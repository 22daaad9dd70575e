package cookiestore_test

import (
	"context"
	"encoding/base64"

	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	rey  = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn = convo.Key{From: "+12349013030", To: "+15005550006"}
)

// exchange returns a context carrying a request with the given Cookie
// header lines, as the Handler gives it to a store, and the answer's header.
func exchange(cookies ...string) (context.Context, http.Header) {
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/sms", nil)
	for _, c := range cookies {
		req.Header.Add("Cookie", c)
	}
	answer := make(http.Header)
	return convo.WithExchange(context.Background(), &convo.Exchange{Request: req, Header: answer}), answer
}

// save saves data for key at version next after prev in a request carrying
// cookies, and returns the "name=value" of the cookie set.
func save(t *testing.T, s *cookiestore.Store, key convo.Key, data string, prev, next uint64, cookies ...string) string {
	t.Helper()
	ctx, answer := exchange(cookies...)
	require.NoError(t, s.Save(ctx, key, []byte(data), time.Hour, prev, next))
	lines := answer["Set-Cookie"]
	require.Len(t, lines, 1)
	pair, _, _ := strings.Cut(lines[0], ";")
	return pair
}

func load(t *testing.T, s *cookiestore.Store, key convo.Key, cookies ...string) (string, uint64) {
	t.Helper()
	ctx, _ := exchange(cookies...)
	data, v, err := s.Load(ctx, key)
	require.NoError(t, err)
	return string(data), v
}

func TestRefusedCookiesLoadNothing(t *testing.T) {
	logs, logger := convotest.NewLogs()
	keys := []cookiestore.KeyPair{testKeys(t)}
	s := newStore(t, cookiestore.Options{Keys: keys, Logger: logger})
	good := save(t, s, rey, `{"v":2}`, 0, 7)
	name, value, _ := strings.Cut(good, "=")
	retired := save(t, newStore(t, cookiestore.Options{}), rey, `{"v":2}`, 0, 7)
	tests := map[string]string{
		"tampered":     name + "=" + value[:30] + flip(value[30]) + value[31:],
		"truncated":    name + "=" + value[:len(value)/2],
		"not base64":   name + "=!!!",
		"empty":        name + "=",
		"retired key":  retired,
		"too long":     name + "=" + strings.Repeat("A", 5000),
		"another name": "other=" + value,
	}
	for what, cookie := range tests {
		data, v := load(t, s, rey, cookie)
		assert.Empty(t, data, what)
		assert.Zero(t, v, what)
	}
	data, v := load(t, s, finn, good)
	assert.Empty(t, data, "another pair's cookie must not load")
	assert.Zero(t, v)
	data, v = load(t, s, rey, "other=1; "+good)
	assert.Equal(t, `{"v":2}`, data, "a good cookie among others")
	assert.Equal(t, uint64(7), v)

	assert.Contains(t, logs.String(), "cookie refused")
	assert.NotContains(t, logs.String(), "4158675308", "a phone number reached the log")
	assert.NotContains(t, logs.String(), value[:20], "a cookie reached the log")
}

func TestKeyRotation(t *testing.T) {
	old, next := testKeys(t), testKeys(t)
	before := newStore(t, cookiestore.Options{Keys: []cookiestore.KeyPair{old}})
	during := newStore(t, cookiestore.Options{Keys: []cookiestore.KeyPair{next, old}})
	after := newStore(t, cookiestore.Options{Keys: []cookiestore.KeyPair{next}})

	c := save(t, before, rey, "a", 0, 1)
	data, _ := load(t, during, rey, c)
	assert.Equal(t, "a", data, "a cookie of the old key reads during the rotation")
	c = save(t, during, rey, "b", 1, 2, c)
	data, _ = load(t, after, rey, c)
	assert.Equal(t, "b", data, "the new key writes during the rotation")
	data, _ = load(t, before, rey, c)
	assert.Empty(t, data)
}

func TestCookieAttributes(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		s := newStore(t, cookiestore.Options{CookieName: "c", Path: "/hooks", Insecure: insecure})
		ctx, answer := exchange()
		require.NoError(t, s.Save(ctx, rey, []byte("x"), 90*time.Minute+time.Millisecond, 0, 1))
		line := answer.Get("Set-Cookie")
		assert.True(t, strings.HasPrefix(line, "c="))
		assert.Contains(t, line, "; Max-Age=5401", "Max-Age is the time to live, rounded up")
		assert.Contains(t, line, "; Path=/hooks")
		assert.Contains(t, line, "; HttpOnly")
		assert.Equal(t, !insecure, strings.Contains(line, "; Secure"))

		require.NoError(t, s.Save(ctx, rey, []byte("x"), 10*time.Hour, 0, 1))
		assert.Contains(t, answer.Get("Set-Cookie"), "; Max-Age=14400", "Twilio keeps a cookie four hours at most")
	}
}

func TestOneSetCookieOfItsName(t *testing.T) {
	s := newStore(t, cookiestore.Options{})
	ctx, answer := exchange()
	answer.Add("Set-Cookie", "session=abc")
	require.NoError(t, s.Save(ctx, rey, []byte("a"), time.Hour, 0, 1))
	require.NoError(t, s.Save(ctx, rey, []byte("b"), time.Hour, 0, 2))
	require.NoError(t, s.Delete(ctx, rey))
	lines := answer["Set-Cookie"]
	require.Len(t, lines, 2, "%q", lines)
	assert.Equal(t, "session=abc", lines[0], "another cookie was dropped")
	assert.True(t, strings.HasPrefix(lines[1], "convo=; Max-Age=0"), "Delete expires the cookie: %s", lines[1])
}

func TestSaveChecksTheRequestsVersion(t *testing.T) {
	s := newStore(t, cookiestore.Options{})
	c := save(t, s, rey, "a", 0, 5)
	ctx, answer := exchange(c)
	for _, prev := range []uint64{0, 4, 6} {
		assert.ErrorIs(t, s.Save(ctx, rey, []byte("b"), time.Hour, prev, 9), convo.ErrConflict)
	}
	assert.Empty(t, answer["Set-Cookie"], "a conflicting save set a cookie")
	save(t, s, rey, "b", 5, 9, c)
}

func TestNoExchange(t *testing.T) {
	s := newStore(t, cookiestore.Options{})
	ctx := context.Background()
	_, _, err := s.Load(ctx, rey)
	assert.ErrorIs(t, err, convo.ErrNoExchange)
	assert.ErrorIs(t, s.Save(ctx, rey, []byte("a"), time.Hour, 0, 1), convo.ErrNoExchange)
	assert.ErrorIs(t, s.Delete(ctx, rey), convo.ErrNoExchange)
}

func TestSizeLimits(t *testing.T) {
	s := newStore(t, cookiestore.Options{})
	compressible := `{"v":2,"state":"` + strings.Repeat("convo ", 2000) + `"}`
	c := save(t, s, rey, compressible, 0, 1)
	assert.LessOrEqual(t, len("Set-Cookie: ")+len(c), cookiestore.MaxLine)
	data, _ := load(t, s, rey, c)
	assert.Equal(t, compressible, data, "a compressed record round-trips")

	incompressible := randomText(t, 6000)
	ctx, answer := exchange(c)
	err := s.Save(ctx, rey, []byte(incompressible), time.Hour, 1, 2)
	var tl *cookiestore.TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.ErrorIs(t, err, convo.ErrTooLarge)
	assert.Greater(t, tl.Size, cookiestore.MaxLine)
	assert.NotContains(t, err.Error(), "4158675308")
	assert.Empty(t, answer["Set-Cookie"], "a record too large set a cookie")
}

// randomText returns n random base64 characters, which hardly compress.
func randomText(t testing.TB, n int) string {
	var b strings.Builder
	for b.Len() < n {
		k := testKeys(t) // random bytes
		b.WriteString(base64.StdEncoding.EncodeToString(append(k.Hash, k.Block...)))
	}
	return b.String()[:n]
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string]cookiestore.Options{
		"no keys":    {},
		"short key":  {Keys: []cookiestore.KeyPair{{Hash: []byte("short"), Block: make([]byte, 32)}}},
		"bad name":   {Keys: []cookiestore.KeyPair{testKeys(t)}, CookieName: "a b"},
		"bad path":   {Keys: []cookiestore.KeyPair{testKeys(t)}, Path: "/a;b"},
		"path ctrls": {Keys: []cookiestore.KeyPair{testKeys(t)}, Path: "/a\n"},
	} {
		_, err := cookiestore.New(opts)
		assert.Error(t, err, name)
	}
}

// FuzzLoadCookie: whatever Cookie header a request carries, Load neither
// panics nor fails, and loads nothing unless the cookie is one the store
// signed for the pair. (Fuzzing workers are processes of their own, each
// signing the seed anew with a random IV: what identifies the store's
// cookie is that it loads the record saved, not its bytes.)
func FuzzLoadCookie(f *testing.F) {
	s, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{{Hash: make([]byte, 32), Block: make([]byte, 32)}}})
	if err != nil {
		f.Fatal(err)
	}
	ctx, answer := exchange()
	if err := s.Save(ctx, rey, []byte(`{"v":2}`), time.Hour, 0, 1); err != nil {
		f.Fatal(err)
	}
	good, _, _ := strings.Cut(answer.Get("Set-Cookie"), ";")
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("convo=" + strings.Repeat("A", 300))
	f.Add(`convo="quoted"; other=1`)
	f.Fuzz(func(t *testing.T, header string) {
		ctx, _ := exchange(header)
		data, v, err := s.Load(ctx, rey)
		require.NoError(t, err)
		if data != nil {
			require.Equal(t, `{"v":2}`, string(data), "a cookie the store did not sign loaded")
			require.Equal(t, uint64(1), v)
		}
	})
}

// Through a Handler: the counter counts, a retry gets its answer byte for
// byte, the Handler keeps one retry record, refused cookies start afresh,
// and what a cookie cannot do is what the package doc says.
func TestHandler(t *testing.T) {
	clock := convotest.NewClock(time.Time{})
	h, err := convo.NewHandler(convo.Config{Store: newStore(t, cookiestore.Options{}), Reply: convo.Greeter(convo.SeedNames()),
		InsecureSkipSignatureCheck: true, Now: clock.Now})
	require.NoError(t, err)
	tw := convotest.NewTwilio(h, convotest.TwilioOptions{Now: clock.Now})
	phone := tw.Phone(rey.From, rey.To)
	ctx := context.Background()
	send := func(body string) *convotest.Reply {
		t.Helper()
		r, err := phone.Send(ctx, body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.Status)
		require.Len(t, r.Header["Set-Cookie"], 1, "exactly one Set-Cookie")
		return r
	}
	for i := 1; i <= 3; i++ {
		assert.Equal(t, "Rey has messaged +15005550006 "+strconv.Itoa(i)+" times", send("hi").String())
	}
	first := send("hi")
	again, err := phone.Retry(ctx)
	require.NoError(t, err)
	assert.Equal(t, string(first.Body), string(again.Body), "a retry with the answered cookie")
	line := first.Header.Get("Set-Cookie")
	assert.Less(t, len(line), 2000, "the counter's cookie: %d bytes", len(line))

	clock.Advance(4 * time.Hour)
	assert.Equal(t, "Rey has messaged +15005550006 1 times", send("hi").String(), "four idle hours end it")

	// Messages of one pair that arrive together carry the same cookie, and
	// the answer Twilio stores last wins: one update is lost (see the
	// package doc). Here the second message carries the first's cookie.
	before := send("hi")
	assert.Equal(t, "Rey has messaged +15005550006 3 times", send("hi").String())
	tw.Jar().Update(rey, before.Header)
	assert.Equal(t, "Rey has messaged +15005550006 3 times", send("hi").String())
}

func TestHandlerTrimsHistoryToFit(t *testing.T) {
	h, err := convo.NewHandler(convo.Config{Store: newStore(t, cookiestore.Options{}), InsecureSkipSignatureCheck: true, HistorySize: 10,
		Reply: func(_ context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			return convo.Text(randomText(t, 300)), nil
		}})
	require.NoError(t, err)
	phone := convotest.NewTwilio(h, convotest.TwilioOptions{}).Phone(rey.From, rey.To)
	for range 12 {
		r, err := phone.Send(context.Background(), randomText(t, 200))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.LessOrEqual(t, len("Set-Cookie: ")+len(r.Header.Get("Set-Cookie")), cookiestore.MaxLine)
	}
}

func TestUpdateNeedsAWebhook(t *testing.T) {
	h, err := convo.NewHandler(convo.Config{Store: newStore(t, cookiestore.Options{}), Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true})
	require.NoError(t, err)
	_, err = h.Conversation(context.Background(), rey)
	assert.ErrorIs(t, err, convo.ErrNoExchange)
	assert.ErrorIs(t, h.Update(context.Background(), rey, func(*convo.Conversation) error { return nil }), convo.ErrNoExchange)
}
