package convotest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smsconvo/convo"
)

// ErrInjected is the error a FaultyStore returns by default when told to
// fail.
var ErrInjected = errors.New("convotest: injected store failure")

// FaultyStore wraps a store and fails or stalls its calls on command, to
// test what a Handler (or an app) does when the store is down: the answer,
// the log line, and that nothing was lost once the store is back. It is
// safe for concurrent use; its zero faults pass every call through.
type FaultyStore struct {
	convo.Store

	mu                              sync.Mutex
	loadErr, saveErr, deleteErr     error
	delay                           time.Duration
	loads, saves, deletes, failures int
}

// NewFaultyStore wraps s.
func NewFaultyStore(s convo.Store) *FaultyStore { return &FaultyStore{Store: s} }

// FailLoad makes every Load return err (ErrInjected when err is nil) until
// Heal.
func (f *FaultyStore) FailLoad(err error) { f.set(&f.loadErr, err) }

// FailSave makes every Save return err (ErrInjected when err is nil),
// writing nothing, until Heal.
func (f *FaultyStore) FailSave(err error) { f.set(&f.saveErr, err) }

// FailDelete makes every Delete return err (ErrInjected when err is nil)
// until Heal.
func (f *FaultyStore) FailDelete(err error) { f.set(&f.deleteErr, err) }

// Stall makes every call wait d, or until its context ends (returning the
// context's error), before it goes on. Stall(0) stops stalling.
func (f *FaultyStore) Stall(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// Heal stops every failure and stall.
func (f *FaultyStore) Heal() {
	f.mu.Lock()
	f.loadErr, f.saveErr, f.deleteErr, f.delay = nil, nil, nil, 0
	f.mu.Unlock()
}

// Calls returns how many Loads, Saves and Deletes reached the wrapper, and
// how many of all of them it failed.
func (f *FaultyStore) Calls() (loads, saves, deletes, failures int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads, f.saves, f.deletes, f.failures
}

func (f *FaultyStore) set(p *error, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	*p = err
	f.mu.Unlock()
}

// before counts a call, applies any stall, and returns the failure to give.
func (f *FaultyStore) before(ctx context.Context, counter *int, fail *error) error {
	f.mu.Lock()
	*counter++
	delay, err := f.delay, *fail
	if err != nil {
		f.failures++
	}
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// Load implements convo.Store.
func (f *FaultyStore) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	if err := f.before(ctx, &f.loads, &f.loadErr); err != nil {
		return nil, 0, err
	}
	return f.Store.Load(ctx, key)
}

// Save implements convo.Store.
func (f *FaultyStore) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if err := f.before(ctx, &f.saves, &f.saveErr); err != nil {
		return err
	}
	return f.Store.Save(ctx, key, data, ttl, prev, next)
}

// Delete implements convo.Store.
func (f *FaultyStore) Delete(ctx context.Context, key convo.Key) error {
	if err := f.before(ctx, &f.deletes, &f.deleteErr); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}
