package convo

import (
	"context"
	"hash/maphash"
	"sync"
)

// keyLocks serializes work per conversation key within one process. Each
// key in use has one entry, holding a one-slot channel as a lock that a
// waiter can give up on when its context ends; entries are shared out of a
// few shards so unrelated keys rarely touch the same map mutex, and are
// dropped as soon as nobody holds or waits for them, so memory follows the
// number of conversations in flight, not the number ever seen.
type keyLocks struct {
	seed   maphash.Seed
	shards [64]lockShard
}

type lockShard struct {
	mu sync.Mutex
	m  map[Key]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int
}

var keyLockPool = sync.Pool{New: func() any { return &keyLock{ch: make(chan struct{}, 1)} }}

func newKeyLocks() *keyLocks {
	l := &keyLocks{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[Key]*keyLock)
	}
	return l
}

// lock waits until the caller holds key's lock, or ctx ends. On success
// the caller must call unlock(key) once.
func (l *keyLocks) lock(ctx context.Context, key Key) error {
	s := l.shard(key)
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		e = keyLockPool.Get().(*keyLock)
		s.m[key] = e
	}
	e.refs++
	s.mu.Unlock()

	select {
	case e.ch <- struct{}{}:
	default:
		select {
		case e.ch <- struct{}{}:
		case <-ctx.Done():
			l.release(s, key, e)
			return ctx.Err()
		}
	}
	return nil
}

// unlock releases the lock of key, which the caller holds.
func (l *keyLocks) unlock(key Key) {
	s := l.shard(key)
	s.mu.Lock()
	e := s.m[key]
	s.mu.Unlock()
	<-e.ch
	l.release(s, key, e)
}

func (l *keyLocks) shard(key Key) *lockShard {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(key.From)
	h.WriteByte(0)
	h.WriteString(key.To)
	return &l.shards[h.Sum64()%uint64(len(l.shards))]
}

func (l *keyLocks) release(s *lockShard, key Key, e *keyLock) {
	s.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(s.m, key)
		keyLockPool.Put(e)
	}
	s.mu.Unlock()
}
