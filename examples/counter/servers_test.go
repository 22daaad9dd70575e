package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/servetest"
	"github.com/smsconvo/convo/examples/internal/stores"
	"github.com/smsconvo/convo/redisstore"
	"github.com/smsconvo/convo/sqlstore"
)

// server returns the value of the environment variable naming a test
// server, skipping the test when it is unset.
func server(t *testing.T, env, store string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is not set: skipping the test of -store %s", env, store)
	}
	return v
}

// randomPair returns a From/To pair no other test run uses.
func randomPair(t *testing.T) convo.Key {
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	require.NoError(t, err)
	return convo.Key{From: fmt.Sprintf("+1999%09d", n.Int64()), To: ourNumber}
}

// countTwice texts the counter twice from a random pair, retries the
// second message, and returns the pair.
func countTwice(t *testing.T, prog *servetest.Program) convo.Key {
	t.Helper()
	key := randomPair(t)
	p := twilio(t, prog, "").Phone(key.From, key.To)
	assert.Equal(t, "Friend has messaged +15005550006 1 times", say(t, p, "hi"))
	assert.Equal(t, "Friend has messaged +15005550006 2 times", say(t, p, "hi"))
	r, err := p.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Friend has messaged +15005550006 2 times", r.String())
	return key
}

// TestCounterOnSQLServers runs the counter with -store postgres and -store
// mysql against the servers CONVO_TEST_POSTGRES_DSN and
// CONVO_TEST_MYSQL_DSN name, with -dsn as users write it, and checks that
// the conversation is in the counter's own table.
func TestCounterOnSQLServers(t *testing.T) {
	for _, tc := range []struct{ store, env, driver string }{
		{"postgres", "CONVO_TEST_POSTGRES_DSN", "pgx"},
		{"mysql", "CONVO_TEST_MYSQL_DSN", "mysql"},
	} {
		t.Run(tc.store, func(t *testing.T) {
			dsn := server(t, tc.env, tc.store)
			prog := servetest.Start(t, run, nil, "-store", tc.store, "-dsn", dsn)
			assert.Contains(t, prog.Logs.String(), "table=counter_conversations")
			key := countTwice(t, prog)

			db, err := sql.Open(tc.driver, dsn)
			require.NoError(t, err)
			defer db.Close()
			s, err := sqlstore.New(db, sqlstore.Options{Table: stores.Table("counter"), CleanupInterval: -1})
			require.NoError(t, err)
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			data, _, err := s.Load(ctx, key)
			require.NoError(t, err)
			assert.Contains(t, string(data), `"count":2`, "the conversation is in counter_conversations")
			assert.NoError(t, s.Delete(ctx, key))
		})
	}
}

// TestCounterOnRedis runs the counter with -store redis on the server
// CONVO_TEST_REDIS_ADDR names (host:port), given as a redis:// URL.
func TestCounterOnRedis(t *testing.T) {
	addr := server(t, "CONVO_TEST_REDIS_ADDR", "redis")
	prog := servetest.Start(t, run, nil, "-store", "redis", "-dsn", "redis://"+addr+"/0")
	key := countTwice(t, prog)
	checkRedis(t, redis.NewClient(&redis.Options{Addr: addr}), key)
}

// TestCounterOnRedisCluster runs the counter with -store redis on the
// Redis Cluster CONVO_TEST_REDIS_CLUSTER_ADDRS names (host:port,host:port,
// …, as .ci/redis-cluster prints it), given as -dsn unchanged.
func TestCounterOnRedisCluster(t *testing.T) {
	addrs := server(t, "CONVO_TEST_REDIS_CLUSTER_ADDRS", "redis (Redis Cluster)")
	prog := servetest.Start(t, run, nil, "-store", "redis", "-dsn", addrs)
	assert.Contains(t, prog.Logs.String(), "Redis Cluster at")
	key := countTwice(t, prog)
	checkRedis(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ",")}), key)
}

// checkRedis checks that key's conversation is under the counter's own
// prefix, and deletes it.
func checkRedis(t *testing.T, rdb redis.UniversalClient, key convo.Key) {
	t.Helper()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := rdb.Exists(ctx, stores.Prefix("counter")+key.String()).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "the conversation is under convo:counter:")
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: stores.Prefix("counter")})
	require.NoError(t, err)
	assert.NoError(t, s.Delete(ctx, key))
}
