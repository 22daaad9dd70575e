package convo

import (
	"context"
	"sync"
)

// keyLocks lets one turn of each conversation run at a time in a process.
// A key has an entry while a turn holds or waits for its lock, so memory
// follows the conversations in flight, not those ever seen.
type keyLocks struct {
	mu sync.Mutex
	m  map[Key]*keyLock
}

// keyLock is a lock a waiter can give up on: a one-slot channel, full
// while held.
type keyLock struct {
	ch   chan struct{}
	refs int // holder and waiters
}

// lock waits until the caller holds key's lock, or ctx ends. On success
// the caller calls unlock(key, l) once.
func (ls *keyLocks) lock(ctx context.Context, key Key) (*keyLock, error) {
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = make(map[Key]*keyLock)
	}
	l := ls.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		ls.m[key] = l
	}
	l.refs++
	ls.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return l, nil
	case <-ctx.Done():
		ls.release(key, l)
		return nil, ctx.Err()
	}
}

func (ls *keyLocks) unlock(key Key, l *keyLock) {
	<-l.ch
	ls.release(key, l)
}

func (ls *keyLocks) release(key Key, l *keyLock) {
	ls.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(ls.m, key)
	}
	ls.mu.Unlock()
}
