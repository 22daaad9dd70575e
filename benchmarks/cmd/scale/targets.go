package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/systems"
	"github.com/smsconvo/convo/memstore"
	"github.com/smsconvo/convo/redisstore"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
)

// cleanupBatch is sqlstore's Options.CleanupBatch (-cleanup-batch).
var cleanupBatch int

// ttl is how long the filled conversations live: convo's default Idle.
const ttl = 4 * time.Hour

// target is one store under test.
type target struct {
	name     string
	store    convo.Store
	handler  *convo.Handler
	fill     func(ctx context.Context, from, to int, data []byte) error
	fillHow  string
	size     func(ctx context.Context) (int64, error)
	sizeHow  string
	expirer  func(ctx context.Context, cfg *config, data []byte) (*expirer, error)
	closeFns []func(ctx context.Context) error
}

// expirer makes conversations go, in run, which returns how many went.
type expirer struct {
	how string
	run func(ctx context.Context) (int64, error)
	at  time.Time // when the conversations expire, if set in advance
}

func (t *target) close(ctx context.Context) error {
	var errs []error
	for i := len(t.closeFns) - 1; i >= 0; i-- {
		errs = append(errs, t.closeFns[i](ctx))
	}
	return errors.Join(errs...)
}

type backend struct {
	open func(ctx context.Context, role string) (*target, error)
}

var backends = map[string]backend{
	"memstore": {openMemstore},
	"sqlite":   {func(ctx context.Context, role string) (*target, error) { return openSQL(ctx, role, systems.SQLite) }},
	"postgres": {func(ctx context.Context, role string) (*target, error) { return openSQL(ctx, role, systems.Postgres) }},
	"mysql":    {func(ctx context.Context, role string) (*target, error) { return openSQL(ctx, role, systems.MySQL) }},
	"redis":    {openRedis},
}

func unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// parallel runs f on [from, to) in batches of batch, workers at once.
func parallel(ctx context.Context, from, to, batch, workers int, f func(ctx context.Context, from, to int) error) error {
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i, min(i+batch, to)); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	var err error
loop:
	for i := from; i < to; i += batch {
		select {
		case next <- i:
		case err = <-errc:
			break loop
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	close(errc)
	return errors.Join(err, <-errc)
}

func withHandler(t *target) (*target, error) {
	h, err := newHandler(t.store)
	t.handler = h
	return t, err
}

func openMemstore(_ context.Context, role string) (*target, error) {
	s := memstore.New(memstore.Options{MaxConversations: -1, SweepInterval: -1})
	t := &target{name: "memstore " + role, store: s, fillHow: "Store.Save, 4 at once", sizeHow: "Go heap after GC",
		closeFns: []func(context.Context) error{func(context.Context) error { return s.Close() }}}
	t.fill = func(ctx context.Context, from, to int, data []byte) error {
		return parallel(ctx, from, to, 1000, 4, func(ctx context.Context, from, to int) error {
			for i := from; i < to; i++ {
				if err := s.Save(ctx, key(i), bytes.Clone(data), ttl, 0, uint64(i+1)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	t.size = func(context.Context) (int64, error) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc), nil
	}
	t.expirer = func(ctx context.Context, cfg *config, data []byte) (*expirer, error) {
		// Saved again to live a millisecond, before the live ones are.
		err := parallel(ctx, cfg.live, cfg.n, 1000, 4, func(ctx context.Context, from, to int) error {
			for i := from; i < to; i++ {
				_, v, err := s.Load(ctx, key(i)) // a turn may have saved it since the fill
				if err == nil {
					err = s.Save(ctx, key(i), bytes.Clone(data), time.Millisecond, v, v+1)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		time.Sleep(10 * time.Millisecond)
		return &expirer{how: "memstore's Sweep", run: func(context.Context) (int64, error) {
			before := s.Len()
			s.Sweep()
			return int64(before - s.Len()), nil
		}}, err
	}
	return withHandler(t)
}

// openSQL opens a sqlstore of its own on the dialect's database.
func openSQL(ctx context.Context, role string, b systems.Backend) (*target, error) {
	env := systems.BackendsFromEnv()
	if err := env.Check(b); err != nil {
		return nil, err
	}
	t := &target{name: string(b) + " " + role}
	db, err := openDB(b, env, t)
	if err != nil {
		return nil, err
	}
	t.closeFns = append(t.closeFns, func(context.Context) error { return db.Close() })
	table := unique("convo_scale_")
	// The store's clock, which expiry moves 6 hours ahead: the filled
	// conversations (4 hours) have then expired, and their hour has
	// ended; the turns' (48 hours) have not. Its Cleanup then runs as the
	// background loop would, in the same Store.
	var ahead atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	s, err := sqlstore.New(db, sqlstore.Options{Table: table, CleanupInterval: -1, Now: now, CleanupBatch: cleanupBatch})
	if err != nil {
		return nil, errors.Join(err, t.close(ctx))
	}
	t.store = s
	t.closeFns = append(t.closeFns, func(ctx context.Context) error {
		q := func(n string) string { return `"` + n + `"` }
		if s.Dialect() == sqlstore.MySQL {
			q = func(n string) string { return "`" + n + "`" }
		}
		_, err1 := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+q(table))
		_, err2 := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+q(table+"_schema"))
		return errors.Join(s.Close(), err1, err2)
	})
	if err := s.Migrate(ctx); err != nil {
		return nil, errors.Join(err, t.close(ctx))
	}
	sql := &sqlTarget{db: db, dialect: s.Dialect(), table: table}
	t.fill, t.size, t.sizeHow = sql.fill, sql.size, sql.sizeHow()
	t.fillHow = fmt.Sprintf("INSERT of %d rows a statement, %d at once", sqlBatch, sql.workers())
	t.expirer = func(context.Context, *config, []byte) (*expirer, error) {
		ahead.Store(int64(6 * time.Hour))
		batch := cmp.Or(cleanupBatch, sqlstore.DefaultCleanupBatch)
		if cleanupBatch == 0 && s.Dialect() == sqlstore.SQLite {
			batch = sqlstore.DefaultSQLiteCleanupBatch
		}
		return &expirer{how: fmt.Sprintf("sqlstore's Cleanup, batches of %d", batch), run: s.Cleanup}, nil
	}
	return withHandler(t)
}

func openDB(b systems.Backend, env systems.Backends, t *target) (*sql.DB, error) {
	switch b {
	case systems.Postgres:
		return sql.Open("pgx", env.PostgresDSN)
	case systems.MySQL:
		return sql.Open("mysql", env.MySQLDSN)
	}
	dir, err := os.MkdirTemp("", "convo-scale-")
	if err != nil {
		return nil, err
	}
	t.closeFns = append(t.closeFns, func(context.Context) error { return os.RemoveAll(dir) })
	return sqlite.Open(filepath.Join(dir, "convo.db"))
}

// sqlTarget fills and measures a sqlstore table with SQL of its own.
type sqlTarget struct {
	db      *sql.DB
	dialect sqlstore.Dialect
	table   string
}

const sqlBatch = 500

func (s *sqlTarget) workers() int {
	if s.dialect == sqlstore.SQLite {
		return 1 // one writer at a time
	}
	return 4
}

func (s *sqlTarget) quoted() string {
	if s.dialect == sqlstore.MySQL {
		return "`" + s.table + "`"
	}
	return `"` + s.table + `"`
}

// times are expires_at and updated_at as sqlstore writes them.
func (s *sqlTarget) times() (expires, updated any) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	switch s.dialect {
	case sqlstore.SQLite:
		return now.Add(ttl).Format("2006-01-02T15:04:05.000000Z"), now.Format("2006-01-02T15:04:05.000000Z")
	case sqlstore.MySQL:
		return now.Add(ttl).Format("2006-01-02 15:04:05.000000"), now.Format("2006-01-02 15:04:05.000000")
	}
	return now.Add(ttl), now
}

// fill inserts the rows of conversations [from, to), as sqlstore's Save
// would have written them, sqlBatch a statement.
func (s *sqlTarget) fill(ctx context.Context, from, to int, data []byte) error {
	return parallel(ctx, from, to, sqlBatch, s.workers(), func(ctx context.Context, from, to int) error {
		expires, updated := s.times()
		var q strings.Builder
		q.WriteString("INSERT INTO " + s.quoted() + " (id, version, data, expires_at, updated_at) VALUES ")
		args := []any{string(data), expires, updated}
		if s.dialect == sqlstore.MySQL {
			args = args[:0]
		}
		for i := from; i < to; i++ {
			if i > from {
				q.WriteByte(',')
			}
			switch s.dialect {
			case sqlstore.MySQL:
				q.WriteString("(?, ?, ?, ?, ?)")
				args = append(args, key(i).String(), int64(i+1), string(data), expires, updated)
			case sqlstore.SQLite:
				fmt.Fprintf(&q, "(?%d, ?%d, ?1, ?2, ?3)", len(args)+1, len(args)+2)
				args = append(args, key(i).String(), int64(i+1))
			default:
				fmt.Fprintf(&q, "($%d, $%d, $1, $2, $3)", len(args)+1, len(args)+2)
				args = append(args, key(i).String(), int64(i+1))
			}
		}
		_, err := s.db.ExecContext(ctx, q.String(), args...)
		return err
	})
}

func (s *sqlTarget) sizeHow() string {
	switch s.dialect {
	case sqlstore.PostgreSQL:
		return "pg_total_relation_size: table, TOAST and indexes"
	case sqlstore.MySQL:
		return "data_length + index_length after ANALYZE TABLE"
	}
	return "the file's pages, after a WAL checkpoint"
}

func (s *sqlTarget) size(ctx context.Context) (int64, error) {
	var n int64
	var err error
	switch s.dialect {
	case sqlstore.PostgreSQL:
		err = s.db.QueryRowContext(ctx, "SELECT pg_total_relation_size($1::regclass)", s.quoted()).Scan(&n)
	case sqlstore.MySQL:
		if _, err = s.db.ExecContext(ctx, "ANALYZE TABLE "+s.quoted()); err == nil {
			err = s.db.QueryRowContext(ctx, "SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", s.table).Scan(&n)
		}
	default:
		if _, err = s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err == nil {
			err = s.db.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&n)
		}
	}
	return n, err
}

func openRedis(ctx context.Context, role string) (*target, error) {
	env := systems.BackendsFromEnv()
	if err := env.Check(systems.Redis); err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr, ContextTimeoutEnabled: true, ReadTimeout: 30 * time.Second})
	prefix := unique("convo-scale:") + ":"
	t := &target{name: "redis " + role, fillHow: "pipelined SET … PX of 1,000 keys, 4 at once", sizeHow: "used_memory of INFO memory",
		closeFns: []func(context.Context) error{func(context.Context) error { return rdb.Close() }, func(ctx context.Context) error { return systems.UnlinkAll(ctx, rdb, prefix) }}}
	s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		return nil, errors.Join(err, t.close(ctx))
	}
	t.store = s
	t.fill = func(ctx context.Context, from, to int, data []byte) error {
		return parallel(ctx, from, to, 1000, 4, func(ctx context.Context, from, to int) error {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := from; i < to; i++ {
					p.Set(ctx, prefix+key(i).String(), strconv.Itoa(i+1)+":"+string(data), ttl)
				}
				return nil
			})
			return err
		})
	}
	t.size = func(ctx context.Context) (int64, error) { return usedMemory(ctx, rdb) }
	t.expirer = func(ctx context.Context, cfg *config, _ []byte) (*expirer, error) {
		at := time.Now().Add(redisExpiryDelay)
		before, err := pexpire(ctx, rdb, prefix, cfg, at)
		return &expirer{how: "Redis's own expiry, all at one PEXPIREAT", at: at, run: func(ctx context.Context) (int64, error) {
			return waitExpired(ctx, rdb, before, cfg)
		}}, err
	}
	return withHandler(t)
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO memory")
}

