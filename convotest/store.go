package convotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStore checks a convo.Store against the whole Store contract, each
// check a subtest with a fresh store from newStore: a missing key, a round
// trip of the bytes, keys kept apart, versions and conflicts, delete, time
// to live, 50 goroutines updating one key (all 50 counted), many keys,
// large records, cancelled contexts and, for a store that is an io.Closer,
// calls after Close.
//
// newStore's clean-up belongs in t.Cleanup; stores sharing a server give
// each call its own table, prefix or namespace. Every call gets a context
// carrying an HTTP exchange whose cookies are kept as Twilio keeps them
// (see convo.WithExchange), so a convo.ClientHeld store is checked too;
// for one, the concurrent check does not apply, as the contract allows,
// nor the check of Close for a store that is not an io.Closer.
func TestStore(t *testing.T, newStore func(t *testing.T) convo.Store) {
	tests := []struct {
		name string
		test func(*testing.T, *harness)
	}{
		{"LoadMissing", testLoadMissing},
		{"RoundTrip", testRoundTrip},
		{"Keys", testKeys},
		{"Versions", testVersions},
		{"Delete", testDelete},
		{"TimeToLive", testTimeToLive},
		{"ConcurrentUpdates", testConcurrent},
		{"ManyKeys", testManyKeys},
		{"LargeRecords", testLargeRecords},
		{"CancelledContext", testCancelled},
		{"Close", testClose},
	}
	probe := newStore(t)
	for _, tt := range tests {
		if !applies(t, tt.name, probe) {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			tt.test(t, &harness{t: t, store: s, jar: NewCookieJar(nil)})
		})
	}
}

// applies reports whether a check applies to store, logging why when not.
func applies(t *testing.T, name string, store convo.Store) bool {
	if _, ok := store.(convo.ClientHeld); ok && name == "ConcurrentUpdates" {
		t.Logf("%s: not checked: a ClientHeld store cannot see saves answered to other webhooks (the Store contract allows this)", name)
		return false
	}
	if _, ok := store.(io.Closer); !ok && name == "Close" {
		t.Logf("%s: not checked: the store is not an io.Closer", name)
		return false
	}
	return true
}

// harness carries one subtest's store and a Twilio-like cookie jar, and
// gives each call a context with an HTTP exchange as the Handler does.
type harness struct {
	t     *testing.T
	store convo.Store
	jar   *CookieJar
}

func (h *harness) call(key convo.Key, f func(ctx context.Context) error) error {
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/sms", nil)
	h.jar.AddCookies(key, req)
	x := &convo.Exchange{Request: req, Header: make(http.Header)}
	err := f(convo.WithExchange(context.Background(), x))
	if err == nil {
		h.jar.Update(key, x.Header)
	}
	return err
}

func (h *harness) load(key convo.Key) ([]byte, uint64) {
	h.t.Helper()
	var data []byte
	var v uint64
	require.NoError(h.t, h.call(key, func(ctx context.Context) (err error) {
		data, v, err = h.store.Load(ctx, key)
		return err
	}), "Load")
	return data, v
}

func (h *harness) trySave(key convo.Key, data string, ttl time.Duration, prev, next uint64) error {
	return h.call(key, func(ctx context.Context) error {
		return h.store.Save(ctx, key, []byte(data), ttl, prev, next)
	})
}

// save stores data at a new version after prev and returns the version.
func (h *harness) save(key convo.Key, data string, prev uint64) uint64 {
	h.t.Helper()
	next := newVersion(prev)
	require.NoError(h.t, h.trySave(key, data, time.Hour, prev, next), "Save")
	return next
}

func (h *harness) delete(key convo.Key) {
	h.t.Helper()
	require.NoError(h.t, h.call(key, func(ctx context.Context) error { return h.store.Delete(ctx, key) }), "Delete")
}

// newVersion returns a random version below 2^63 other than 0 and prev, as
// the Handler makes them.
func newVersion(prev uint64) uint64 {
	for {
		if v := rand.Uint64() >> 1; v != 0 && v != prev {
			return v
		}
	}
}

var (
	rey   = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn  = convo.Key{From: "+12349013030", To: "+15005550006"}
	reyWA = convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"}
)

// record returns a record-like JSON text of about n bytes.
func record(tag string, n int) string {
	pad := strings.Repeat("convo ", n/6+1)[:max(n-len(tag)-16, 0)]
	return `{"v":2,"t":"` + tag + `","p":"` + pad + `"}`
}

