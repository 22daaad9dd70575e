package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

var (
	rey  = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn = convo.Key{From: "+12349013030", To: "+15005550006"}
)

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a store with a hand-moved clock and a captured debug log.
type fixture struct {
	t     *testing.T
	store *cookiestore.Store
	clock *convotest.Clock
	log   *logBuffer
}

func newFixture(t *testing.T, opts cookiestore.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: convotest.NewClock(time.Time{}), log: &logBuffer{}}
	if opts.Keys == nil {
		opts.Keys = []cookiestore.KeyPair{testKeys(t)}
	}
	opts.Expiry.Now = f.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := cookiestore.New(opts)
	require.NoError(t, err)
	f.store = s
	return f
}

// exchange returns a context carrying a webhook exchange whose request
// sends the given Cookie header lines.
func exchange(cookies ...string) (context.Context, *convo.Exchange) {
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/sms", nil)
	for _, c := range cookies {
		req.Header.Add("Cookie", c)
	}
	x := &convo.Exchange{Request: req, Header: make(http.Header)}
	return convo.WithExchange(context.Background(), x), x
}

// cookieOf returns the "name=value" pair of the only Set-Cookie in h.
func cookieOf(t *testing.T, h http.Header) string {
	t.Helper()
	lines := h.Values("Set-Cookie")
	require.Len(t, lines, 1, "exactly one Set-Cookie")
	pair, _, _ := strings.Cut(lines[0], ";")
	return pair
}

// saved saves a conversation of key with count messages and returns the
// cookie the answer sets.
func (f *fixture) saved(key convo.Key, count int, cookies ...string) string {
	f.t.Helper()
	ctx, x := exchange(cookies...)
	c, err := f.store.Load(ctx, key)
	require.NoError(f.t, err)
	now := f.clock.Now()
	for range count {
		c.Count++
		if c.Started.IsZero() {
			c.Started = now
		}
		c.LastActive = now
		c.History = append(c.History, convo.Turn{At: now, In: "hi", Out: "hello"})
	}
	require.NoError(f.t, convo.SetState(c, map[string]string{"secret": "plans for the Death Star"}))
	require.NoError(f.t, f.store.Save(ctx, c))
	return cookieOf(f.t, x.Header)
}

func (f *fixture) load(key convo.Key, cookies ...string) *convo.Conversation {
	f.t.Helper()
	ctx, _ := exchange(cookies...)
	c, err := f.store.Load(ctx, key)
	require.NoError(f.t, err)
	require.NotNil(f.t, c)
	return c
}

