package systems

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo/benchmarks/internal/proccpu"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/smsconvo/convo/redisstore"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
)

// Backend names where a system keeps its state.
type Backend string

// The backends of the shared-store systems.
const (
	SQLite   Backend = "sqlite"   // a file: no server
	Postgres Backend = "postgres" // PostgreSQL, through pgx's database/sql driver
	MySQL    Backend = "mysql"    // MySQL or MariaDB, through go-sql-driver/mysql
	Redis    Backend = "redis"    // Redis, through go-redis v9
)

// The environment variables that name the servers, as in the stores' own
// tests.
const (
	EnvPostgres = "CONVO_TEST_POSTGRES_DSN"
	EnvMySQL    = "CONVO_TEST_MYSQL_DSN"
	EnvRedis    = "CONVO_TEST_REDIS_ADDR"
)

// Backends are the servers the shared-store systems use; "" for one not
// available.
type Backends struct {
	PostgresDSN string // postgres://user@host:5432/db?sslmode=disable
	MySQLDSN    string // user@tcp(host:3306)/db
	RedisAddr   string // host:6379
}

// BackendsFromEnv reads the servers from the environment variables.
func BackendsFromEnv() Backends {
	return Backends{PostgresDSN: os.Getenv(EnvPostgres), MySQLDSN: os.Getenv(EnvMySQL), RedisAddr: os.Getenv(EnvRedis)}
}

// ErrNoBackend is returned by System.New for a system whose server the
// Options do not name.
var ErrNoBackend = errors.New("backend not configured")

// Check returns an error wrapping ErrNoBackend, naming the environment
// variable to set, when b lacks the server of backend.
func (b Backends) Check(backend Backend) error {
	var have bool
	var env string
	switch backend {
	case Postgres:
		have, env = b.PostgresDSN != "", EnvPostgres
	case MySQL:
		have, env = b.MySQLDSN != "", EnvMySQL
	case Redis:
		have, env = b.RedisAddr != "", EnvRedis
	default:
		return nil
	}
	if !have {
		return fmt.Errorf("%w: set %s to use %s", ErrNoBackend, env, backend)
	}
	return nil
}

// The shared-store systems: each convo store beside scs's store on the
// same backend, placed after scs-memstore.
func init() {
	all = append(all,
		System{Name: "convo-sqlstore", Counts: true, Convo: true, Backend: SQLite, Peer: "scs-sqlite3store", New: newConvoSQLite},
		System{Name: "scs-sqlite3store", Counts: true, Backend: SQLite, Peer: "convo-sqlstore", New: newSCSSQLite},
		System{Name: "convo-sqlstore-postgres", Counts: true, Convo: true, Backend: Postgres, Peer: "scs-postgresstore", New: newConvoPostgres},
		System{Name: "scs-postgresstore", Counts: true, Backend: Postgres, Peer: "convo-sqlstore-postgres", New: newSCSPostgres},
		System{Name: "convo-sqlstore-mysql", Counts: true, Convo: true, Backend: MySQL, Peer: "scs-mysqlstore", New: newConvoMySQL},
		System{Name: "scs-mysqlstore", Counts: true, Backend: MySQL, Peer: "convo-sqlstore-mysql", New: newSCSMySQL},
		System{Name: "convo-redisstore", Counts: true, Convo: true, Backend: Redis, Peer: "scs-goredisstore", New: newConvoRedis},
		System{Name: "scs-goredisstore", Counts: true, Backend: Redis, Peer: "convo-redisstore", New: newSCSRedis},
	)
}

// newConvoCookiestore keeps the conversation in Twilio's cookie, signed
// and encrypted with a fresh key pair.
func newConvoCookiestore(o Options) (http.Handler, func() error, error) {
	keys, err := cookiestore.GenerateKeyPair()
	if err != nil {
		return nil, nil, err
	}
	store, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{keys}, Logger: discard})
	if err != nil {
		return nil, nil, err
	}
	h, err := convoHandler(store, o)
	return h, noClose, err
}

