package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/redisstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewNilClient(t *testing.T) {
	for name, rdb := range map[string]redis.UniversalClient{
		"nil":                      nil,
		"nil *redis.Client":        (*redis.Client)(nil),
		"nil *redis.ClusterClient": (*redis.ClusterClient)(nil),
	} {
		s, err := redisstore.New(rdb, redisstore.Options{})
		assert.Error(t, err, name)
		assert.Nil(t, s, name)
	}
}

func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			convotest.TestStore(t, func(t *testing.T) convo.Store {
				return newStore(t, rdb, redisstore.Options{})
			})
		})
	}
}

// TestLayout checks that a record is one string, "version:record", under
// the prefix and the key, and that its time to live is the key's.
func TestLayout(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			prefix := newPrefix(t, rdb)
			s := newStore(t, rdb, redisstore.Options{Prefix: prefix})
			ctx := context.Background()
			data := []byte(`{"v":2,"count":1}`)
			require.NoError(t, s.Save(ctx, rey, data, 90*time.Second, 0, 4711))

			key := prefix + "+14158675308/+15005550006"
			val, err := rdb.Get(ctx, key).Result()
			require.NoError(t, err)
			assert.Equal(t, `4711:{"v":2,"count":1}`, val)
			ttl, err := rdb.PTTL(ctx, key).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, 90*time.Second)
			assert.Greater(t, ttl, 80*time.Second)

			require.NoError(t, s.Save(ctx, rey, data, 1500*time.Microsecond, 4711, 4712))
			ttl, err = rdb.PTTL(ctx, key).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, 2*time.Millisecond, "the time to live is rounded up to whole milliseconds")
		})
	}
	t.Run("DefaultPrefix", func(t *testing.T) {
		rdb := newClient(t, recommended(redisAddr(t)))
		s, err := redisstore.New(rdb, redisstore.Options{})
		require.NoError(t, err)
		key := convo.Key{From: "convotest:" + strconv.FormatInt(time.Now().UnixNano(), 10), To: "+15005550006"}
		ctx := context.Background()
		require.NoError(t, s.Save(ctx, key, []byte("x"), time.Minute, 0, 1))
		t.Cleanup(func() { _ = s.Delete(context.Background(), key) })
		assert.Equal(t, "1:x", rdb.Get(ctx, "convo:"+key.String()).Val())
	})
}

// TestClusterSlots checks that conversations spread over the slots and
// masters of a cluster: one key each, no hash tag.
func TestClusterSlots(t *testing.T) {
	addrs := os.Getenv("CONVO_TEST_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("CONVO_TEST_REDIS_CLUSTER_ADDRS is not set: skipping the Redis Cluster test (set it to host:port,host:port,…)")
	}
	rdb := newClusterClient(t, addrs)
	prefix := newPrefix(t, rdb)
	s := newStore(t, rdb, redisstore.Options{Prefix: prefix})
	ctx := context.Background()
	slots, masters := map[int64]bool{}, map[string]bool{}
	for i := range 32 {
		key := convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: "+15005550006"}
		require.NoError(t, s.Save(ctx, key, []byte("x"), time.Minute, 0, 1))
		slot, err := rdb.ClusterKeySlot(ctx, prefix+key.String()).Result()
		require.NoError(t, err)
		slots[slot] = true
		node, err := rdb.MasterForKey(ctx, prefix+key.String())
		require.NoError(t, err)
		masters[node.Options().Addr] = true
		n, err := node.Exists(ctx, prefix+key.String()).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "conversation %d is not on the master of its slot", i)
	}
	assert.Greater(t, len(slots), 16, "conversations share slots: a hash tag?")
	assert.Greater(t, len(masters), 1, "conversations all landed on one master")
}

func TestTooLarge(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			s := newStore(t, rdb, redisstore.Options{MaxRecordBytes: 1000})
			ctx := context.Background()
			err := s.Save(ctx, finn, make([]byte, 1001), time.Minute, 0, 1)
			require.ErrorIs(t, err, convo.ErrTooLarge)
			data, v, err := s.Load(ctx, finn)
			require.NoError(t, err)
			assert.Nil(t, data, "a record over the limit was written")
			assert.Zero(t, v)

			fits := []byte(strings.Repeat("a", 1000))
			require.NoError(t, s.Save(ctx, rey, fits, time.Minute, 0, 1), "a record of the limit fits")
			err = s.Save(ctx, rey, make([]byte, 1001), time.Minute, 1, 2)
			require.ErrorIs(t, err, convo.ErrTooLarge)
			assert.NotErrorIs(t, err, convo.ErrConflict)
			data, v, err = s.Load(ctx, rey)
			require.NoError(t, err)
			assert.Equal(t, fits, data, "a record over the limit was written")
			assert.EqualValues(t, 1, v)

			unbounded := newStore(t, rdb, redisstore.Options{MaxRecordBytes: -1})
			require.NoError(t, unbounded.Save(ctx, rey, make([]byte, 2<<20), time.Minute, 0, 1), "no limit")
			require.ErrorIs(t, newStore(t, rdb, redisstore.Options{}).Save(ctx, rey, make([]byte, 1<<20+1), time.Minute, 0, 1),
				convo.ErrTooLarge, "1 MiB by default")
		})
	}
}