func TestRefusedCookiesStartFresh(t *testing.T) {
	retired := testKeys(t)
	old := newFixture(t, cookiestore.Options{Keys: []cookiestore.KeyPair{retired}})
	oldCookie := old.saved(rey, 2)

	tests := []struct {
		name   string
		cookie func(f *fixture, good string) string
		reason string
	}{
		{"tampered", func(_ *fixture, good string) string {
			// Another base64 character in the middle: the value still
			// decodes, and fails its MAC.
			b := []byte(good)
			i := len(b) / 2
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}, "signature"},
		{"truncated", func(_ *fixture, good string) string { return good[:len(good)/2] }, "cookie"},
		{"empty", func(*fixture, string) string { return "convo=" }, "cookie"},
		{"garbage", func(*fixture, string) string { return "convo=!!not base64!!" }, "base64"},
		{"another pair's", func(f *fixture, _ string) string { return f.saved(finn, 5) }, "another pair"},
		{"retired key", func(*fixture, string) string { return oldCookie }, "retired key"},
		{"expired", func(f *fixture, good string) string {
			f.clock.Advance(convo.DefaultIdle + time.Second)
			return good
		}, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, cookiestore.Options{})
			good := f.saved(rey, 3)
			require.Equal(t, 3, f.load(rey, good).Count, "the untouched cookie loads")
			bad := tt.cookie(f, good)

			ctx, x := exchange(bad)
			c, err := f.store.Load(ctx, rey)
			require.NoError(t, err, "a refused cookie is no error")
			assert.Zero(t, c.Version)
			assert.Zero(t, c.Count)
			assert.Empty(t, c.State)
			assert.Empty(t, x.Header.Values("Set-Cookie"), "Load sets no cookie")

			// The fresh conversation saves over the refused cookie.
			c.Count = 1
			c.LastActive = f.clock.Now()
			require.NoError(t, f.store.Save(ctx, c))
			assert.Equal(t, 1, f.load(rey, cookieOf(t, x.Header)).Count)

			if bad != "convo=" {
				logged := f.log.String()
				assert.Contains(t, logged, "level=DEBUG")
				assert.Contains(t, logged, "cookie refused")
				assert.Contains(t, logged, tt.reason)
				assert.NotContains(t, logged, "4158675308", "a full phone number was logged")
				_, value, _ := strings.Cut(bad, "=")
				if len(value) > 8 {
					assert.NotContains(t, logged, value, "the cookie was logged")
				}
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	k1, k2 := testKeys(t), testKeys(t)
	a := newFixture(t, cookiestore.Options{Keys: []cookiestore.KeyPair{k1}})
	written1 := a.saved(rey, 2)

	// Roll out k2 first, keeping k1 to read the cookies already out there.
	b := newFixture(t, cookiestore.Options{Keys: []cookiestore.KeyPair{k2, k1}})
	c := b.load(rey, written1)
	require.Equal(t, 2, c.Count, "a cookie of the older pair still reads")
	written2 := b.saved(rey, 1, written1)
	assert.Equal(t, 3, b.load(rey, written2).Count)

	// Retire k1: cookies written since the rollout still read.
	only2 := newFixture(t, cookiestore.Options{Keys: []cookiestore.KeyPair{k2}})
	assert.Equal(t, 3, only2.load(rey, written2).Count, "the rollout did not write with the new pair")
	assert.Zero(t, only2.load(rey, written1).Count, "a retired pair's cookie must not read")
	assert.Zero(t, a.load(rey, written2).Count, "a store without the new pair read its cookie")
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name   string
		opts   cookiestore.Options
		maxAge int
		want   []string
		absent []string
	}{
		{"defaults", cookiestore.Options{}, 14400, []string{"Path=/", "HttpOnly", "Secure"}, nil},
		{"short idle", cookiestore.Options{Expiry: convo.Expiry{Idle: 10 * time.Minute}}, 600, nil, nil},
		{"idle beyond Twilio's four hours", cookiestore.Options{Expiry: convo.Expiry{Idle: 24 * time.Hour}}, 14400, nil, nil},
		{"lifetime sooner than idle", cookiestore.Options{Expiry: convo.Expiry{Lifetime: 90 * time.Second}}, 90, nil, nil},
		{"insecure", cookiestore.Options{Insecure: true}, 14400, []string{"HttpOnly"}, []string{"Secure"}},
		{"name and path", cookiestore.Options{CookieName: "chat", Path: "/sms"}, 14400, []string{"chat=", "Path=/sms"}, []string{"convo="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			ctx, x := exchange()
			c, err := f.store.Load(ctx, rey)
			require.NoError(t, err)
			c.Count, c.Started, c.LastActive = 1, f.clock.Now(), f.clock.Now()
			require.NoError(t, f.store.Save(ctx, c))
			lines := x.Header.Values("Set-Cookie")
			require.Len(t, lines, 1)
			resp := &http.Response{Header: x.Header}
			ck := resp.Cookies()[0]
			assert.Equal(t, tt.maxAge, ck.MaxAge, lines[0])
			assert.True(t, ck.HttpOnly)
			assert.Equal(t, !tt.opts.Insecure, ck.Secure)
			for _, w := range tt.want {
				assert.Contains(t, lines[0], w)
			}
			for _, a := range tt.absent {
				assert.NotContains(t, lines[0], a)
			}
			assert.NotContains(t, lines[0], "4158675308", "the cookie shows the phone number")
		})
	}
}

func TestMaxAgeRefreshedOnSave(t *testing.T) {
	f := newFixture(t, cookiestore.Options{Expiry: convo.Expiry{Idle: time.Hour}})
	jar := convotest.NewCookieJar(f.clock.Now)
	for range 5 {
		ctx, x := exchange()
		jar.AddCookies(rey, x.Request)
		c, err := f.store.Load(ctx, rey)
		require.NoError(t, err)
		c.Count++
		c.LastActive = f.clock.Now()
		require.NoError(t, f.store.Save(ctx, c))
		jar.Update(rey, x.Header)
		at, ok := jar.ExpiresAt(rey, cookiestore.DefaultCookieName)
		require.True(t, ok)
		assert.Equal(t, f.clock.Now().Add(time.Hour), at, "Max-Age not refreshed")
		f.clock.Advance(50 * time.Minute)
	}
	assert.Equal(t, 5, f.load(rey, jar.Cookies(rey)[0].String()).Count)
}

func TestExactlyOneSetCookie(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	x.Header.Add("Set-Cookie", "theme=dark; Path=/")
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	c.Count = 1
	require.NoError(t, f.store.Save(ctx, c))
	// A second save in the same answer (a conflict retry) replaces the first.
	c2, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	c2.Count = 7
	require.NoError(t, f.store.Save(ctx, c2))
	require.NoError(t, f.store.Delete(ctx, finn)) // and so does a delete
	c3 := &convo.Conversation{Key: rey, Count: 9}
	require.NoError(t, f.store.Save(ctx, c3))

	var ours []string
	for _, l := range x.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "convo=") {
			ours = append(ours, l)
		}
	}
	require.Len(t, ours, 1, "one Set-Cookie of the store's cookie")
	assert.Contains(t, x.Header.Values("Set-Cookie"), "theme=dark; Path=/", "another cookie was dropped")
	pair, _, _ := strings.Cut(ours[0], ";")
	assert.Equal(t, 9, f.load(rey, pair).Count)
}

