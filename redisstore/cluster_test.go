package redisstore_test

import (
	"context"
	"fmt"
	"os"
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

// TestCluster runs the conformance suite on a Redis Cluster named by
// CONVO_TEST_REDIS_CLUSTER_ADDRS (comma-separated seed nodes), and checks
// that conversations spread over the cluster's slots.
func TestCluster(t *testing.T) {
	addrs := os.Getenv("CONVO_TEST_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("CONVO_TEST_REDIS_CLUSTER_ADDRS is not set: skipping the Redis Cluster test (set it to host:port,host:port,…)")
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 strings.Split(addrs, ","),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	})
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("CONVO_TEST_REDIS_CLUSTER_ADDRS=%s is set but the cluster is unreachable: %v", addrs, err)
	}
	prefixes := []string{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, prefix := range prefixes {
			err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
				iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					if err := node.Del(ctx, iter.Val()).Err(); err != nil {
						return err
					}
				}
				return iter.Err()
			})
			if err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		}
	})
	newPrefix := func() string {
		p := fmt.Sprintf("convotest:%x:", time.Now().UnixNano())
		prefixes = append(prefixes, p)
		return p
	}

	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		return redisstore.New(rdb, redisstore.Options{Prefix: newPrefix(), Expiry: e})
	})

	t.Run("Spread", func(t *testing.T) {
		s := redisstore.New(rdb, redisstore.Options{Prefix: newPrefix()})
		nodes := map[string]bool{}
		for i := range 32 {
			c := convo.NewConversation(convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: "+15005550006"})
			c.Count = 1
			require.NoError(t, s.Save(ctx, c))
			node, err := rdb.MasterForKey(ctx, s.RedisKey(c.Key))
			require.NoError(t, err)
			nodes[node.Options().Addr] = true
		}
		assert.Greater(t, len(nodes), 1, "conversations all landed on one node")
	})
}
