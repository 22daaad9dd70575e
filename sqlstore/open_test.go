package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSQLiteDSN(t *testing.T) {
	all := "_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29"
	for _, tc := range []struct{ in, want string }{
		{"convo.db", "convo.db?" + all},
		{"/var/lib/x/convo.db", "/var/lib/x/convo.db?" + all},
		{"file:convo.db?mode=rwc", "file:convo.db?mode=rwc&" + all},
		{"convo.db?_pragma=journal_mode(DELETE)", "convo.db?_pragma=journal_mode(DELETE)&_pragma=busy_timeout%285000%29&_pragma=synchronous%28NORMAL%29"},
		{"convo.db?_busy_timeout=100&_journal_mode=WAL&_sync=FULL", "convo.db?_busy_timeout=100&_journal_mode=WAL&_sync=FULL"},
	} {
		assert.Equal(t, tc.want, sqliteDSN(tc.in), tc.in)
	}
}

func TestOpenSQLiteSetsPragmas(t *testing.T) {
	db, err := Open(SQLite, filepath.Join(t.TempDir(), "x.db"))
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var mode string
	var busy int
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	assert.Equal(t, "wal", mode)
	assert.Equal(t, int(SQLiteBusyTimeout.Milliseconds()), busy)
}

func TestMySQLConfig(t *testing.T) {
	cfg, err := mysqlConfig("root@tcp(127.0.0.1:3306)/test")
	require.NoError(t, err)
	assert.True(t, cfg.ParseTime)
	assert.Equal(t, time.UTC, cfg.Loc)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	assert.Equal(t, "127.0.0.1:3306", cfg.Addr)
	assert.Equal(t, "test", cfg.DBName)

	cfg, err = mysqlConfig("u:p@tcp(db:3306)/app?timeout=1s")
	require.NoError(t, err)
	assert.Equal(t, time.Second, cfg.Timeout, "a timeout the DSN sets is kept")

	_, err = Open(MySQL, "not a dsn")
	assert.Error(t, err)
	_, err = Open("oracle", "x")
	assert.Error(t, err)
}
