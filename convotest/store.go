// Package convotest helps test convo stores and conversations, as
// net/http/httptest and testing/fstest do for handlers and file systems.
//
// NewTwilio and NewTwilioURL fake Twilio's messaging webhooks for
// end-to-end tests of a conversation: phones that keep Twilio's cookies,
// sign their requests, retry, send bursts and live on a hand-moved Clock.
//
// TestStore checks any convo.Store against the whole Store contract, so a
// store written outside this module proves itself with one call:
//
//	func TestMyStore(t *testing.T) {
//		convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
//			return mystore.New(db, mystore.Options{Expiry: e})
//		})
//	}
package convotest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// NewStoreFunc returns a new, empty store for one subtest of TestStore,
// configured with e (whose Now is the subtest's hand-moved clock). The
// store's clean-up belongs in t.Cleanup. Stores sharing a server should
// give each call its own table, prefix or namespace, or clear it.
type NewStoreFunc func(t *testing.T, e convo.Expiry) convo.Store

// SuiteOption adjusts TestStore to a kind of store.
type SuiteOption func(*suiteConfig)

type suiteConfig struct {
	clientHeld bool
	stateSize  int
}

// ClientHeld tells TestStore that the store keeps each conversation on the
// client, in the webhook's cookie (as cookiestore does). Such a store cannot
// see a save made from another copy of the same cookie, so the checks for
// conflicting and concurrent saves are skipped; every other check runs, with
// a cookie jar that behaves as Twilio's carrying the cookie between calls.
func ClientHeld() SuiteOption { return func(c *suiteConfig) { c.clientHeld = true } }

// LargeState sets the size in bytes of the application state the large
// state check stores (default 64 KiB, or 1 KiB for client-held stores).
func LargeState(n int) SuiteOption { return func(c *suiteConfig) { c.stateSize = n } }