func testLoadMissing(t *testing.T, h *harness) {
	data, v := h.load(rey)
	assert.Nil(t, data, "Load of a missing key returns no data")
	assert.Zero(t, v, "Load of a missing key returns version 0")
}

func testRoundTrip(t *testing.T, h *harness) {
	rec := `{"v":2,"count":2,"history":[{"in":"again <b>&amp; ünïcødé 🎉\n\u0000 \"q\" \\ </Message>","out":"ok"}],"state":{"a":[1,2.5,null]}}`
	v := h.save(rey, rec, 0)
	data, got := h.load(rey)
	assert.Equal(t, rec, string(data), "Load returns the bytes saved, unchanged")
	assert.Equal(t, v, got, "Load returns the version Save set")

	rec2 := record("second", 300)
	v2 := h.save(rey, rec2, v)
	data, got = h.load(rey)
	assert.Equal(t, rec2, string(data))
	assert.Equal(t, v2, got)
}

func testKeys(t *testing.T, h *harness) {
	keys := []convo.Key{rey, finn, reyWA, {From: rey.To, To: rey.From},
		{From: "a/b", To: "c"}, {From: "a", To: "b/c"}, {From: "+1 415%20", To: "é"}}
	for i, k := range keys {
		h.save(k, record(strconv.Itoa(i), 40), 0)
	}
	for i, k := range keys {
		data, _ := h.load(k)
		assert.Equal(t, record(strconv.Itoa(i), 40), string(data), "key %d (%s) mixed up with another", i, k)
	}
}

func testVersions(t *testing.T, h *harness) {
	v1 := h.save(rey, record("one", 40), 0)
	err := h.trySave(rey, record("again", 40), time.Hour, 0, newVersion(0))
	require.ErrorIs(t, err, convo.ErrConflict, "Save at version 0 over a stored record must conflict")

	v2 := h.save(rey, record("two", 40), v1)
	err = h.trySave(rey, record("stale", 40), time.Hour, v1, newVersion(v2))
	require.ErrorIs(t, err, convo.ErrConflict, "Save at a replaced version must conflict")
	err = h.trySave(rey, record("unknown", 40), time.Hour, newVersion(v2), newVersion(v2))
	require.ErrorIs(t, err, convo.ErrConflict, "Save at a version never stored must conflict")

	data, v := h.load(rey)
	assert.Equal(t, record("two", 40), string(data), "a conflicting Save wrote")
	assert.Equal(t, v2, v)
	err = h.trySave(finn, record("finn", 40), time.Hour, v2, newVersion(v2))
	require.ErrorIs(t, err, convo.ErrConflict, "Save at a version of another key must conflict")
}

func testDelete(t *testing.T, h *harness) {
	h.delete(finn) // missing: no error
	v := h.save(rey, record("rey", 40), 0)
	h.save(finn, record("finn", 40), 0)

	h.delete(rey)
	data, got := h.load(rey)
	assert.Nil(t, data, "a deleted record loads as missing")
	assert.Zero(t, got)
	data, _ = h.load(finn)
	assert.Equal(t, record("finn", 40), string(data), "Delete removed another key")
	h.delete(rey) // again: no error

	err := h.trySave(rey, record("late", 40), time.Hour, v, newVersion(v))
	require.ErrorIs(t, err, convo.ErrConflict, "Save at the version of a deleted record must conflict")
	h.save(rey, record("new", 40), 0)
}

func testTimeToLive(t *testing.T, h *harness) {
	const ttl = 150 * time.Millisecond
	start := time.Now()
	short := newVersion(0)
	require.NoError(t, h.trySave(rey, record("short", 40), ttl, 0, short))
	// A second save of finn gives it an hour: saving again resets the time to live.
	v := newVersion(0)
	require.NoError(t, h.trySave(finn, record("finn", 40), ttl, 0, v))
	h.save(finn, record("finn 2", 40), v)
	if data, _ := h.load(rey); time.Since(start) < ttl {
		assert.NotNil(t, data, "a record is there before its time to live ends")
	}

	time.Sleep(2 * ttl)
	data, got := h.load(rey)
	assert.Nil(t, data, "a record that outlived its time to live must load as missing")
	assert.Zero(t, got)
	h.save(rey, record("new", 40), 0) // version 0 saves over it
	data, _ = h.load(finn)
	assert.Equal(t, record("finn 2", 40), string(data), "Save did not renew the time to live")
}

