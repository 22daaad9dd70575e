package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
	"github.com/stretchr/testify/require"
)

var (
	rey  = convo.Key{From: "+14158675308", To: "+15005550006"}
	finn = convo.Key{From: "+12349013030", To: "+15005550006"}
)

// backend is a Redis deployment the tests run against.
type backend struct {
	name   string
	client func(t testing.TB) redis.UniversalClient // a new client, closed when t ends
}

// backends returns the deployments named by CONVO_TEST_REDIS_ADDR (one
// server) and CONVO_TEST_REDIS_CLUSTER_ADDRS (seed nodes of a cluster,
// comma-separated), skipping t when neither is set.
func backends(t *testing.T) []backend {
	var bs []backend
	if addr := os.Getenv("CONVO_TEST_REDIS_ADDR"); addr != "" {
		bs = append(bs, backend{"Single", func(t testing.TB) redis.UniversalClient { return newClient(t, recommended(addr)) }})
	}
	if addrs := os.Getenv("CONVO_TEST_REDIS_CLUSTER_ADDRS"); addrs != "" {
		bs = append(bs, backend{"Cluster", func(t testing.TB) redis.UniversalClient { return newClusterClient(t, addrs) }})
	}
	if len(bs) == 0 {
		t.Skip("neither CONVO_TEST_REDIS_ADDR (host:port) nor CONVO_TEST_REDIS_CLUSTER_ADDRS (host:port,host:port,…) is set: skipping the tests that need Redis")
	}
	return bs
}

// redisAddr returns CONVO_TEST_REDIS_ADDR, skipping t when it is unset.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("CONVO_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("CONVO_TEST_REDIS_ADDR is not set: skipping a test that needs a Redis server (set it to host:port)")
	}
	return addr
}

// recommended is the client configuration README.md recommends for
// webhook servers.
func recommended(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            1,
	}
}

// newClient returns a client for opts, closed when t ends. It fails t
// when the server does not answer.
func newClient(t testing.TB, opts *redis.Options) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ping(t, rdb, "CONVO_TEST_REDIS_ADDR="+opts.Addr)
	return rdb
}

// newClusterClient returns a client of the cluster with the seed nodes
// addrs, closed when t ends. It fails t when the cluster does not answer.
func newClusterClient(t testing.TB, addrs string) *redis.ClusterClient {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 strings.Split(addrs, ","),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            1,
	})
	t.Cleanup(func() { rdb.Close() })
	ping(t, rdb, "CONVO_TEST_REDIS_CLUSTER_ADDRS="+addrs)
	return rdb
}

func ping(t testing.TB, rdb redis.UniversalClient, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s is set but Redis does not answer: %v", what, err)
	}
}

// newPrefix returns a key prefix of t's own, and deletes every key under
// it through rdb (on every master of a cluster) when t ends.
func newPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "convotest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		clean := func(ctx context.Context, node *redis.Client) error {
			iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				if err := node.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		}
		var err error
		switch c := rdb.(type) {
		case *redis.ClusterClient:
			err = c.ForEachMaster(ctx, clean)
		case *redis.Client:
			err = clean(ctx, c)
		default:
			t.Errorf("cannot clean up %s* through a %T", prefix, rdb)
		}
		if err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

// newStore returns a store on rdb with a prefix of t's own.
func newStore(t testing.TB, rdb redis.UniversalClient, opts redisstore.Options) *redisstore.Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = newPrefix(t, rdb)
	}
	s, err := redisstore.New(rdb, opts)
	require.NoError(t, err)
	return s
}