// TestResentSave plays the script re-sent after its answer was lost: a
// stored version equal to the new one means the save was applied, so the
// second run succeeds and writes nothing.
func TestResentSave(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := newStore(t, b.client(t), redisstore.Options{})
			ctx := context.Background()
			const v1, v2 = 1 << 62, 1<<63 - 1
			for range 2 {
				require.NoError(t, s.Save(ctx, rey, []byte("one"), time.Minute, 0, v1))
			}
			require.NoError(t, s.Save(ctx, rey, []byte("one, re-sent after a change"), time.Minute, 0, v1))
			data, v, err := s.Load(ctx, rey)
			require.NoError(t, err)
			assert.Equal(t, "one", string(data), "a re-sent save wrote")
			assert.EqualValues(t, v1, v)

			for range 2 {
				require.NoError(t, s.Save(ctx, rey, []byte("two"), time.Minute, v1, v2))
			}
			require.ErrorIs(t, s.Save(ctx, rey, []byte("other"), time.Minute, v1, 5), convo.ErrConflict)
			data, v, err = s.Load(ctx, rey)
			require.NoError(t, err)
			assert.Equal(t, "two", string(data))
			assert.EqualValues(t, uint64(v2), v, "63-bit versions survive Lua")
		})
	}
}

// TestNotARecord puts other things under a conversation's key: every call
// fails (the Handler answers 500), none panics or starts the conversation
// afresh, and the key is left as it is until Delete.
func TestNotARecord(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			ctx := context.Background()
			tests := []struct {
				name string
				put  func(key string) error
			}{
				{"list", func(key string) error { return rdb.LPush(ctx, key, "x").Err() }},
				{"hash", func(key string) error { return rdb.HSet(ctx, key, "v", "7", "d", "x").Err() }},
				{"no version", func(key string) error { return rdb.Set(ctx, key, "not a record", 0).Err() }},
				{"no colon", func(key string) error { return rdb.Set(ctx, key, "4711", 0).Err() }},
				{"version 0", func(key string) error { return rdb.Set(ctx, key, "0:x", 0).Err() }},
				{"leading zero", func(key string) error { return rdb.Set(ctx, key, "0471:x", 0).Err() }},
				{"version of 64 bits", func(key string) error { return rdb.Set(ctx, key, "18446744073709551615:x", 0).Err() }},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					prefix := newPrefix(t, rdb)
					s := newStore(t, rdb, redisstore.Options{Prefix: prefix})
					key := prefix + rey.String()
					require.NoError(t, tc.put(key))
					before := rdb.Dump(ctx, key).Val()

					data, v, err := s.Load(ctx, rey)
					require.ErrorIs(t, err, convo.ErrCorrupt)
					assert.Nil(t, data)
					assert.Zero(t, v)
					assertRedacted(t, err, prefix)
					err = s.Save(ctx, rey, []byte("fresh"), time.Minute, 0, 1)
					require.Error(t, err)
					assertRedacted(t, err, prefix)
					assert.Equal(t, before, rdb.Dump(ctx, key).Val(), "Save wrote over it")

					h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true, Logger: discard})
					require.NoError(t, err)
					reply, err := convotest.NewTwilio(h, convotest.TwilioOptions{}).Phone(rey.From, rey.To).Send(ctx, "hi")
					require.NoError(t, err)
					assert.Equal(t, http.StatusInternalServerError, reply.Status)
					assert.Equal(t, before, rdb.Dump(ctx, key).Val(), "the Handler wrote over it")

					require.NoError(t, s.Delete(ctx, rey))
					data, _, err = s.Load(ctx, rey)
					require.NoError(t, err)
					assert.Nil(t, data, "Delete clears it")
				})
			}
		})
	}
}

// assertRedacted checks that err holds neither full numbers nor Redis keys.
func assertRedacted(t *testing.T, err error, prefix string) {
	t.Helper()
	assert.NotContains(t, err.Error(), rey.From)
	assert.NotContains(t, err.Error(), prefix)
	assert.Contains(t, err.Error(), rey.Redacted())
}

func TestConflictError(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			prefix := newPrefix(t, rdb)
			s := newStore(t, rdb, redisstore.Options{Prefix: prefix})
			ctx := context.Background()
			require.NoError(t, s.Save(ctx, rey, []byte("one"), time.Minute, 0, 1))
			err := s.Save(ctx, rey, []byte("two"), time.Minute, 0, 2)
			require.ErrorIs(t, err, convo.ErrConflict)
			assert.True(t, strings.HasPrefix(err.Error(), "redisstore: "), err.Error())
			assertRedacted(t, err, prefix)
		})
	}
}

func TestClosedClient(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.client(t)
			s := newStore(t, rdb, redisstore.Options{Prefix: newPrefix(t, b.client(t))})
			require.NoError(t, rdb.Close())
			ctx := context.Background()
			_, _, err := s.Load(ctx, rey)
			assert.ErrorIs(t, err, convo.ErrClosed)
			assert.ErrorIs(t, s.Save(ctx, rey, []byte("x"), time.Minute, 0, 1), convo.ErrClosed)
			assert.ErrorIs(t, s.Delete(ctx, rey), convo.ErrClosed)
		})
	}
}

// TestHungRedis calls a server that accepts connections and never
// answers: with ContextTimeoutEnabled, every call ends with the context,
// with an error wrapping its error.
func TestHungRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn // accepted, never answered
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	opts := recommended(ln.Addr().String())
	opts.ReadTimeout = time.Minute // only the context can end the calls
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.Options{})
	require.NoError(t, err)
	for name, call := range map[string]func(context.Context) error{
		"Load":   func(ctx context.Context) error { _, _, err := s.Load(ctx, rey); return err },
		"Save":   func(ctx context.Context) error { return s.Save(ctx, rey, []byte("x"), time.Minute, 0, 1) },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, rey) },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := call(ctx)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, name)
		assert.NotErrorIs(t, err, convo.ErrConflict, name)
	}
}
