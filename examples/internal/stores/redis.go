package stores

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
)

// DefaultRedis is where -store redis goes without -dsn.
const DefaultRedis = "redis://127.0.0.1:6379/0"

// Prefix is what the Redis keys of app's conversations start with:
// convo:app:.
func Prefix(app string) string { return "convo:" + app + ":" }

func usageRedis(app string) string {
	return fmt.Sprintf("Redis: -dsn redis://[:PASSWORD@]HOST:6379/0 (default %s), keys %s…;\n"+
		"            Redis Cluster: -dsn with several nodes separated by commas, such as\n"+
		"            127.0.0.1:7000,127.0.0.1:7001 or redis://:PASSWORD@HOST1:7000,HOST2:7000\n"+
		"            (the first node may be a redis:// or rediss:// URL naming the user, password and TLS)", DefaultRedis, Prefix(app))
}

// openRedis opens a Redis store on one node or, when -dsn names several
// separated by commas, on Redis Cluster; with the timeouts redisstore's
// README recommends for webhook servers, unless a single node's URL sets
// them (dial_timeout, read_timeout, write_timeout, pool_timeout,
// max_retries).
func openRedis(ctx context.Context, c config) (convo.Store, io.Closer, error) {
	if c.dsn == "" {
		c.dsn = DefaultRedis
	}
	var rdb redis.UniversalClient
	where := ""
	if strings.Contains(c.dsn, ",") {
		opts, err := clusterOptions(c.dsn)
		if err != nil {
			return nil, nil, err
		}
		rdb, where = redis.NewClusterClient(opts), "Redis Cluster at "+strings.Join(opts.Addrs, ",")
	} else {
		opts, err := redis.ParseURL(c.dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing -dsn as a Redis URL: %w", err)
		}
		withTimeouts(&opts.ContextTimeoutEnabled, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout, &opts.MaxRetries)
		rdb, where = redis.NewClient(opts), fmt.Sprintf("Redis at %s (db %d)", opts.Addr, opts.DB)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("reaching %s: %w", where, err)
	}
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: Prefix(c.app)})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	c.log.Info("redis store", "at", where, "prefix", Prefix(c.app))
	return s, rdb, nil
}

// clusterOptions reads a -dsn of several nodes separated by commas, each
// host:port; the first may be a redis:// or rediss:// URL, whose user,
// password and TLS apply to every node.
func clusterOptions(dsn string) (*redis.ClusterOptions, error) {
	opts := &redis.ClusterOptions{}
	for i, node := range strings.Split(dsn, ",") {
		node = strings.TrimSpace(node)
		if i == 0 && strings.Contains(node, "://") {
			u, err := redis.ParseURL(node)
			if err != nil {
				return nil, fmt.Errorf("parsing the first node of -dsn as a Redis URL: %w", err)
			}
			if u.DB != 0 {
				return nil, errors.New("redis Cluster has database 0 only: drop the /DB from -dsn")
			}
			opts.Username, opts.Password, opts.TLSConfig = u.Username, u.Password, u.TLSConfig
			node = u.Addr
		}
		if _, port, ok := strings.Cut(node, ":"); !ok || port == "" || strings.Contains(node, "/") {
			return nil, fmt.Errorf("-dsn node %q is not host:port", node)
		}
		opts.Addrs = append(opts.Addrs, node)
	}
	withTimeouts(&opts.ContextTimeoutEnabled, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout, &opts.MaxRetries)
	return opts, nil
}

// withTimeouts sets what a webhook server needs of a Redis client: stop
// waiting when the turn's context ends, and time out within a second
// where the options say nothing.
func withTimeouts(ctxTimeout *bool, dial, read, write, pool *time.Duration, retries *int) {
	*ctxTimeout = true
	for _, d := range []*time.Duration{dial, read, write, pool} {
		if *d == 0 {
			*d = time.Second
		}
	}
	if *retries == 0 {
		*retries = 1
	}
}