func testConcurrent(t *testing.T, h *harness) {
	const workers = 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Go(func() {
			for range 10000 {
				ctx := context.Background()
				data, v, err := h.store.Load(ctx, rey)
				if err != nil {
					errs <- err
					return
				}
				n := 0
				if data != nil {
					if n, err = strconv.Atoi(string(data)); err != nil {
						errs <- fmt.Errorf("worker %d loaded %q: %w", i, data, err)
						return
					}
				}
				err = h.store.Save(ctx, rey, []byte(strconv.Itoa(n+1)), time.Hour, v, newVersion(v))
				if err == nil {
					return
				}
				if !errors.Is(err, convo.ErrConflict) {
					errs <- err
					return
				}
			}
			errs <- fmt.Errorf("worker %d never saved", i)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	data, _ := h.load(rey)
	assert.Equal(t, strconv.Itoa(workers), string(data), "concurrent updates were lost")
}

func testManyKeys(t *testing.T, h *harness) {
	var keys []convo.Key
	for i := range 200 {
		keys = append(keys, convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: "+15005550006"})
	}
	for i, k := range keys {
		h.save(k, strconv.Itoa(i), 0)
	}
	for i, k := range keys {
		data, _ := h.load(k)
		assert.Equal(t, strconv.Itoa(i), string(data), "key %d mixed up with another", i)
	}
}

// testLargeRecords checks that records up to 2,000 bytes are kept (a
// cookie holds little more), and that a larger one is kept or refused with
// ErrTooLarge, writing nothing.
func testLargeRecords(t *testing.T, h *harness) {
	small := record("small", 2000)
	v := h.save(rey, small, 0)
	data, _ := h.load(rey)
	require.Equal(t, small, string(data), "a 2,000-byte record did not survive")

	big := record("big", 256<<10)
	next := newVersion(v)
	err := h.trySave(rey, big, time.Hour, v, next)
	data, got := h.load(rey)
	switch {
	case err == nil:
		assert.True(t, big == string(data), "a 256 KiB record did not survive (%d bytes loaded)", len(data))
		assert.Equal(t, next, got)
	case errors.Is(err, convo.ErrTooLarge):
		assert.Equal(t, small, string(data), "a Save refused with ErrTooLarge wrote")
		assert.Equal(t, v, got)
	default:
		t.Fatalf("Save of a 256 KiB record: %v, want nil or convo.ErrTooLarge", err)
	}
}

func testCancelled(t *testing.T, h *harness) {
	v := h.save(rey, record("one", 40), 0)
	for name, ctx := range map[string]context.Context{"cancelled": cancelled(), "past its deadline": expired()} {
		want := ctx.Err()
		x := &convo.Exchange{Request: &http.Request{Header: http.Header{}}, Header: http.Header{}}
		ctx = convo.WithExchange(ctx, x)
		_, _, err := h.store.Load(ctx, rey)
		assert.ErrorIs(t, err, want, "Load with a context %s", name)
		err = h.store.Save(ctx, rey, []byte(record("two", 40)), time.Hour, v, newVersion(v))
		assert.ErrorIs(t, err, want, "Save with a context %s", name)
		assert.ErrorIs(t, h.store.Delete(ctx, rey), want, "Delete with a context %s", name)
	}
	data, got := h.load(rey)
	assert.Equal(t, record("one", 40), string(data), "a call with an ended context changed the store")
	assert.Equal(t, v, got)
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func expired() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Hour))
	cancel() // the deadline has passed: ctx.Err() stays DeadlineExceeded
	return ctx
}

func testClose(t *testing.T, h *harness) {
	c := h.store.(io.Closer)
	v := h.save(rey, record("one", 40), 0)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close must be idempotent")
	err := h.call(rey, func(ctx context.Context) error { _, _, err := h.store.Load(ctx, rey); return err })
	assert.ErrorIs(t, err, convo.ErrClosed, "Load after Close")
	err = h.trySave(rey, record("two", 40), time.Hour, v, newVersion(v))
	assert.ErrorIs(t, err, convo.ErrClosed, "Save after Close")
	err = h.call(rey, func(ctx context.Context) error { return h.store.Delete(ctx, rey) })
	assert.ErrorIs(t, err, convo.ErrClosed, "Delete after Close")
}
