package redisstore

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScriptRerunIsIdempotent runs the save script twice with the same
// arguments, as the client does when the connection drops after Redis ran
// it but before the answer arrived: the second run must report success,
// not a conflict, and change nothing.
func TestScriptRerunIsIdempotent(t *testing.T) {
	addr := os.Getenv("CONVO_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("CONVO_TEST_REDIS_ADDR is not set: skipping the tests that need a Redis server")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	key := "convotest:rerun:" + strconv.FormatUint(newVersion(0), 16)
	defer rdb.Del(ctx, key)

	now := time.Now()
	args := []any{"0", "12345678901234567", now.UnixMilli(), now.Add(time.Hour).UnixMilli(), 3600000, `{"v":1}`}
	first, err := saveScript.Run(ctx, rdb, []string{key}, args...).Slice()
	require.NoError(t, err)
	assert.Equal(t, []any{int64(1), "12345678901234567"}, first)
	again, err := saveScript.Run(ctx, rdb, []string{key}, args...).Slice()
	require.NoError(t, err)
	assert.Equal(t, first, again, "a re-sent save must report its own success")

	// A different save from the same stale version conflicts, and the
	// stored 63-bit version survives Lua untouched.
	other := append([]any{"0", "999"}, args[2:]...)
	res, err := saveScript.Run(ctx, rdb, []string{key}, other...).Slice()
	require.NoError(t, err)
	assert.Equal(t, []any{int64(0), "12345678901234567"}, res)
}

func TestNewVersion(t *testing.T) {
	seen := map[uint64]bool{}
	for range 10000 {
		v := newVersion(42)
		require.NotZero(t, v)
		require.NotEqual(t, uint64(42), v)
		require.Less(t, v, uint64(1)<<63, "versions fit in 63 bits")
		require.False(t, seen[v], "version repeated")
		seen[v] = true
	}
}

// FuzzDecode feeds decode what a Redis hash may hold: it must never panic,
// and either fail with convo.ErrCorrupt or give a conversation of the key
// asked for with a non-zero version.
func FuzzDecode(f *testing.F) {
	good, _ := convo.MarshalRecord(&convo.Conversation{Key: convo.Key{From: "+14158675308", To: "+15005550006"}, Count: 2})
	f.Add("7", "1767272400000", string(good))
	f.Add("0", "1", string(good))
	f.Add("18446744073709551616", "-1", `{"v":1,"from":"a","to":"b"}`)
	f.Add("x", "", `{"v":2}`)
	f.Add("1", "99999999999999999999", `{"v":1,"from":"+14158675308","to":"+15005550006","count":-1}`)
	f.Add("1", "0", `{"v":1,"from":"+14158675308","to":"+15005550006","handled":[{"id":"SM","reply":"<Response/>"}]}`)
	key := convo.Key{From: "+14158675308", To: "+15005550006"}
	f.Fuzz(func(t *testing.T, v, exp, data string) {
		c, _, err := decode(key, []any{v, exp, data})
		if err != nil {
			if !errors.Is(err, convo.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if c.Key != key || c.Version == 0 {
			t.Fatalf("decoded %+v for key %v", c, key)
		}
	})
}