// TestStore runs the Store contract's checks, each a subtest with a fresh
// store from newStore: load of a missing key, a full round trip, versions
// and conflicts, delete, idle and absolute expiry under a hand-moved clock,
// 50 goroutines updating one key (all 50 counted), many keys, large state,
// cancelled contexts, retry records and ended conversations.
func TestStore(t *testing.T, newStore NewStoreFunc, opts ...SuiteOption) {
	cfg := suiteConfig{stateSize: 64 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clientHeld && cfg.stateSize == 64<<10 {
		cfg.stateSize = 1 << 10
	}
	run := func(name string, e convo.Expiry, test func(*testing.T, *harness), skipClientHeld bool) {
		t.Run(name, func(t *testing.T) {
			if skipClientHeld && cfg.clientHeld {
				t.Skip("client-held store: a cookie cannot see saves made from another copy of it")
			}
			clock := NewClock(time.Time{})
			e.Now = clock.Now
			h := &harness{t: t, clock: clock, jar: NewCookieJar(clock.Now), cfg: cfg}
			h.store = newStore(t, e)
			require.NotNil(t, h.store, "newStore returned nil")
			test(t, h)
		})
	}
	def := convo.Expiry{}
	run("LoadMissing", def, testLoadMissing, false)
	run("RoundTrip", def, testRoundTrip, false)
	run("Isolation", def, testIsolation, false)
	run("Versions", def, testVersions, false)
	run("Conflict", def, testConflict, true)
	run("Delete", def, testDelete, false)
	run("IdleExpiry", def, testIdleExpiry, false)
	run("ShortIdleExpiry", convo.Expiry{Idle: 10 * time.Minute}, testShortIdleExpiry, false)
	run("Lifetime", convo.Expiry{Idle: time.Hour, Lifetime: 3 * time.Hour}, testLifetime, false)
	run("ConcurrentUpdates", def, testConcurrent, true)
	run("ManyKeys", def, testManyKeys, false)
	run("LargeState", def, testLargeState, false)
	run("CancelledContext", def, testCancelled, false)
	run("RetryRecords", def, testRetryRecords, false)
	run("Ended", def, testEnded, false)
}

// harness carries one subtest's store, clock and Twilio-like cookie jar,
// and gives each call a context with an HTTP exchange as the Handler does.
type harness struct {
	t     *testing.T
	store convo.Store
	clock *Clock
	jar   *CookieJar
	cfg   suiteConfig
}

func (h *harness) exchange(key convo.Key) (context.Context, *convo.Exchange) {
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/sms", nil)
	h.jar.AddCookies(key, req)
	x := &convo.Exchange{Request: req, Header: make(http.Header)}
	return convo.WithExchange(context.Background(), x), x
}

func (h *harness) load(key convo.Key) *convo.Conversation {
	h.t.Helper()
	ctx, x := h.exchange(key)
	c, err := h.store.Load(ctx, key)
	require.NoError(h.t, err, "Load")
	require.NotNil(h.t, c, "Load returned no conversation")
	h.jar.Update(key, x.Header)
	return c
}

func (h *harness) trySave(c *convo.Conversation) error {
	ctx, x := h.exchange(c.Key)
	err := h.store.Save(ctx, c)
	if err == nil {
		h.jar.Update(c.Key, x.Header)
	}
	return err
}

func (h *harness) save(c *convo.Conversation) {
	h.t.Helper()
	require.NoError(h.t, h.trySave(c), "Save")
}

func (h *harness) delete(key convo.Key) {
	h.t.Helper()
	ctx, x := h.exchange(key)
	require.NoError(h.t, h.store.Delete(ctx, key), "Delete")
	h.jar.Update(key, x.Header)
}

// turn does what the Handler does for one message: count it, mark it
// active now and keep a short history.
func (h *harness) turn(c *convo.Conversation, in string) {
	now := h.clock.Now()
	c.Count++
	if c.Started.IsZero() {
		c.Started = now
	}
	c.LastActive = now
	c.History = append(c.History, convo.Turn{At: now, In: in, Out: "ok " + in})
}

var (
	rey   = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn  = convo.Key{From: "+12349013030", To: "+15005550006"}
	reyWA = convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"}
)

func testLoadMissing(t *testing.T, h *harness) {
	c := h.load(rey)
	assert.Equal(t, rey, c.Key)
	assert.Zero(t, c.Version, "a missing conversation has version 0")
	assert.Zero(t, c.Count)
	assert.True(t, c.Started.IsZero())
	assert.Empty(t, c.History)
	assert.Empty(t, c.State)
	assert.Empty(t, c.Handled)
	assert.False(t, c.Ended)
}

// sameTime asserts that want survived the store to the millisecond.
func sameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	assert.WithinDuration(t, want, got, time.Millisecond, what)
}

func testRoundTrip(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "hello")
	h.clock.Advance(time.Minute)
	h.turn(c, "again <b>&amp; ünïcødé 🎉\n")
	require.NoError(t, convo.SetState(c, map[string]any{"step": 2.0, "name": "Rey"}))
	c.Handled = []convo.Handled{{ID: "SM0001", Reply: convo.Text("hi").TwiML()}}
	h.save(c)

	got := h.load(rey)
	assert.Equal(t, rey, got.Key)
	assert.Equal(t, c.Version, got.Version, "Load returns the version Save set")
	assert.Equal(t, 2, got.Count)
	sameTime(t, c.Started, got.Started, "Started")
	sameTime(t, c.LastActive, got.LastActive, "LastActive")
	require.Len(t, got.History, 2)
	for i := range c.History {
		assert.Equal(t, c.History[i].In, got.History[i].In)
		assert.Equal(t, c.History[i].Out, got.History[i].Out)
		sameTime(t, c.History[i].At, got.History[i].At, "History.At")
	}
	state, err := convo.StateOf[map[string]any](got)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"step": 2.0, "name": "Rey"}, state)
	assert.Equal(t, c.Handled, got.Handled)
	assert.False(t, got.Ended)
}

func testIsolation(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)
	c.Count = 99 // after Save: must not reach the store
	c.History[0].In = "changed"

	got := h.load(rey)
	assert.Equal(t, 1, got.Count, "changing a saved conversation changed the store")
	assert.Equal(t, "one", got.History[0].In)
	got.Count = 42 // after Load, without Save
	assert.Equal(t, 1, h.load(rey).Count, "changing a loaded conversation changed the store")
}

