// Package memstore keeps conversations in the memory of one process.
//
// It is the fastest store and needs nothing to run, but its conversations
// live only as long as the process and are seen only by it: use it for one
// webhook server, for development and for tests. Fleets of servers need a
// shared store (sqlstore, redisstore) or the client-held cookiestore.
//
// The store is bounded: it holds at most Options.MaxConversations records
// (DefaultMaxConversations unless told otherwise) and makes room by
// dropping the least recently saved, the least recently active
// conversation. A counter conversation takes about 1 KB, so the default
// bound holds about 100 MB; a million conversations take about 1 GB.
package memstore

import (
	"container/list"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smsconvo/convo"
)

// Defaults of [Options].
const (
	DefaultMaxConversations = 100_000
	DefaultSweepInterval    = time.Minute
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// MaxConversations bounds how many records the store holds; saving a
	// new one into a full store drops the least recently saved. 0 means
	// DefaultMaxConversations, negative means no bound.
	MaxConversations int

	// SweepInterval is how often a background goroutine frees records
	// that outlived their time to live (they are invisible at once); 0
	// means DefaultSweepInterval, negative means never.
	SweepInterval time.Duration
}

// Store is an in-memory convo.Store. Create it with New; Close stops its
// sweeper.
type Store struct {
	mu     sync.RWMutex
	m      map[convo.Key]*list.Element // of *entry
	lru    list.List                   // most recently saved first
	max    int
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

type entry struct {
	key       convo.Key
	data      []byte
	version   uint64
	expiresAt time.Time
}

// New returns a Store. Unless opts.SweepInterval is negative it starts a
// goroutine that frees expired records until Close.
func New(opts Options) *Store {
	s := &Store{m: make(map[convo.Key]*list.Element), max: opts.MaxConversations, stop: make(chan struct{}), done: make(chan struct{})}
	if s.max == 0 {
		s.max = DefaultMaxConversations
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval < 0 {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.Sweep()
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// check returns why the store cannot be called, holding s.mu.
func (s *Store) check(ctx context.Context) error {
	if s.closed {
		return fmt.Errorf("memstore: %w", convo.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// live returns key's entry when it has not expired, holding s.mu.
func (s *Store) live(key convo.Key) *entry {
	if el := s.m[key]; el != nil && time.Now().Before(el.Value.(*entry).expiresAt) {
		return el.Value.(*entry)
	}
	return nil
}

// Load returns the record stored under key and its version.
func (s *Store) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	if e := s.live(key); e != nil {
		return e.data, e.version, nil
	}
	return nil, 0, nil
}

// Save stores data under key if the stored version is still prev.
func (s *Store) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	var stored uint64
	if e := s.live(key); e != nil {
		stored = e.version
	}
	if stored != prev {
		return fmt.Errorf("memstore: saving %s: %w", key.Redacted(), convo.ErrConflict)
	}
	e := &entry{key: key, data: data, version: next, expiresAt: time.Now().Add(ttl)}
	if el := s.m[key]; el != nil {
		el.Value = e
		s.lru.MoveToFront(el)
		return nil
	}
	if s.max > 0 && s.lru.Len() >= s.max {
		s.remove(s.lru.Back())
	}
	// The key's strings are cloned, so the map pins no request body.
	e.key = convo.Key{From: strings.Clone(key.From), To: strings.Clone(key.To)}
	s.m[e.key] = s.lru.PushFront(e)
	return nil
}

// Delete removes the record stored under key.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if el := s.m[key]; el != nil {
		s.remove(el)
	}
	return nil
}

func (s *Store) remove(el *list.Element) {
	delete(s.m, s.lru.Remove(el).(*entry).key)
}

// Len returns how many records the store holds, expired ones not yet swept
// included.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lru.Len()
}

// Sweep frees expired records, least recently saved first, up to the first
// that has not expired, 1,000 at a time so that no turn waits for long.
func (s *Store) Sweep() {
	for more := true; more; {
		s.mu.Lock()
		now := time.Now()
		n := 0
		for el := s.lru.Back(); el != nil && n < 1000 && !now.Before(el.Value.(*entry).expiresAt); el = s.lru.Back() {
			s.remove(el)
			n++
		}
		more = n == 1000
		s.mu.Unlock()
	}
}

// Close stops the sweeper and waits for it. Calls after Close fail with
// convo.ErrClosed. Close is idempotent and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	<-s.done
	return nil
}
