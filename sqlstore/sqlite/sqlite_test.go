package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithPragmas(t *testing.T) {
	all := "_pragma=busy_timeout%285000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29"
	for _, tc := range []struct{ in, want string }{
		{"convo.db", "convo.db?" + all},
		{"/var/lib/x/convo.db", "/var/lib/x/convo.db?" + all},
		{"file:convo.db?mode=rwc", "file:convo.db?mode=rwc&" + all},
		{":memory:", ":memory:?" + all},
		{"convo.db?_pragma=journal_mode(DELETE)", "convo.db?_pragma=journal_mode(DELETE)&_pragma=busy_timeout%285000%29&_pragma=synchronous%28NORMAL%29"},
		{"convo.db?_pragma=Busy_Timeout(100)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)",
			"convo.db?_pragma=Busy_Timeout(100)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"},
		{"convo.db?a=%zz", "convo.db?a=%zz"}, // malformed: left to the driver
	} {
		assert.Equal(t, tc.want, withPragmas(tc.in), tc.in)
	}
}

// pragmas reads the pragmas Open sets from a connection of db.
func pragmas(t *testing.T, db *sql.DB) (mode string, busy, sync int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	require.NoError(t, conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
	return mode, busy, sync
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, dsn  string
		mode       string
		busy, sync int // synchronous: 1 NORMAL, 2 FULL
	}{
		{"added", filepath.Join(dir, "a.db"), "wal", 5000, 1},
		{"the DSN's own kept", filepath.Join(dir, "b.db") + "?_pragma=journal_mode(DELETE)&_pragma=busy_timeout(250)&_pragma=synchronous(FULL)", "delete", 250, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(tc.dsn)
			require.NoError(t, err)
			defer db.Close()
			mode, busy, sync := pragmas(t, db)
			assert.Equal(t, tc.mode, mode)
			assert.Equal(t, tc.busy, busy)
			assert.Equal(t, tc.sync, sync)
			assert.Zero(t, db.Stats().MaxOpenConnections, "a file database keeps an unbounded pool")
		})
	}
}

// TestOpenMemory checks that an in-memory database is one database for
// every call, however many run at once: one connection holds it.
func TestOpenMemory(t *testing.T) {
	for _, dsn := range []string{":memory:", "file::memory:", "file:x?mode=memory"} {
		t.Run(dsn, func(t *testing.T) {
			db, err := Open(dsn)
			require.NoError(t, err)
			defer db.Close()
			assert.Equal(t, 1, db.Stats().MaxOpenConnections)
			ctx := context.Background()
			_, err = db.ExecContext(ctx, "CREATE TABLE t (n INTEGER)")
			require.NoError(t, err)
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					_, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?)", i)
					assert.NoError(t, err)
				})
			}
			wg.Wait()
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n))
			assert.Equal(t, 20, n)
		})
	}
}
