package redisstore_test

import (
	"context"
	"net"
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

var (
	rey  = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn = convo.Key{From: "+12349013030", To: "+15005550006"}
)

func TestConformance(t *testing.T) {
	addr := redisAddr(t)
	clients := []struct {
		name string
		opts *redis.Options
	}{
		// The store relies on the client to stop at the context's end.
		{"ContextTimeoutEnabled", recommended(addr)},
		// The store stops waiting by itself.
		{"DefaultOptions", &redis.Options{Addr: addr}},
	}
	for _, tc := range clients {
		t.Run(tc.name, func(t *testing.T) {
			rdb := newClient(t, tc.opts)
			convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
				return redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t), Expiry: e})
			})
		})
	}
}

func TestKeyLayout(t *testing.T) {
	rdb := newClient(t, nil)
	clock := convotest.NewClock(time.Time{})
	prefix := newPrefix(t)
	s := redisstore.New(rdb, redisstore.Options{Prefix: prefix, Expiry: convo.Expiry{Now: clock.Now}})
	ctx := context.Background()

	assert.Equal(t, "convo:+14158675308/+15005550006",
		redisstore.New(rdb, redisstore.Options{}).RedisKey(rey), "default prefix and key form")
	assert.Equal(t, prefix, s.Prefix())
	assert.Equal(t, prefix+rey.String(), s.RedisKey(rey))

	c, err := s.Load(ctx, rey)
	require.NoError(t, err)
	c.Count, c.Started, c.LastActive = 1, clock.Now(), clock.Now()
	require.NoError(t, s.Save(ctx, c))

	fields, err := rdb.HGetAll(ctx, s.RedisKey(rey)).Result()
	require.NoError(t, err)
	assert.Len(t, fields, 3, "one hash with the fields v, exp and data")
	assert.Equal(t, strings.TrimSpace(fields["v"]), fields["v"])
	assert.NotEqual(t, "0", fields["v"])
	assert.Equal(t, clock.Now().Add(convo.DefaultIdle).UnixMilli(), mustInt(t, fields["exp"]), "exp is the expiry time in Unix ms")
	rec, err := convo.UnmarshalRecord([]byte(fields["data"]))
	require.NoError(t, err, "data is convo's JSON record")
	assert.Equal(t, 1, rec.Count)

	ttl, err := rdb.PTTL(ctx, s.RedisKey(rey)).Result()
	require.NoError(t, err)
	assert.InDelta(t, convo.DefaultIdle, ttl, float64(time.Minute), "the key's TTL is the idle timeout")

	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	assert.Equal(t, []string{s.RedisKey(rey)}, keys, "one key per conversation")
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	for _, r := range s {
		require.True(t, r >= '0' && r <= '9', "%q is not a number", s)
		n = n*10 + int64(r-'0')
	}
	return n
}

func TestTTL(t *testing.T) {
	rdb := newClient(t, nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		expiry  convo.Expiry
		elapsed time.Duration // between the conversation's start and the save
		want    time.Duration
	}{
		{"idle", convo.Expiry{Idle: 10 * time.Minute}, 0, 10 * time.Minute},
		{"idle refreshed", convo.Expiry{Idle: 10 * time.Minute}, 9 * time.Minute, 10 * time.Minute},
		{"lifetime sooner", convo.Expiry{Idle: time.Hour, Lifetime: 90 * time.Minute}, 50 * time.Minute, 40 * time.Minute},
		{"default", convo.Expiry{}, 0, convo.DefaultIdle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := convotest.NewClock(time.Time{})
			tc.expiry.Now = clock.Now
			s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t), Expiry: tc.expiry})
			c, err := s.Load(ctx, rey)
			require.NoError(t, err)
			c.Count, c.Started, c.LastActive = 1, clock.Now(), clock.Now()
			require.NoError(t, s.Save(ctx, c))
			if tc.elapsed > 0 {
				clock.Advance(tc.elapsed)
				c.Count, c.LastActive = 2, clock.Now()
				require.NoError(t, s.Save(ctx, c))
			}
			ttl, err := rdb.PTTL(ctx, s.RedisKey(rey)).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, tc.want)
			assert.Greater(t, ttl, tc.want-5*time.Second)
		})
	}
}

func TestSaveExpiredConversation(t *testing.T) {
	// A conversation saved after its own expiry gets the shortest TTL and
	// loads as new, as it would have had it been saved in time.
	rdb := newClient(t, nil)
	ctx := context.Background()
	clock := convotest.NewClock(time.Time{})
	s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t), Expiry: convo.Expiry{Idle: time.Minute, Now: clock.Now}})
	c := convo.NewConversation(rey)
	c.Count, c.LastActive = 1, clock.Now().Add(-time.Hour)
	require.NoError(t, s.Save(ctx, c))
	assert.NotZero(t, c.Version)
	got, err := s.Load(ctx, rey)
	require.NoError(t, err)
	assert.Zero(t, got.Version)
}

