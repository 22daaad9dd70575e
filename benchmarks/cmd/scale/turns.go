package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

const toAddr = "+15005550006"

// key is the i-th conversation of a store.
func key(i int) convo.Key { return convo.Key{From: fmt.Sprintf("+1%010d", i), To: toAddr} }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// idle is the Handler's Config.Idle in the turns: the conversations they
// save outlive the store whose clock is 6 hours ahead that cleans up.
const idle = 48 * time.Hour

func newHandler(store convo.Store) (*convo.Handler, error) {
	return convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true,
		Idle: idle, Logger: discard})
}

var sids atomic.Uint64

// writer is the cheapest ResponseWriter that keeps the status.
type writer struct {
	h    http.Header
	code int
}

func (w *writer) Header() http.Header { return w.h }
func (w *writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *writer) Write(p []byte) (int, error) { w.WriteHeader(http.StatusOK); return len(p), nil }

// turn sends one message of k's conversation to h and returns how long
// the Handler took.
func turn(h http.Handler, k convo.Key) (time.Duration, error) {
	form := url.Values{"From": {k.From}, "To": {k.To}, "Body": {"scale test"}, "NumMedia": {"0"},
		"MessageSid": {fmt.Sprintf("SM%032x", sids.Add(1))}, "AccountSid": {"AC00000000000000000000000000000042"}}
	req, err := http.NewRequest(http.MethodPost, "https://scale.example/sms", bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := &writer{h: http.Header{}}
	start := time.Now()
	h.ServeHTTP(w, req)
	took := time.Since(start)
	if w.code != http.StatusOK {
		return took, fmt.Errorf("%s: status %d", k.Redacted(), w.code)
	}
	return took, nil
}

// play runs n turns (until stop is closed, when n is 0) on conversations
// pick chooses, workers at once, and returns their latencies.
func play(ctx context.Context, h http.Handler, n, workers int, pick func() convo.Key, stop <-chan struct{}) ([]time.Duration, error) {
	var (
		mu      sync.Mutex
		lat     []time.Duration
		firstEr error
		left    atomic.Int64
		wg      sync.WaitGroup
	)
	left.Store(int64(n))
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if n > 0 && left.Add(-1) < 0 {
					return
				}
				if n == 0 && closed(stop) {
					return
				}
				d, err := turn(h, pick())
				mu.Lock()
				lat = append(lat, d)
				if err != nil && firstEr == nil {
					firstEr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstEr == nil {
		firstEr = ctx.Err()
	}
	return lat, firstEr
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// randomKey picks among the first n conversations.
func randomKey(n int) func() convo.Key { return func() convo.Key { return key(rand.IntN(n)) } }

// sampleRecord is the record of a counter conversation after five
// messages in a row, as convo's Handler saves it (history and five retry
// records): what the stores are filled with.
func sampleRecord() ([]byte, error) {
	store := memstore.New(memstore.Options{SweepInterval: -1})
	defer store.Close()
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true, Logger: discard})
	if err != nil {
		return nil, err
	}
	for range 5 {
		if _, err := turn(h, key(0)); err != nil {
			return nil, err
		}
	}
	data, _, err := store.Load(context.Background(), key(0))
	return data, err
}

// latencies are the p50, p99 and maximum of lat.
type latencies struct {
	n             int
	p50, p99, max time.Duration
	over50ms      int
}

func latenciesOf(lat []time.Duration) latencies {
	s := slices.Sorted(slices.Values(lat))
	if len(s) == 0 {
		return latencies{}
	}
	at := func(p float64) time.Duration { return s[min(int(float64(len(s))*p/100), len(s)-1)] }
	st := latencies{n: len(s), p50: at(50), p99: at(99), max: s[len(s)-1]}
	for _, d := range s {
		if d > 50*time.Millisecond {
			st.over50ms++
		}
	}
	return st
}

func (s latencies) String() string {
	return fmt.Sprintf("%d turns: p50 %v, p99 %v, max %v, %d over 50 ms", s.n, stats.Round(s.p50), stats.Round(s.p99), stats.Round(s.max), s.over50ms)
}