func TestSaveChecksTheRequestsVersion(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	cookie := f.saved(rey, 1)
	loaded := f.load(rey, cookie)
	require.NotZero(t, loaded.Version)

	// Saved with a request carrying another cookie (here: none).
	ctx, x := exchange()
	loaded.Count++
	err := f.store.Save(ctx, loaded)
	require.ErrorIs(t, err, convo.ErrConflict)
	assert.Empty(t, x.Header.Values("Set-Cookie"), "a conflicting save wrote")

	// A new conversation saved where the request holds one conflicts too.
	ctx, x = exchange(cookie)
	require.ErrorIs(t, f.store.Save(ctx, convo.NewConversation(rey)), convo.ErrConflict)
	assert.Empty(t, x.Header.Values("Set-Cookie"))

	// The right request saves, and gives a new version.
	v := loaded.Version
	ctx, _ = exchange(cookie)
	require.NoError(t, f.store.Save(ctx, loaded))
	assert.NotEqual(t, v, loaded.Version)
	assert.NotZero(t, loaded.Version)
}

func TestNoExchange(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx := context.Background()
	_, err := f.store.Load(ctx, rey)
	assert.ErrorIs(t, err, convo.ErrNoExchange)
	assert.ErrorIs(t, f.store.Save(ctx, convo.NewConversation(rey)), convo.ErrNoExchange)
	assert.ErrorIs(t, f.store.Delete(ctx, rey), convo.ErrNoExchange)
	assert.NotContains(t, f.store.Delete(ctx, rey).Error(), "4158675308")
}

func TestDeleteExpiresTheCookie(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange(f.saved(rey, 1))
	require.NoError(t, f.store.Delete(ctx, rey))
	ck := (&http.Response{Header: x.Header}).Cookies()
	require.Len(t, ck, 1)
	assert.Equal(t, -1, ck[0].MaxAge, "Max-Age=0 expires the cookie")
	assert.Empty(t, ck[0].Value)
}

func TestEnded(t *testing.T) {
	bye := convo.Text("bye").TwiML()
	t.Run("keeps the retry records for EndedRetention", func(t *testing.T) {
		f := newFixture(t, cookiestore.Options{})
		cookie := f.saved(rey, 3)
		c := f.load(rey, cookie)
		ended := &convo.Conversation{Key: rey, Version: c.Version, Ended: true, Handled: []convo.Handled{{ID: "SMend", Reply: bye}}}
		ctx, x := exchange(cookie)
		require.NoError(t, f.store.Save(ctx, ended))
		ck := (&http.Response{Header: x.Header}).Cookies()
		require.Len(t, ck, 1)
		assert.Equal(t, int(cookiestore.DefaultEndedRetention/time.Second), ck[0].MaxAge)
		got := f.load(rey, cookieOf(t, x.Header))
		assert.Zero(t, got.Count)
		assert.Empty(t, got.State)
		out, ok := got.Replayed("SMend")
		require.True(t, ok)
		assert.Equal(t, string(bye), string(out))
		f.clock.Advance(cookiestore.DefaultEndedRetention)
		_, ok = f.load(rey, cookieOf(t, x.Header)).Replayed("SMend")
		assert.False(t, ok, "the retry records outlived EndedRetention")
	})
	for name, tc := range map[string]struct {
		retention time.Duration
		handled   []convo.Handled
	}{
		"negative retention expires at once": {-1, []convo.Handled{{ID: "SMend", Reply: bye}}},
		"no retry records expires at once":   {0, nil},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, cookiestore.Options{EndedRetention: tc.retention})
			cookie := f.saved(rey, 3)
			c := f.load(rey, cookie)
			ctx, x := exchange(cookie)
			ended := &convo.Conversation{Key: rey, Version: c.Version, Ended: true, Handled: tc.handled}
			require.NoError(t, f.store.Save(ctx, ended))
			ck := (&http.Response{Header: x.Header}).Cookies()
			require.Len(t, ck, 1)
			assert.Equal(t, -1, ck[0].MaxAge)
			assert.NotZero(t, ended.Version)
		})
	}
}