// poolSize bounds every database pool of the systems, convo's (which
// sqlstore sets by default) and scs's alike, idle connections included:
// database/sql's default of 2 idle connections would make a peer open and
// close connections under 16 requests at once.
const poolSize = sqlstore.DefaultMaxOpenConns

// setupTimeout bounds creating and dropping a system's tables.
const setupTimeout = 30 * time.Second

func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// convoSQL is the counter on sqlstore over db, in a table of its own that
// close drops (with its schema table) before closing db.
func convoSQL(db *sql.DB, o Options) (http.Handler, func() error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	table := uniqueName("convo_bench_")
	store, err := sqlstore.New(db, sqlstore.Options{Table: table, Logger: discard})
	if err != nil {
		return nil, nil, errors.Join(err, db.Close())
	}
	if err := store.Migrate(ctx); err != nil {
		return nil, nil, errors.Join(err, store.Close(), db.Close())
	}
	closeAll := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		return errors.Join(store.Close(), dropTables(ctx, db, store.Dialect(), table, table+"_schema"), db.Close())
	}
	h, err := convoHandler(store, o)
	if err != nil {
		return nil, nil, errors.Join(err, closeAll())
	}
	return h, closeAll, nil
}

func dropTables(ctx context.Context, db *sql.DB, d sqlstore.Dialect, tables ...string) error {
	var errs []error
	for _, t := range tables {
		if d == sqlstore.MySQL {
			t = "`" + t + "`"
		} else {
			t = `"` + t + `"`
		}
		_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// newConvoSQLite keeps conversations in a SQLite file (sqlite.Open: WAL,
// synchronous NORMAL) in o.Dir.
func newConvoSQLite(o Options) (http.Handler, func() error, error) {
	db, err := sqlite.Open(filepath.Join(o.Dir, uniqueName("convo-")+".db"))
	if err != nil {
		return nil, nil, err
	}
	return convoSQL(db, o)
}

func newConvoPostgres(o Options) (http.Handler, func() error, error) {
	if err := o.Backends.Check(Postgres); err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("pgx", o.Backends.PostgresDSN)
	if err != nil {
		return nil, nil, err
	}
	return convoSQL(db, o)
}

func newConvoMySQL(o Options) (http.Handler, func() error, error) {
	if err := o.Backends.Check(MySQL); err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("mysql", o.Backends.MySQLDSN)
	if err != nil {
		return nil, nil, err
	}
	return convoSQL(db, o)
}

// scsSQL creates scs's table in db with ddl (the schema its README
// gives), builds the store, and returns the counter on it and a close
// that runs drop and closes db.
func scsSQL(db *sql.DB, ddl []string, store func() scs.Store, drop func(context.Context) error, o Options) (http.Handler, func() error, error) {
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	closeAll := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		return errors.Join(drop(ctx), db.Close())
	}
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, nil, errors.Join(fmt.Errorf("creating scs's table: %w", err), closeAll())
		}
	}
	return scsHandler(store(), o), closeAll, nil
}

// newSCSSQLite is scs's sqlite3store over the same driver as convo's
// (sqlite.Open, modernc.org/sqlite, the same pragmas), in o.Dir.
func newSCSSQLite(o Options) (http.Handler, func() error, error) {
	db, err := sqlite.Open(filepath.Join(o.Dir, uniqueName("scs-")+".db"))
	if err != nil {
		return nil, nil, err
	}
	t := uniqueName("scs_bench_")
	ddl := []string{`CREATE TABLE "` + t + `" (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)`,
		`CREATE INDEX "` + t + `_expiry_idx" ON "` + t + `" (expiry)`}
	store := func() scs.Store {
		return sqlite3store.NewWithConfig(db, sqlite3store.Config{TableName: t, CleanUpInterval: 0})
	}
	drop := func(ctx context.Context) error { return dropTables(ctx, db, sqlstore.SQLite, t) }
	return scsSQL(db, ddl, store, drop, o)
}

