// Package memstore keeps conversations in the memory of one process.
//
// It is the fastest store and needs nothing to run, but its conversations
// live only as long as the process and are seen only by it: use it for one
// webhook server, for development and for tests. Fleets of servers need a
// shared store (sqlstore, redisstore) or the client-held cookiestore.
//
// The map is split into shards, each with its own lock, so unrelated
// conversations rarely contend. Expired conversations are invisible at once
// and their memory is freed by a background sweep (see Options.SweepInterval)
// until Close. Options.MaxConversations bounds the number held.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smsconvo/convo"
)

// DefaultSweepInterval is how often expired conversations are removed unless
// Options say otherwise.
const DefaultSweepInterval = time.Minute

const shardCount = 64

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Expiry says when conversations expire: by default after 4 idle hours.
	Expiry convo.Expiry

	// SweepInterval is how often a background goroutine frees expired
	// conversations; 0 means DefaultSweepInterval, negative means never
	// (expired conversations are then only replaced or deleted).
	SweepInterval time.Duration

	// MaxConversations, when positive, bounds how many conversations the
	// store holds (rounded up to a multiple of 64, the number of shards,
	// each of which holds an equal part). Saving a new conversation into a
	// full shard first drops the shard's expired conversations or, when
	// none has expired, the one that expires soonest (the least recently
	// active), so new traffic always gets in. 0 means no bound.
	MaxConversations int
}

// Store is an in-memory convo.Store. Create it with New; it is safe for
// concurrent use, and Close stops its sweeper.
type Store struct {
	expiry   convo.Expiry
	seed     maphash.Seed
	shards   [shardCount]shard
	version  atomic.Uint64
	count    atomic.Int64
	perShard int

	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type shard struct {
	mu sync.RWMutex
	m  map[convo.Key]*entry
}

// entry is one stored conversation, held in convo's compact binary record
// format: one allocation per conversation, a few hundred bytes for the
// counter's, and a deep copy by construction.
type entry struct {
	data      []byte // never modified once stored
	version   uint64
	expiresAt time.Time
}

// New returns a Store. Unless opts.SweepInterval is negative it starts a
// goroutine that sweeps expired conversations until Close.
func New(opts Options) *Store {
	s := &Store{expiry: opts.Expiry, seed: maphash.MakeSeed(), stop: make(chan struct{}), done: make(chan struct{})}
	for i := range s.shards {
		s.shards[i].m = make(map[convo.Key]*entry)
	}
	if opts.MaxConversations > 0 {
		s.perShard = (opts.MaxConversations + shardCount - 1) / shardCount
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		go s.sweepLoop(interval)
	} else {
		close(s.done)
	}
	return s
}

func (s *Store) shard(k convo.Key) *shard {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(k.From)
	h.WriteByte(0)
	h.WriteString(k.To)
	return &s.shards[h.Sum64()%shardCount]
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return convo.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// Load returns a copy of the conversation stored under key, or a fresh one
// when none is stored or it has expired. Times come back with millisecond
// precision, in UTC.
func (s *Store) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sh := s.shard(key)
	now := s.expiry.Time()
	var data []byte
	var version uint64
	sh.mu.RLock()
	if e := sh.m[key]; e != nil && now.Before(e.expiresAt) {
		data, version = e.data, e.version
	}
	sh.mu.RUnlock()
	c := convo.NewConversation(key)
	if data == nil {
		return c, nil
	}
	if err := c.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("memstore: loading %s: %w", key.Redacted(), err)
	}
	c.Version = version
	return c, nil
}

// Save stores a copy of c if the stored version still equals c.Version (an
// expired conversation counts as absent, version 0), giving it a new
// version; otherwise it returns an error wrapping convo.ErrConflict.
func (s *Store) Save(ctx context.Context, c *convo.Conversation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	data, _ := c.MarshalBinary()
	expiresAt := s.expiry.ExpiresAt(c)
	sh := s.shard(c.Key)
	now := s.expiry.Time()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[c.Key]
	var current uint64
	if e != nil && now.Before(e.expiresAt) {
		current = e.version
	}
	if current != c.Version {
		return fmt.Errorf("memstore: saving %s at version %d, stored %d: %w", c.Key.Redacted(), c.Version, current, convo.ErrConflict)
	}
	version := s.version.Add(1)
	if e == nil {
		if s.perShard > 0 && len(sh.m) >= s.perShard {
			sh.evict(now, s)
		}
		// Clone the key so that the map does not pin whatever larger
		// string (a request body, a decoded record) its bytes live in.
		key := convo.Key{From: strings.Clone(c.Key.From), To: strings.Clone(c.Key.To)}
		sh.m[key] = &entry{data: data, version: version, expiresAt: expiresAt}
		s.count.Add(1)
	} else {
		e.data, e.version, e.expiresAt = data, version, expiresAt
	}
	c.Version = version
	return nil
}

// evict makes room for one more conversation in a full shard: it drops the
// expired ones, or else the one that expires soonest. Called with sh.mu held.
func (sh *shard) evict(now time.Time, s *Store) {
	var oldest convo.Key
	var oldestAt time.Time
	dropped := false
	for k, e := range sh.m {
		if !now.Before(e.expiresAt) {
			delete(sh.m, k)
			s.count.Add(-1)
			dropped = true
			continue
		}
		if oldestAt.IsZero() || e.expiresAt.Before(oldestAt) {
			oldest, oldestAt = k, e.expiresAt
		}
	}
	if !dropped && !oldestAt.IsZero() {
		delete(sh.m, oldest)
		s.count.Add(-1)
	}
}

// Delete removes the conversation stored under key; a missing key is no error.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	if _, ok := sh.m[key]; ok {
		delete(sh.m, key)
		s.count.Add(-1)
	}
	sh.mu.Unlock()
	return nil
}

// Len returns how many conversations the store holds, expired ones not yet
// swept included.
func (s *Store) Len() int { return int(s.count.Load()) }

// Sweep removes every expired conversation now. The background sweeper
// calls it; tests with an injected clock may too.
func (s *Store) Sweep() {
	now := s.expiry.Time()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if !now.Before(e.expiresAt) {
				delete(sh.m, k)
				s.count.Add(-1)
			}
		}
		sh.mu.Unlock()
	}
}

func (s *Store) sweepLoop(interval time.Duration) {
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
}

// Close stops the sweeper and waits for it to return. Calls after Close
// fail with convo.ErrClosed. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.stop)
	})
	<-s.done
	return nil
}