func randomText(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawStdEncoding.EncodeToString(b)[:n] // incompressible, as far as DEFLATE goes
}

func TestTooLarge(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	cookie := f.saved(rey, 1)
	c := f.load(rey, cookie)
	c.History = append(c.History, convo.Turn{At: f.clock.Now(), In: "x", Out: "y"})
	require.NoError(t, convo.SetState(c, randomText(t, 3000)))
	before := c.Clone()

	ctx, x := exchange(cookie)
	err := f.store.Save(ctx, c)
	require.ErrorIs(t, err, convo.ErrTooLarge)
	var tl *cookiestore.TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, rey, tl.Key)
	assert.Equal(t, cookiestore.MaxLine, tl.Limit)
	assert.Greater(t, tl.Size, cookiestore.MaxLine)
	assert.Equal(t, len(c.State), tl.State)
	assert.Contains(t, err.Error(), "4096")
	assert.NotContains(t, err.Error(), "4158675308")
	assert.Empty(t, x.Header.Values("Set-Cookie"), "a failed save wrote")
	assert.Equal(t, before, c, "a failed save changed the conversation")
}

func TestTrimsHistoryOldestFirst(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	for i := range 12 {
		c.Count++
		c.LastActive = f.clock.Now()
		c.History = append(c.History, convo.Turn{At: f.clock.Now(), In: randomText(t, 300), Out: string(rune('a' + i))})
	}
	newest := c.History[len(c.History)-1]
	require.NoError(t, f.store.Save(ctx, c))
	line := x.Header.Get("Set-Cookie")
	assert.LessOrEqual(t, len("Set-Cookie: ")+len(line), cookiestore.MaxLine)
	assert.Less(t, len(c.History), 12, "Save did not trim c's history")
	assert.Greater(t, len(c.History), 3, "Save dropped more than it had to")
	assert.Contains(t, f.log.String(), "dropped the oldest history turns")

	got := f.load(rey, cookieOf(t, x.Header))
	require.Equal(t, len(c.History), len(got.History))
	assert.Equal(t, newest.In, got.History[len(got.History)-1].In, "the newest turn was dropped")
	assert.Equal(t, c.History[0].Out, got.History[0].Out)
	assert.Equal(t, 12, got.Count)
}

func TestCompressesWhenNeeded(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	state := strings.Repeat("Rey has messaged +15005550006. ", 300) // 9 KB, repetitive
	require.NoError(t, convo.SetState(c, state))
	c.Count = 1
	require.NoError(t, f.store.Save(ctx, c))
	assert.LessOrEqual(t, len("Set-Cookie: ")+len(x.Header.Get("Set-Cookie")), cookiestore.MaxLine)
	got, err := convo.StateOf[string](f.load(rey, cookieOf(t, x.Header)))
	require.NoError(t, err)
	assert.Equal(t, state, got)
}

func TestCancelledContextWritesNothing(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	err := f.store.Save(ctx, convo.NewConversation(rey))
	assert.True(t, errors.Is(err, context.Canceled))
	assert.Empty(t, x.Header.Values("Set-Cookie"))
}

func TestNewRejectsBadOptions(t *testing.T) {
	good := testKeys(t)
	for name, opts := range map[string]cookiestore.Options{
		"no keys":         {},
		"short hash key":  {Keys: []cookiestore.KeyPair{{Hash: good.Hash[:16], Block: good.Block}}},
		"no block key":    {Keys: []cookiestore.KeyPair{{Hash: good.Hash}}},
		"AES-128 block":   {Keys: []cookiestore.KeyPair{{Hash: good.Hash, Block: good.Block[:16]}}},
		"bad second pair": {Keys: []cookiestore.KeyPair{good, {Hash: good.Hash}}},
		"bad name":        {Keys: []cookiestore.KeyPair{good}, CookieName: "a b"},
		"bad path":        {Keys: []cookiestore.KeyPair{good}, Path: "/a;b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cookiestore.New(opts)
			assert.Error(t, err)
		})
	}
}

