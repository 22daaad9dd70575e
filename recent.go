package convo

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// recentSaves remembers the conversations a Handler saved last, so that
// the next turn of a pair on this server skips decoding the record it
// encoded itself: the version a Store's Load returns tells whether the
// stored record is still that one (versions are random and never reused).
// A key hashes to a set of four slots and takes the one holding it
// already, else an empty one, else the one saved into longest ago, so that
// conversations whose keys hash alike do not push each other out. On a
// fleet whose load balancer spreads a pair's messages, a turn that follows
// another server's finds nothing and decodes. BENCHMARKS.md shows what it
// buys.
type recentSaves struct {
	seed  maphash.Seed
	saves atomic.Uint64 // counts remember calls, to tell the slots' ages
	slots [4096]atomic.Pointer[savedConversation]
}

type savedConversation struct {
	seq     uint64 // the remember call that stored it
	version uint64
	c       *Conversation // never changed once saved
}

const recentWays = 4

// set returns the slots key may sit in.
func (r *recentSaves) set(key Key) []atomic.Pointer[savedConversation] {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(key.From)
	h.WriteString(key.To)
	i := h.Sum64() % (uint64(len(r.slots)) / recentWays) * recentWays
	return r.slots[i : i+recentWays]
}

// remember keeps c, which the caller no longer changes, as saved at version.
// Two remembers racing on one set may lose one of them: the next turn of
// that conversation decodes its record.
func (r *recentSaves) remember(c *Conversation, version uint64) {
	set := r.set(c.Key)
	victim, oldest := 0, ^uint64(0)
	for i := range set {
		s := set[i].Load()
		if s != nil && s.c.Key == c.Key {
			victim = i
			break
		}
		if seq := s.age(); seq < oldest {
			victim, oldest = i, seq
		}
	}
	set[victim].Store(&savedConversation{seq: r.saves.Add(1), version: version, c: c})
}

// age orders slots for replacement: empty first, then the oldest save.
func (s *savedConversation) age() uint64 {
	if s == nil {
		return 0
	}
	return s.seq
}

// find returns a copy of the conversation of key saved at version, if it
// is remembered.
func (r *recentSaves) find(key Key, version uint64) (*Conversation, bool) {
	set := r.set(key)
	for i := range set {
		s := set[i].Load()
		if s == nil || s.version != version || s.c.Key != key {
			continue
		}
		c := *s.c
		c.History = append(make([]Turn, 0, len(c.History)+1), c.History...) // room for the turn's own
		c.State = slices.Clone(c.State)
		c.retries = append(make([]retryRecord, 0, len(c.retries)+1), c.retries...)
		return &c, true
	}
	return nil, false
}