func newSCSPostgres(o Options) (http.Handler, func() error, error) {
	if err := o.Backends.Check(Postgres); err != nil {
		return nil, nil, err
	}
	db, err := sql.Open("pgx", o.Backends.PostgresDSN)
	if err != nil {
		return nil, nil, err
	}
	t := uniqueName("scs_bench_")
	ddl := []string{`CREATE TABLE "` + t + `" (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX "` + t + `_expiry_idx" ON "` + t + `" (expiry)`}
	store := func() scs.Store {
		return postgresstore.NewWithConfig(db, postgresstore.Config{TableName: t, CleanUpInterval: 0})
	}
	drop := func(ctx context.Context) error { return dropTables(ctx, db, sqlstore.PostgreSQL, t) }
	return scsSQL(db, ddl, store, drop, o)
}

// newSCSMySQL is scs's mysqlstore, whose table is always "sessions": it
// gets a database of its own, which close drops.
func newSCSMySQL(o Options) (http.Handler, func() error, error) {
	if err := o.Backends.Check(MySQL); err != nil {
		return nil, nil, err
	}
	cfg, err := mysql.ParseDSN(o.Backends.MySQLDSN)
	if err != nil {
		return nil, nil, err
	}
	admin, err := sql.Open("mysql", o.Backends.MySQLDSN)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	cfg.DBName = uniqueName("scs_bench_")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+cfg.DBName+"`"); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("creating a database for scs's sessions table: %w", err), admin.Close())
	}
	drop := func(ctx context.Context) error {
		_, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+cfg.DBName+"`")
		return errors.Join(err, admin.Close())
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, nil, errors.Join(err, drop(ctx))
	}
	ddl := []string{"CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions (expiry)"}
	store := func() scs.Store { return mysqlstore.NewWithCleanupInterval(db, 0) }
	return scsSQL(db, ddl, store, drop, o)
}

// newRedisClient connects to o's Redis with the options redisstore's
// README recommends, and checks that it answers.
func newRedisClient(o Options) (*redis.Client, error) {
	if err := o.Backends.Check(Redis); err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: o.Backends.RedisAddr, ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, PoolTimeout: time.Second, MaxRetries: 1})
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("redis at %s: %w", o.Backends.RedisAddr, err), rdb.Close())
	}
	return rdb, nil
}

// closeRedis deletes the keys under prefix and closes rdb.
func closeRedis(rdb *redis.Client, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return errors.Join(UnlinkAll(ctx, rdb, prefix), rdb.Close())
}

// UnlinkAll deletes the keys under prefix, 1,000 at a time.
func UnlinkAll(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	var errs []error
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 1000 {
			errs, keys = append(errs, rdb.Unlink(ctx, keys...).Err()), keys[:0]
		}
	}
	if len(keys) > 0 {
		errs = append(errs, rdb.Unlink(ctx, keys...).Err())
	}
	return errors.Join(append(errs, iter.Err())...)
}

func newConvoRedis(o Options) (http.Handler, func() error, error) {
	rdb, err := newRedisClient(o)
	if err != nil {
		return nil, nil, err
	}
	prefix := uniqueName("convo-bench:") + ":"
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	if err != nil {
		return nil, nil, errors.Join(err, rdb.Close())
	}
	h, err := convoHandler(store, o)
	return h, func() error { return closeRedis(rdb, prefix) }, err
}

func newSCSRedis(o Options) (http.Handler, func() error, error) {
	rdb, err := newRedisClient(o)
	if err != nil {
		return nil, nil, err
	}
	prefix := uniqueName("scs-bench:") + ":"
	return scsHandler(goredisstore.NewWithPrefix(rdb, prefix), o), func() error { return closeRedis(rdb, prefix) }, nil
}

// Server returns the processes of backend's server on this machine, whose
// CPU time a message costs besides the webhook's: none for SQLite, which
// runs in the webhook's process.
func (b Backends) Server(backend Backend) (proccpu.Group, bool) {
	switch backend {
	case Postgres:
		return proccpu.Postgres, true
	case MySQL:
		return proccpu.MariaDB, true
	case Redis:
		_, port, err := net.SplitHostPort(b.RedisAddr)
		if err != nil {
			port = "6379"
		}
		return proccpu.Redis(port), true
	}
	return proccpu.Group{}, false
}