// FuzzLoadCookie sends arbitrary Cookie headers: Load must never fail nor
// read a conversation out of a cookie this store did not sign.
func FuzzLoadCookie(f *testing.F) {
	s, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{testKeys(f)}})
	require.NoError(f, err)
	ctx, x := exchange()
	c := convo.NewConversation(rey)
	c.Count = 3
	require.NoError(f, s.Save(ctx, c))
	good := strings.SplitN(x.Header.Get("Set-Cookie"), ";", 2)[0]
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add("convo=" + strings.Repeat("A", 5000))
	f.Add("convo=\"abc\"; convo=; other=1")
	f.Fuzz(func(t *testing.T, cookie string) {
		ctx, _ := exchange(cookie)
		c, err := s.Load(ctx, rey)
		require.NoError(t, err)
		require.NotNil(t, c)
		if cookie != good && !strings.Contains(cookie, good[len("convo="):]) {
			assert.Zero(t, c.Count, "a cookie the store did not sign was read")
		}
	})
}

// A record that compresses into the cookie but would inflate beyond what
// Load accepts is refused by Save, not silently lost on the next Load.
func TestTooLargeEvenIfCompressible(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	require.NoError(t, convo.SetState(c, strings.Repeat("a", 100<<10)))
	err = f.store.Save(ctx, c)
	require.ErrorIs(t, err, convo.ErrTooLarge)
	assert.Empty(t, x.Header.Values("Set-Cookie"))

	require.NoError(t, convo.SetState(c, strings.Repeat("a", 60<<10)))
	require.NoError(t, f.store.Save(ctx, c), "64 KiB of state compresses into the cookie")
	got, err := convo.StateOf[string](f.load(rey, cookieOf(t, x.Header)))
	require.NoError(t, err)
	assert.Len(t, got, 60<<10)
}

// Turns that repeat each other cost little in the cookie, but what they
// decode to is bounded too: Save keeps the newest turns within 64 KiB.
func TestRepetitiveHistoryBounded(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	ctx, x := exchange()
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err)
	long := strings.Repeat("so long ", 200) // 1600 bytes, as Twilio's longest Body
	for i := range 60 {
		c.History = append(c.History, convo.Turn{At: f.clock.Now(), In: long, Out: fmt.Sprint(long, i)})
	}
	c.Count = 60
	require.NoError(t, f.store.Save(ctx, c))
	assert.Less(t, len(c.History), 60)
	assert.Greater(t, len(c.History), 15)
	got := f.load(rey, cookieOf(t, x.Header))
	require.Len(t, got.History, len(c.History), "Save kept turns Load refuses")
	assert.Equal(t, fmt.Sprint(long, 59), got.History[len(got.History)-1].Out)
}

// Whatever an ended conversation still holds, only its retry records
// outlive it.
func TestEndedKeepsOnlyRetryRecords(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	cookie := f.saved(rey, 3)
	c := f.load(rey, cookie)
	c.End()
	c.Handled = []convo.Handled{{ID: "SMend", Reply: convo.Text("bye").TwiML()}}
	ctx, x := exchange(cookie)
	require.NoError(t, f.store.Save(ctx, c))
	for range 2 { // the saving store's copy, then decoded from the cookie
		got := f.load(rey, cookieOf(t, x.Header))
		assert.Zero(t, got.Count)
		assert.Empty(t, got.State)
		assert.Empty(t, got.History)
		assert.False(t, got.Ended, "loads as the fresh conversation after the ended one")
		_, ok := got.Replayed("SMend")
		assert.True(t, ok)
	}

	// Retry records too large for the cookie go with the conversation.
	c = f.load(rey, cookie)
	c.End()
	c.Handled = []convo.Handled{{ID: "SMend", Reply: []byte(randomText(t, 4000))}}
	ctx, x = exchange(cookie)
	require.NoError(t, f.store.Save(ctx, c))
	ck := (&http.Response{Header: x.Header}).Cookies()
	require.Len(t, ck, 1)
	assert.Equal(t, -1, ck[0].MaxAge)
}

func TestCookieAmongOthers(t *testing.T) {
	f := newFixture(t, cookiestore.Options{})
	good := f.saved(rey, 4)
	assert.Equal(t, 4, f.load(rey, "theme=dark; "+good+"; lang=en").Count)
	assert.Equal(t, 4, f.load(rey, "convo=bogus", good).Count, "a valid cookie after a bad one")
	assert.Equal(t, 4, f.load(rey, `convo="`+strings.TrimPrefix(good, "convo=")+`"`).Count, "a quoted value")
	many := strings.Repeat("convo=bogus; ", 10) + good
	assert.Zero(t, f.load(rey, many).Count, "checked more cookies than Twilio sends")
	ctx := convo.WithExchange(context.Background(), &convo.Exchange{Header: http.Header{}})
	c, err := f.store.Load(ctx, rey)
	require.NoError(t, err, "an exchange without a request")
	assert.Zero(t, c.Count)
}
