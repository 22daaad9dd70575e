package convo

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sameSet returns n keys that hash to one set of r's slots.
func sameSet(t *testing.T, r *recentSaves, n int) []Key {
	t.Helper()
	var keys []Key
	first := &r.set(Key{From: "+15550000000", To: "+15005550006"})[0]
	for i := 0; len(keys) < n && i < 1_000_000; i++ {
		k := Key{From: fmt.Sprintf("+1555%07d", i), To: "+15005550006"}
		if &r.set(k)[0] == first {
			keys = append(keys, k)
		}
	}
	require.Len(t, keys, n)
	return keys
}

func TestRecentSaves(t *testing.T) {
	r := &recentSaves{seed: maphash.MakeSeed()}
	keys := sameSet(t, r, recentWays+1)
	for i, k := range keys[:recentWays] {
		r.remember(&Conversation{Key: k, State: json.RawMessage{byte(i)}}, uint64(i+1))
	}
	for i, k := range keys[:recentWays] {
		c, ok := r.find(k, uint64(i+1))
		require.True(t, ok, "key %d of %d in one set is remembered", i, recentWays)
		assert.Equal(t, json.RawMessage{byte(i)}, c.State)
		c.State[0] = 99 // a copy: the remembered conversation stays as saved
		_, ok = r.find(k, uint64(i+2))
		assert.False(t, ok, "another version of key %d is not the one remembered", i)
	}
	c, _ := r.find(keys[0], 1)
	assert.Equal(t, json.RawMessage{0}, c.State, "find returns a copy")

	// A new save of a remembered key takes its own slot, keeping the others.
	r.remember(&Conversation{Key: keys[0]}, 10)
	for i, k := range keys[1:recentWays] {
		_, ok := r.find(k, uint64(i+2))
		assert.True(t, ok, "key %d kept when key 0 is saved again", i+1)
	}
	// A fifth key takes the slot saved into longest ago: key 1's.
	r.remember(&Conversation{Key: keys[recentWays]}, 20)
	_, ok := r.find(keys[1], 2)
	assert.False(t, ok, "the oldest save is replaced")
	for _, v := range []struct {
		key     Key
		version uint64
	}{{keys[0], 10}, {keys[2], 3}, {keys[3], 4}, {keys[recentWays], 20}} {
		_, ok := r.find(v.key, v.version)
		assert.True(t, ok, "%v at %d is remembered", v.key.Redacted(), v.version)
	}
}
