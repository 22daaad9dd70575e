package stores

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
)

// defaultRedisDSN is where -store redis looks without -dsn.
const defaultRedisDSN = "redis://127.0.0.1:6379/0"

func init() {
	register("redis", openRedis)
}

// openRedis opens a Redis store from a redis:// or rediss:// URL, with the
// timeouts redisstore's README recommends for webhook servers unless the
// URL sets them (dial_timeout, read_timeout, write_timeout, pool_timeout,
// max_retries query parameters).
func openRedis(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
	if dsn == "" {
		dsn = defaultRedisDSN
	}
	opts, err := redis.ParseURL(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing -dsn as a Redis URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true // stop waiting when the webhook's turn times out
	if opts.DialTimeout == 0 {
		opts.DialTimeout = time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = time.Second
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = time.Second
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("reaching Redis at %s (db %d): %w", opts.Addr, opts.DB, err)
	}
	log.Info("redis store", "addr", opts.Addr, "db", opts.DB, "prefix", redisstore.DefaultPrefix)
	return redisstore.New(rdb, redisstore.Options{}), rdb, nil
}