func testVersions(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)
	v1 := c.Version
	assert.NotZero(t, v1, "Save sets a non-zero version")
	h.turn(c, "two")
	h.save(c)
	assert.NotEqual(t, v1, c.Version, "each Save gives a new version")
	assert.Equal(t, c.Version, h.load(rey).Version)
}

func testConflict(t *testing.T, h *harness) {
	a := h.load(rey)
	b := h.load(rey)
	h.turn(a, "a")
	h.save(a)
	h.turn(b, "b")
	err := h.trySave(b)
	require.ErrorIs(t, err, convo.ErrConflict, "a save from a stale load must conflict")
	assert.Equal(t, "a", h.load(rey).History[0].In, "a conflicting save wrote")

	// A conversation saved as new while one is stored conflicts too.
	fresh := convo.NewConversation(rey)
	h.turn(fresh, "fresh")
	require.ErrorIs(t, h.trySave(fresh), convo.ErrConflict)

	// A stale version conflicts after the record was deleted.
	cur := h.load(rey)
	h.delete(rey)
	h.turn(cur, "late")
	require.ErrorIs(t, h.trySave(cur), convo.ErrConflict, "saving over a deleted conversation must conflict")
	assert.Zero(t, h.load(rey).Count)

	// The reloaded conversation saves fine.
	again := h.load(rey)
	h.turn(again, "retry")
	h.save(again)
	assert.Equal(t, 1, h.load(rey).Count)
}

func testDelete(t *testing.T, h *harness) {
	h.delete(finn) // missing: no error
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)
	d := h.load(finn)
	h.turn(d, "finn")
	h.save(d)

	h.delete(rey)
	got := h.load(rey)
	assert.Zero(t, got.Version, "a deleted conversation loads fresh")
	assert.Zero(t, got.Count)
	assert.Equal(t, 1, h.load(finn).Count, "Delete removed another key")
	h.delete(rey) // again: no error
}

func testIdleExpiry(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)

	h.clock.Advance(convo.DefaultIdle - time.Minute)
	c = h.load(rey)
	require.Equal(t, 1, c.Count, "expired before the idle timeout")
	h.turn(c, "two") // activity restarts the idle window
	h.save(c)

	h.clock.Advance(convo.DefaultIdle - time.Minute)
	require.Equal(t, 2, h.load(rey).Count, "the idle window did not restart on save")

	h.clock.Advance(2 * time.Minute)
	stale := h.load(rey)
	assert.Zero(t, stale.Count, "still there after four idle hours")
	assert.Zero(t, stale.Version, "an expired conversation loads as new")
	h.turn(stale, "new")
	h.save(stale) // version 0 saves over an expired record
	assert.Equal(t, 1, h.load(rey).Count)
}

func testShortIdleExpiry(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)
	h.clock.Advance(9 * time.Minute)
	assert.Equal(t, 1, h.load(rey).Count)
	h.clock.Advance(2 * time.Minute)
	assert.Zero(t, h.load(rey).Count, "Expiry.Idle not honoured")
}

func testLifetime(t *testing.T, h *harness) {
	// Busy all along (a message every 30 minutes), yet over after 3 hours.
	for i := range 6 {
		c := h.load(rey)
		require.Equal(t, i, c.Count, "conversation ended before its lifetime")
		h.turn(c, fmt.Sprint(i))
		h.save(c)
		h.clock.Advance(30 * time.Minute)
	}
	assert.Zero(t, h.load(rey).Count, "Expiry.Lifetime not honoured")
}

