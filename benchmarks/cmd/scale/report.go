package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"io"
	"time"
)

// report is what the steps measured.
type report struct {
	cfg     *config
	out     io.Writer
	started time.Time

	fillTook     time.Duration
	fillHow      string
	bytesPer     float64
	sizeHow      string
	small, large latencies
	expireHow    string
	expireTook   time.Duration
	expired      int64
	during       latencies
	baseline     latencies
}

// after returns a channel closed after d.
func after(d time.Duration) <-chan struct{} {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	return c
}

// fill fills the small store with cfg.small conversations and the large
// one with cfg.n, measuring the large one's storage and fill time.
func (r *report) fill(ctx context.Context, small, large *target, data []byte) error {
	if err := small.fill(ctx, 0, r.cfg.small, data); err != nil {
		return fmt.Errorf("filling %s: %w", small.name, err)
	}
	before, err := large.size(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := large.fill(ctx, 0, r.cfg.n, data); err != nil {
		return fmt.Errorf("filling %s: %w", large.name, err)
	}
	r.fillTook, r.fillHow = time.Since(start), large.fillHow
	after, err := large.size(ctx)
	if err != nil {
		return err
	}
	r.bytesPer, r.sizeHow = float64(after-before)/float64(r.cfg.n), large.sizeHow
	fmt.Fprintf(r.out, "filled %d conversations in %v (%s); %.0f bytes each (%s)\n", r.cfg.n, r.fillTook.Round(time.Second), r.fillHow, r.bytesPer, r.sizeHow)
	for _, t := range []*target{small, large} {
		n := r.cfg.small
		if t == large {
			n = r.cfg.n
		}
		got, version, err := t.store.Load(ctx, key(n-1))
		if err != nil || !bytes.Equal(got, data) || version != uint64(n) {
			return fmt.Errorf("%s: the last conversation filled reads back as %d bytes, version %d (%v)", t.name, len(got), version, err)
		}
	}
	return nil
}

// chunk is how many turns latency plays on one store before the other.
const chunk = 500

// latency plays turns on both stores in alternating chunks.
func (r *report) latency(ctx context.Context, small, large *target) error {
	var lat [2][]time.Duration
	for i := 0; i*chunk < r.cfg.turns; i++ {
		for j := range 2 {
			k := (i + j) % 2
			t, n := small, r.cfg.small
			if k == 1 {
				t, n = large, r.cfg.n
			}
			l, err := play(ctx, t.handler, min(chunk, r.cfg.turns-i*chunk), r.cfg.concurrency, randomKey(n), nil)
			if err != nil {
				return fmt.Errorf("turns on %s: %w", t.name, err)
			}
			lat[k] = append(lat[k], l...)
		}
	}
	r.small, r.large = latenciesOf(lat[0]), latenciesOf(lat[1])
	fmt.Fprintf(r.out, "among %d: %v\namong %d: %v\n", r.cfg.small, r.small, r.cfg.n, r.large)
	return nil
}

// expiry makes all but cfg.live conversations of large expire and plays
// turns on those cfg.live while the others go.
func (r *report) expiry(ctx context.Context, large *target, data []byte) error {
	e, err := large.expirer(ctx, r.cfg, data)
	if err != nil {
		return err
	}
	r.expireHow = e.how
	// The live conversations are saved again (to live 48 hours), after the
	// others were set to expire.
	for i := range r.cfg.live {
		if _, err := turn(large.handler, key(i)); err != nil {
			return err
		}
	}
	// The same turns for as long, without the expiry, for comparison.
	base, err := play(ctx, large.handler, 0, r.cfg.concurrency, randomKey(r.cfg.live), after(r.cfg.baseline))
	if err != nil {
		return err
	}
	r.baseline = latenciesOf(base)
	select { // the conversations expire at e.at, when set
	case <-time.After(time.Until(e.at)):
	case <-ctx.Done():
		return ctx.Err()
	}
	stop := make(chan struct{})
	type result struct {
		lat []time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		l, err := play(ctx, large.handler, 0, r.cfg.concurrency, randomKey(r.cfg.live), stop)
		done <- result{l, err}
	}()
	start := time.Now()
	r.expired, err = e.run(ctx)
	r.expireTook = time.Since(start)
	close(stop)
	res := <-done
	if err != nil {
		return fmt.Errorf("expiring: %w", err)
	}
	if res.err != nil {
		return fmt.Errorf("turns during expiry: %w", res.err)
	}
	r.during = latenciesOf(res.lat)
	fmt.Fprintf(r.out, "expired %d conversations in %v (%s); meanwhile on %d live: %v\n",
		r.expired, r.expireTook.Round(100*time.Millisecond), r.expireHow, r.cfg.live, r.during)
	fmt.Fprintf(r.out, "the same turns for %v before, without expiry: %v\n", r.cfg.baseline, r.baseline)
	return nil
}

func (r *report) print() {
	fmt.Fprintf(r.out, "\n| store | conversations | filled in | bytes per conversation | p99 among %d | p99 among %d | ratio | expiry of %d | its time | turns meanwhile: p99, max, over 50 ms | turns for %v before: the same |\n",
		r.cfg.small, r.cfg.n, r.cfg.n-r.cfg.live, r.cfg.baseline)
	fmt.Fprintf(r.out, "|---|--:|--:|--:|--:|--:|--:|---|--:|---|---|\n")
	fmt.Fprintf(r.out, "| %s | %d | %v | %.0f | %v | %v | %.2f | %s | %v | %v, %v, %d of %d | %v, %v, %d of %d |\n",
		r.cfg.store, r.cfg.n, r.fillTook.Round(time.Second), r.bytesPer, stats.Round(r.small.p99), stats.Round(r.large.p99),
		float64(r.large.p99)/float64(r.small.p99), r.expireHow, r.expireTook.Round(100*time.Millisecond),
		stats.Round(r.during.p99), stats.Round(r.during.max), r.during.over50ms, r.during.n,
		stats.Round(r.baseline.p99), stats.Round(r.baseline.max), r.baseline.over50ms, r.baseline.n)
	fmt.Fprintf(r.out, "\n(%s, %v in all)\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), time.Since(r.started).Round(time.Second))
}