func TestCorrupt(t *testing.T) {
	rdb := newClient(t, nil)
	ctx := context.Background()
	good, err := convo.MarshalRecord(&convo.Conversation{Key: rey, Count: 3})
	require.NoError(t, err)
	other, err := convo.MarshalRecord(&convo.Conversation{Key: finn, Count: 3})
	require.NoError(t, err)
	future := time.Now().Add(time.Hour).UnixMilli()
	tests := []struct {
		name   string
		fields map[string]any // nil: a string value
		saveOK bool           // whether a Save at version 0 may write over it
	}{
		{"string value", nil, false},
		{"no data", map[string]any{"v": "7", "exp": future}, false},
		{"no version", map[string]any{"exp": future, "data": good}, true},
		{"no expiry", map[string]any{"v": "7", "data": good}, false},
		{"version not a number", map[string]any{"v": "x", "exp": future, "data": good}, false},
		{"version zero", map[string]any{"v": "0", "exp": future, "data": good}, true},
		{"expiry not a number", map[string]any{"v": "7", "exp": "soon", "data": good}, false},
		{"data not JSON", map[string]any{"v": "7", "exp": future, "data": "{not json"}, false},
		{"newer format", map[string]any{"v": "7", "exp": future, "data": `{"v":99,"from":"a","to":"b"}`}, false},
		{"another conversation's record", map[string]any{"v": "7", "exp": future, "data": other}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t)})
			k := s.RedisKey(rey)
			if tc.fields == nil {
				require.NoError(t, rdb.Set(ctx, k, "not a conversation", 0).Err())
			} else {
				require.NoError(t, rdb.HSet(ctx, k, tc.fields).Err())
			}
			dump := func() string { return rdb.Dump(ctx, k).Val() }
			before := dump()

			_, err := s.Load(ctx, rey)
			require.ErrorIs(t, err, convo.ErrCorrupt)
			assert.NotContains(t, err.Error(), rey.From, "errors never hold full numbers")
			assert.Equal(t, before, dump(), "Load changed a corrupt record")

			c := convo.NewConversation(rey)
			c.Count = 1
			err = s.Save(ctx, c)
			if tc.saveOK {
				return
			}
			require.Error(t, err)
			if tc.fields == nil {
				assert.ErrorIs(t, err, convo.ErrCorrupt)
			} else {
				assert.ErrorIs(t, err, convo.ErrConflict)
			}
			assert.Equal(t, before, dump(), "Save wrote over a corrupt record")

			require.NoError(t, s.Delete(ctx, rey), "Delete clears a corrupt record")
			got, err := s.Load(ctx, rey)
			require.NoError(t, err)
			assert.Zero(t, got.Version)
		})
	}
}

func TestTooLarge(t *testing.T) {
	rdb := newClient(t, nil)
	ctx := context.Background()
	s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t), MaxRecordBytes: 2000})

	c := convo.NewConversation(rey)
	for i := range 10 {
		c.History = append(c.History, convo.Turn{In: strings.Repeat("x", 300), Out: string(rune('a' + i))})
	}
	require.NoError(t, s.Save(ctx, c), "history is trimmed to fit")
	assert.Less(t, len(c.History), 10)
	assert.NotEmpty(t, c.History)
	assert.Equal(t, "j", c.History[len(c.History)-1].Out, "the newest turns are kept")
	got, err := s.Load(ctx, rey)
	require.NoError(t, err)
	assert.Equal(t, c.History, got.History)

	require.NoError(t, convo.SetState(got, strings.Repeat("y", 3000)))
	err = s.Save(ctx, got)
	require.ErrorIs(t, err, convo.ErrTooLarge)
	again, err := s.Load(ctx, rey)
	require.NoError(t, err)
	assert.Empty(t, again.State, "a too large save wrote")
	assert.Equal(t, c.Version, again.Version)

	unbounded := redisstore.New(rdb, redisstore.Options{Prefix: s.Prefix(), MaxRecordBytes: -1})
	require.NoError(t, unbounded.Save(ctx, got))
}

func TestClosedClient(t *testing.T) {
	rdb := redis.NewClient(recommended(redisAddr(t)))
	s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(t)})
	require.NoError(t, rdb.Close())
	ctx := context.Background()
	_, err := s.Load(ctx, rey)
	assert.ErrorIs(t, err, convo.ErrClosed)
	assert.ErrorIs(t, s.Save(ctx, convo.NewConversation(rey)), convo.ErrClosed)
	assert.ErrorIs(t, s.Delete(ctx, rey), convo.ErrClosed)
}

// TestUnreachable checks that a store whose Redis is down or hung fails
// within the caller's deadline with an error wrapping it, whatever the
// client's options.
func TestUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()

	hung, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()

	for _, server := range []struct{ name, addr string }{{"closed port", closedAddr}, {"hung server", hung.Addr().String()}} {
		for _, client := range []struct {
			name string
			opts *redis.Options
		}{
			{"recommended", recommended(server.addr)},
			{"default options", &redis.Options{Addr: server.addr}},
		} {
			t.Run(server.name+"/"+client.name, func(t *testing.T) {
				rdb := redis.NewClient(client.opts)
				defer rdb.Close()
				s := redisstore.New(rdb, redisstore.Options{})
				for _, call := range []struct {
					name string
					do   func(context.Context) error
				}{
					{"Load", func(ctx context.Context) error { _, err := s.Load(ctx, rey); return err }},
					{"Save", func(ctx context.Context) error { return s.Save(ctx, convo.NewConversation(rey)) }},
					{"Delete", func(ctx context.Context) error { return s.Delete(ctx, rey) }},
				} {
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					start := time.Now()
					err := call.do(ctx)
					elapsed := time.Since(start)
					cancel()
					require.Error(t, err, call.name)
					assert.NotErrorIs(t, err, convo.ErrConflict, call.name)
					assert.Less(t, elapsed, 1500*time.Millisecond, "%s took %v against an unreachable Redis", call.name, elapsed)
				}
			})
		}
	}
}