// redisExpiryDelay is how far ahead of the PEXPIREATs the conversations
// expire: past the turns that save the live ones again.
const redisExpiryDelay = 30 * time.Second

// pexpire makes every conversation but the live ones expire at at, and
// returns how many keys Redis held before.
func pexpire(ctx context.Context, rdb *redis.Client, prefix string, cfg *config, at time.Time) (int64, error) {
	before, err := rdb.DBSize(ctx).Result()
	if err != nil {
		return 0, err
	}
	return before, parallel(ctx, cfg.live, cfg.n, 1000, 4, func(ctx context.Context, from, to int) error {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := from; i < to; i++ {
				p.PExpireAt(ctx, prefix+key(i).String(), at)
			}
			return nil
		})
		return err
	})
}

// waitExpired waits for Redis to have deleted the conversations pexpire
// set to expire, by DBSIZE, and returns how many keys went.
func waitExpired(ctx context.Context, rdb *redis.Client, before int64, cfg *config) (int64, error) {
	want := before - int64(cfg.n-cfg.live)
	for deadline := time.Now().Add(10 * time.Minute); ; {
		n, err := rdb.DBSize(ctx).Result()
		if err != nil {
			return 0, err
		}
		if n <= want+int64(cfg.n/1000) {
			return before - n, nil
		}
		if time.Now().After(deadline) {
			return before - n, fmt.Errorf("after 10 minutes Redis holds %d keys, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
