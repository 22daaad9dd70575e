package redisstore_test

// Benchmarks of a conversation's turn (a Load and a Save) against the
// Redis of CONVO_TEST_REDIS_ADDR, for the store's layout (one string,
// "version:record") and, for comparison, a hash {v, d} saved by the same
// compare-and-set (hashStore below, which is not part of the package):
//
//	CONVO_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench . -benchmem
//
// Besides the client's time and allocations, each reports, per turn, the
// Redis server's CPU time (server-cpu-ns/op: used_cpu_user and
// used_cpu_sys of INFO cpu, network included) and the time its commands
// ran (server-cmd-ns/op: INFO commandstats of GET, HMGET and EVALSHA),
// meaningful only when nothing else uses that server, and the memory of
// one record (MEMORY USAGE).

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/redisstore"
	"github.com/stretchr/testify/require"
)

// layouts are the stores compared, each made on rdb with a prefix.
var layouts = []struct {
	name  string
	store func(rdb redis.UniversalClient, prefix string) (convo.Store, error)
}{
	{"string", func(rdb redis.UniversalClient, prefix string) (convo.Store, error) {
		return redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	}},
	{"hash", func(rdb redis.UniversalClient, prefix string) (convo.Store, error) {
		return &hashStore{rdb: rdb, prefix: prefix}, nil
	}},
}

// sizes are record sizes of the Greeter's conversations: a first message,
// and a busy conversation holding retry records of 20 answers.
var sizes = []int{512, 4 << 10}

func BenchmarkTurn(b *testing.B) {
	rdb := newClient(b, recommended(redisAddr(b)))
	for _, l := range layouts {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("%s/%dB", l.name, size), func(b *testing.B) {
				prefix := newPrefix(b, rdb)
				s, err := l.store(rdb, prefix)
				require.NoError(b, err)
				rec := []byte(strings.Repeat("x", size))
				ctx := context.Background()
				before := serverStats(b, rdb)
				for b.Loop() {
					turn(b, s, ctx, rey, rec)
				}
				serverStats(b, rdb).report(b, before)
				mem, err := rdb.MemoryUsage(ctx, prefix+rey.String()).Result()
				require.NoError(b, err)
				b.ReportMetric(float64(mem), "redis-B/record")
			})
		}
	}
}

// BenchmarkTurnParallel runs turns of many conversations at once, each
// goroutine turning its own.
func BenchmarkTurnParallel(b *testing.B) {
	rdb := newClient(b, recommended(redisAddr(b)))
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			s, err := l.store(rdb, newPrefix(b, rdb))
			require.NoError(b, err)
			rec := []byte(strings.Repeat("x", sizes[0]))
			var next atomic.Int64
			before := serverStats(b, rdb)
			b.RunParallel(func(pb *testing.PB) {
				key := convo.Key{From: "+1415555" + strconv.FormatInt(next.Add(1), 10), To: rey.To}
				for pb.Next() {
					turn(b, s, context.Background(), key, rec)
				}
			})
			serverStats(b, rdb).report(b, before)
		})
	}
}

// turn loads key and saves rec over what it loaded.
func turn(b *testing.B, s convo.Store, ctx context.Context, key convo.Key, rec []byte) {
	_, v, err := s.Load(ctx, key)
	if err == nil {
		err = s.Save(ctx, key, rec, time.Hour, v, v%(1<<62)+1)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// stats are a Redis server's CPU time and the time its commands of a
// turn have run, in µs.
type stats struct{ cpu, cmd float64 }

func serverStats(b *testing.B, rdb *redis.Client) stats {
	info, err := rdb.Info(context.Background(), "cpu", "commandstats").Result()
	require.NoError(b, err)
	var st stats
	for _, line := range strings.Split(info, "\r\n") {
		name, val, _ := strings.Cut(line, ":")
		switch name {
		case "used_cpu_sys", "used_cpu_user":
			f, err := strconv.ParseFloat(val, 64)
			require.NoError(b, err)
			st.cpu += f * 1e6
		case "cmdstat_get", "cmdstat_hmget", "cmdstat_evalsha", "cmdstat_eval":
			_, usec, _ := strings.Cut(val, ",usec=")
			usec, _, _ = strings.Cut(usec, ",")
			f, err := strconv.ParseFloat(usec, 64)
			require.NoError(b, err)
			st.cmd += f
		}
	}
	return st
}

func (st stats) report(b *testing.B, before stats) {
	b.ReportMetric((st.cpu-before.cpu)*1e3/float64(b.N), "server-cpu-ns/op")
	b.ReportMetric((st.cmd-before.cmd)*1e3/float64(b.N), "server-cmd-ns/op")
}

// hashStore keeps each record as a hash {v: version, d: record} with the
// same compare-and-set as redisstore, for comparison only. TestHashStore
// checks that it keeps the Store contract, so the figures compare like
// with like.
type hashStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var hashSave = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v') or ''
if v == ARGV[2] then return 1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

func (s *hashStore) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	vals, err := s.rdb.HMGet(ctx, s.prefix+key.String(), "v", "d").Result()
	if err != nil {
		return nil, 0, err
	}
	v, ok := vals[0].(string)
	d, ok2 := vals[1].(string)
	if !ok || !ok2 {
		return nil, 0, nil
	}
	version, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", convo.ErrCorrupt, err)
	}
	return []byte(d), version, nil
}

func (s *hashStore) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	expect := ""
	if prev != 0 {
		expect = strconv.FormatUint(prev, 10)
	}
	ms := max((ttl + time.Millisecond - 1).Milliseconds(), 1)
	ok, err := hashSave.Run(ctx, s.rdb, []string{s.prefix + key.String()}, expect, strconv.FormatUint(next, 10), ms, data).Int64()
	if err == nil && ok != 1 {
		err = convo.ErrConflict
	}
	return err
}

func (s *hashStore) Delete(ctx context.Context, key convo.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.rdb.Del(ctx, s.prefix+key.String()).Err()
}

func TestHashStore(t *testing.T) {
	rdb := newClient(t, recommended(redisAddr(t)))
	convotest.TestStore(t, func(t *testing.T) convo.Store {
		return &hashStore{rdb: rdb, prefix: newPrefix(t, rdb)}
	})
}
