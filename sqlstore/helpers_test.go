package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // registers "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
	"github.com/stretchr/testify/require"
)

// dialects lists the dialects to test, with the environment variable that
// names each server's DSN ("" for SQLite, always tested on a temporary
// file).
var dialects = []struct {
	name sqlstore.Dialect
	env  string
}{
	{sqlstore.SQLite, ""},
	{sqlstore.PostgreSQL, "CONVO_TEST_POSTGRES_DSN"},
	{sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN"},
}

// dsnFor returns the DSN to test dialect d on, skipping t when its
// variable is unset. For SQLite it is a new file in a temporary directory.
func dsnFor(t testing.TB, d sqlstore.Dialect, env string) string {
	t.Helper()
	if env == "" {
		return filepath.Join(t.TempDir(), "convo.db")
	}
	dsn := os.Getenv(env)
	if dsn == "" {
		t.Skipf("%s is not set: skipping the %s tests (set it to a DSN such as the one in .ci/run)", env, d)
	}
	return dsn
}

// openDB opens dsn with the driver a user of dialect d would, and checks
// that the server answers: a DSN that is set but unreachable fails t.
func openDB(t testing.TB, d sqlstore.Dialect, dsn string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	switch d {
	case sqlstore.SQLite:
		db, err = sqlite.Open(dsn)
	case sqlstore.PostgreSQL:
		db, err = sql.Open("pgx", dsn)
	default:
		db, err = sql.Open("mysql", dsn)
	}
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, db.PingContext(ctx), "the %s database named for the tests is unreachable", d)
	return db
}

// uniqueTable returns a table name no other test uses, and drops the table
// and its schema table when t ends.
func uniqueTable(t testing.TB, db *sql.DB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	table := "convo_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range []string{table, table + "_schema"} {
			if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
				t.Errorf("dropping %s: %v", name, err)
			}
		}
	})
	return table
}

// newStore returns a migrated store on table of db, closed when t ends.
func newStore(t testing.TB, db *sql.DB, table string, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	opts.Table = table
	s, err := sqlstore.New(db, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Migrate(ctx))
	return s
}

var rey = convo.Key{From: "+14158675308", To: "+15005550006"}

// forEachDialect runs test as a subtest per dialect, on a reachable
// database with a table of its own.
func forEachDialect(t *testing.T, test func(t *testing.T, d sqlstore.Dialect, dsn string, db *sql.DB, table string)) {
	for _, d := range dialects {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := dsnFor(t, d.name, d.env)
			db := openDB(t, d.name, dsn)
			test(t, d.name, dsn, db, uniqueTable(t, db))
		})
	}
}

// ph returns the i-th (from 1) placeholder of dialect d.
func ph(d sqlstore.Dialect, i int) string {
	if d == sqlstore.PostgreSQL {
		return "$" + string(rune('0'+i))
	}
	return "?"
}
