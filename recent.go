package convo

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// recentSaves remembers the conversations a Handler saved last, one per
// slot, so that the next turn of a pair on this server skips decoding the
// record it encoded itself: the version a Store's Load returns tells
// whether the stored record is still that one (versions are random and
// never reused). On a fleet whose load balancer spreads a pair's messages,
// a turn that follows another server's finds nothing and decodes.
// BENCHMARKS.md shows what it buys.
type recentSaves struct {
	seed  maphash.Seed
	slots [4096]atomic.Pointer[savedConversation]
}

type savedConversation struct {
	version uint64
	c       *Conversation // never changed once saved
}

func (r *recentSaves) slot(key Key) *atomic.Pointer[savedConversation] {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(key.From)
	h.WriteString(key.To)
	return &r.slots[h.Sum64()%uint64(len(r.slots))]
}

// remember keeps c, which the caller no longer changes, as saved at version.
func (r *recentSaves) remember(c *Conversation, version uint64) {
	r.slot(c.Key).Store(&savedConversation{version: version, c: c})
}

// find returns a copy of the conversation of key saved at version, if it
// is remembered.
func (r *recentSaves) find(key Key, version uint64) (*Conversation, bool) {
	s := r.slot(key).Load()
	if s == nil || s.version != version || s.c.Key != key {
		return nil, false
	}
	c := *s.c
	c.History = append(make([]Turn, 0, len(c.History)+1), c.History...) // room for the turn's own
	c.State = slices.Clone(c.State)
	c.retries = append(make([]retryRecord, 0, len(c.retries)+1), c.retries...)
	return &c, true
}