func testConcurrent(t *testing.T, h *harness) {
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 10000; attempt++ {
				ctx, _ := h.exchange(rey)
				c, err := h.store.Load(ctx, rey)
				if err != nil {
					errs <- err
					return
				}
				c.Count++
				c.LastActive = h.clock.Now()
				c.History = append(c.History, convo.Turn{In: fmt.Sprint(i)})
				err = h.store.Save(ctx, c)
				if err == nil {
					return
				}
				if !errors.Is(err, convo.ErrConflict) {
					errs <- err
					return
				}
			}
			errs <- fmt.Errorf("worker %d never saved", i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := h.load(rey)
	assert.Equal(t, workers, got.Count, "concurrent updates were lost")
	assert.Len(t, got.History, workers)
}

func testManyKeys(t *testing.T, h *harness) {
	keys := []convo.Key{rey, finn, reyWA, {From: rey.To, To: rey.From}, {From: "a/b", To: "c"}, {From: "a", To: "b/c"}}
	for i := range 200 {
		keys = append(keys, convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: "+15005550006"})
	}
	for i, k := range keys {
		c := h.load(k)
		c.Count = i + 1
		c.LastActive = h.clock.Now()
		h.save(c)
	}
	for i, k := range keys {
		c := h.load(k)
		assert.Equal(t, k, c.Key)
		assert.Equal(t, i+1, c.Count, "key %d mixed up with another", i)
	}
}

func testLargeState(t *testing.T, h *harness) {
	big := strings.Repeat("convo ", h.cfg.stateSize/6+1)[:h.cfg.stateSize]
	c := h.load(rey)
	h.turn(c, "big")
	require.NoError(t, convo.SetState(c, big))
	h.save(c)
	got, err := convo.StateOf[string](h.load(rey))
	require.NoError(t, err)
	assert.Equal(t, big, got, "large state did not survive")
}

func testCancelled(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.save(c)

	ctx, _ := h.exchange(rey)
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := h.store.Load(ctx, rey)
	assert.ErrorIs(t, err, context.Canceled, "Load with a cancelled context")

	c2 := h.load(rey)
	h.turn(c2, "two")
	assert.ErrorIs(t, h.store.Save(ctx, c2), context.Canceled, "Save with a cancelled context")
	assert.ErrorIs(t, h.store.Delete(ctx, rey), context.Canceled, "Delete with a cancelled context")
	assert.Equal(t, 1, h.load(rey).Count, "a cancelled call changed the store")

	dl, cancel2 := context.WithDeadline(context.Background(), h.clock.Now().Add(-time.Hour))
	defer cancel2()
	_, err = h.store.Load(dl, rey)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Load with an expired deadline")
}

func testRetryRecords(t *testing.T, h *harness) {
	reply := convo.Reply{Messages: []convo.Outgoing{
		{Body: "Rey has messaged +15005550006 1 times </Message><Redirect>x</Redirect> ü 🎉"},
		{Body: "pic", Media: []string{"https://example.com/a.png?x=1&y=2"}},
	}}.TwiML()
	c := h.load(rey)
	h.turn(c, "one")
	c.Handled = []convo.Handled{{ID: "SM1", Reply: convo.Reply{}.TwiML()}, {ID: "SM2", Reply: reply}}
	h.save(c)
	got := h.load(rey)
	out, ok := got.Replayed("SM2")
	require.True(t, ok, "retry record lost")
	assert.Equal(t, string(reply), string(out), "retry reply must survive byte for byte")
	out, ok = got.Replayed("SM1")
	require.True(t, ok)
	assert.Equal(t, string(convo.Reply{}.TwiML()), string(out))
	_, ok = got.Replayed("SM3")
	assert.False(t, ok)
}

func testEnded(t *testing.T, h *harness) {
	c := h.load(rey)
	h.turn(c, "one")
	h.turn(c, "two")
	require.NoError(t, convo.SetState(c, "secret"))
	h.save(c)

	// What the Handler saves for an ended conversation: a fresh one with
	// the retry records.
	c = h.load(rey)
	ended := &convo.Conversation{Key: rey, Version: c.Version, Ended: true,
		Handled: []convo.Handled{{ID: "SMend", Reply: convo.Text("bye").TwiML()}}}
	h.save(ended)
	got := h.load(rey)
	assert.Zero(t, got.Count, "an ended conversation must load with no count")
	assert.Empty(t, got.State, "an ended conversation must load with no state")
	assert.Empty(t, got.History)
	if len(got.Handled) > 0 {
		out, ok := got.Replayed("SMend")
		assert.True(t, ok)
		assert.Equal(t, string(convo.Text("bye").TwiML()), string(out))
	}
	h.turn(got, "three")
	h.save(got)
	assert.Equal(t, 1, h.load(rey).Count)
}
