package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, _ string) {
		convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
			return newStore(t, db, uniqueTable(t, db), sqlstore.Options{Expiry: e, CleanupInterval: -1})
		})
	})
}

// TestSQLiteMemory runs the conformance suite on an in-memory SQLite
// database from Open.
func TestSQLiteMemory(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, ":memory:")
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		return newStore(t, db, uniqueTable(t, db), sqlstore.Options{Expiry: e, CleanupInterval: -1})
	})
}

// TestMySQLLocalLoc checks that a fleet whose MySQL DSNs disagree on loc
// still agrees on expiry: times are written as UTC whatever the DSN says.
func TestMySQLLocalLoc(t *testing.T) {
	dsn := dsnFor(t, sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	utc := openDB(t, sqlstore.MySQL, dsn)
	// A zone far from UTC, so that a local-time write would be hours off.
	odd, err := sql.Open("mysql", dsn+sep+"parseTime=true&loc=Pacific%2FKiritimati")
	require.NoError(t, err)
	t.Cleanup(func() { odd.Close() })
	table := uniqueTable(t, utc)
	clock := convotest.NewClock(time.Time{})
	e := convo.Expiry{Idle: time.Hour, Now: clock.Now}
	a := newStore(t, utc, table, sqlstore.Options{Expiry: e, CleanupInterval: -1})
	b := newStore(t, odd, table, sqlstore.Options{Expiry: e, CleanupInterval: -1})
	ctx := context.Background()
	c := convo.NewConversation(rey)
	c.LastActive = clock.Now()
	require.NoError(t, b.Save(ctx, c))
	clock.Advance(59 * time.Minute)
	got, err := a.Load(ctx, rey)
	require.NoError(t, err)
	assert.Equal(t, c.Version, got.Version, "expired early")
	clock.Advance(2 * time.Minute)
	got, err = a.Load(ctx, rey)
	require.NoError(t, err)
	assert.Zero(t, got.Version, "did not expire")
}

// TestMySQLClientFoundRows runs the conformance suite on a MySQL
// connection with clientFoundRows=true, which changes what "rows
// affected" counts: conflicts must still be seen.
func TestMySQLClientFoundRows(t *testing.T) {
	dsn := dsnFor(t, sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db := openDB(t, sqlstore.MySQL, dsn+sep+"clientFoundRows=true")
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		return newStore(t, db, uniqueTable(t, db), sqlstore.Options{Expiry: e, CleanupInterval: -1})
	})
}

func TestDetectDialect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		got, err := sqlstore.DetectDialect(db)
		require.NoError(t, err)
		assert.Equal(t, d, got)
		s, err := sqlstore.New(db, sqlstore.Options{Table: table, CleanupInterval: -1})
		require.NoError(t, err)
		defer s.Close()
		assert.Equal(t, d, s.Dialect())
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, dsnFor(t, sqlstore.SQLite, ""))
	for _, table := range []string{"drop table x", "a-b", "1abc", `x"y`, strings.Repeat("a", 49)} {
		_, err := sqlstore.New(db, sqlstore.Options{Table: table})
		assert.Error(t, err, "table %q", table)
	}
	_, err := sqlstore.New(db, sqlstore.Options{Dialect: "oracle"})
	assert.Error(t, err)
	_, err = sqlstore.New(nil, sqlstore.Options{})
	assert.Error(t, err)
}

// TestMigrate checks that Migrate is idempotent, concurrent-safe, records
// the schema version, and refuses a newer schema.
func TestMigrate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s, err := sqlstore.New(db, sqlstore.Options{Table: table, CleanupInterval: -1})
		require.NoError(t, err)
		defer s.Close()
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- s.Migrate(ctx) }()
		}
		for range 4 {
			require.NoError(t, <-errs)
		}
		var n, v int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM "+table+"_schema").Scan(&n, &v))
		assert.Equal(t, 1, n, "one schema row")
		assert.Equal(t, sqlstore.SchemaVersion, v)

		c := convo.NewConversation(rey)
		c.Count = 1
		require.NoError(t, s.Save(ctx, c))
		require.NoError(t, s.Migrate(ctx), "Migrate again")
		got, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, 1, got.Count, "Migrate lost data")

		_, err = db.ExecContext(ctx, "UPDATE "+table+"_schema SET version = 99")
		require.NoError(t, err)
		assert.ErrorContains(t, s.Migrate(ctx), "newer")
	})
}

// TestCorruptRow checks that an undecodable row gives ErrCorrupt and is
// left in place, not overwritten by a fresh conversation.
func TestCorruptRow(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		c := convo.NewConversation(rey)
		c.Count = 3
		require.NoError(t, s.Save(ctx, c))

		for _, bad := range []string{`{"v": 99, "from": "x", "to": "y"}`, `{"nope": true}`, `"not a record"`, `[1, 2]`, `{"v":1,"from":"+1","to":"+2","count":1}`} {
			_, err := db.ExecContext(ctx, "UPDATE "+table+" SET data = "+placeholder(d)+" WHERE id = "+placeholder2(d), bad, rey.String())
			require.NoError(t, err)
			_, err = s.Load(ctx, rey)
			require.ErrorIs(t, err, convo.ErrCorrupt, "data %s", bad)
			assert.NotContains(t, err.Error(), rey.From, "error holds a full phone number")

			fresh := convo.NewConversation(rey)
			require.ErrorIs(t, s.Save(ctx, fresh), convo.ErrConflict, "a fresh conversation overwrote a corrupt record")
			var data string
			require.NoError(t, db.QueryRowContext(ctx, "SELECT data FROM "+table+" WHERE id = "+placeholder(d), rey.String()).Scan(&data))
			assert.NotContains(t, data, `"count": 0`)
		}
		require.NoError(t, s.Delete(ctx, rey), "a corrupt record can be deleted")
		got, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Zero(t, got.Version)
	})
}

func placeholder(d sqlstore.Dialect) string {
	if d == sqlstore.PostgreSQL {
		return "$1"
	}
	return "?"
}

func placeholder2(d sqlstore.Dialect) string {
	if d == sqlstore.PostgreSQL {
		return "$2"
	}
	return "?"
}

// TestNULInBody checks that a message body holding NUL characters, which
// PostgreSQL's JSONB refuses as such, is stored and loaded intact.
func TestNULInBody(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		c := convo.NewConversation(rey)
		c.Count = 1
		body := "a\x00b \\u0000 \x00"
		c.History = []convo.Turn{{At: time.Now(), In: body, Out: "ok"}}
		require.NoError(t, convo.SetState(c, map[string]string{"k\x00": "v\x00"}))
		require.NoError(t, s.Save(ctx, c))
		got, err := s.Load(ctx, rey)
		require.NoError(t, err)
		require.Len(t, got.History, 1)
		assert.Equal(t, body, got.History[0].In)
		st, err := convo.StateOf[map[string]string](got)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"k\x00": "v\x00"}, st)

		// And a later save without a NUL goes back to the plain object.
		got.History = nil
		got.State = nil
		require.NoError(t, s.Save(ctx, got))
		var data string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT data FROM "+table+" WHERE id = "+placeholder(d), rey.String()).Scan(&data))
		assert.True(t, strings.HasPrefix(data, "{"), "data is a JSON object an operator can query: %s", data)
	})
}

// TestDataReadableWithSQL checks that an operator can read a conversation
// with the database's own JSON functions.
func TestDataReadableWithSQL(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		c := convo.NewConversation(rey)
		c.Count = 7
		require.NoError(t, s.Save(ctx, c))
		q := map[sqlstore.Dialect]string{
			sqlstore.SQLite:     "SELECT json_extract(data, '$.count') FROM " + table,
			sqlstore.PostgreSQL: "SELECT (data->>'count')::int FROM " + table,
			sqlstore.MySQL:      "SELECT JSON_EXTRACT(data, '$.count') FROM " + table,
		}[d]
		var n int
		require.NoError(t, db.QueryRowContext(ctx, q).Scan(&n))
		assert.Equal(t, 7, n)
	})
}

// TestExpiredRowReplacedByDeleteAndRecreate checks the ABA case: a Save
// from a Load made before the row was deleted and created again conflicts,
// even though the key went through the same number of saves.
func TestABA(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		a := convo.NewConversation(rey)
		require.NoError(t, s.Save(ctx, a))
		stale, err := s.Load(ctx, rey)
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, rey))
		b := convo.NewConversation(rey)
		b.Count = 5
		require.NoError(t, s.Save(ctx, b))
		assert.NotEqual(t, stale.Version, b.Version, "a version was given twice to one key")
		stale.Count = 1
		require.ErrorIs(t, s.Save(ctx, stale), convo.ErrConflict)
		fresh := convo.NewConversation(rey)
		err = s.Save(ctx, fresh)
		require.ErrorIs(t, err, convo.ErrConflict, "a fresh save over a live row")
		assert.NotContains(t, err.Error(), "4158675308", "the error (which the Handler logs) holds a full phone number")
		got, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, 5, got.Count)
	})
}

func TestCleanup(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		clock := convotest.NewClock(time.Time{})
		s := newStore(t, db, table, sqlstore.Options{Expiry: convo.Expiry{Idle: time.Hour, Now: clock.Now}, CleanupInterval: -1, CleanupBatch: 7})
		for i := range 50 {
			c := convo.NewConversation(convo.Key{From: fmt.Sprint("+1", i), To: "+2"})
			c.LastActive = clock.Now()
			require.NoError(t, s.Save(ctx, c))
		}
		clock.Advance(30 * time.Minute)
		live := convo.NewConversation(rey)
		live.LastActive = clock.Now()
		require.NoError(t, s.Save(ctx, live))

		n, err := s.Cleanup(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "cleanup deleted live rows")
		clock.Advance(31 * time.Minute)
		n, err = s.Cleanup(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 50, n, "cleanup did not delete every expired row (in batches of 7)")
		assert.Equal(t, 1, countRows(t, db, table))
		got, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, live.Version, got.Version, "cleanup deleted a live row")
	})
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// TestCleanupLoop checks that the background loop deletes expired rows and
// that Close stops it, leaving no goroutine behind.
func TestCleanupLoop(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, dsnFor(t, sqlstore.SQLite, ""))
	table := uniqueTable(t, db)
	s, err := sqlstore.New(db, sqlstore.Options{Table: table, Expiry: convo.Expiry{Idle: time.Millisecond}, CleanupInterval: 5 * time.Millisecond, CleanupBatch: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(context.Background()))
	for i := range 5 {
		require.NoError(t, s.Save(context.Background(), convo.NewConversation(convo.Key{From: fmt.Sprint(i), To: "x"})))
	}
	assert.Eventually(t, func() bool { return countRows(t, db, table) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Positive(t, cleanupGoroutines(), "no cleanup goroutine found before Close")
	require.NoError(t, s.Close())
	assert.Zero(t, cleanupGoroutines(), "Close returned, yet the cleanup goroutine runs on")
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Load(context.Background(), rey)
	assert.ErrorIs(t, err, convo.ErrClosed)
	assert.ErrorIs(t, s.Save(context.Background(), convo.NewConversation(rey)), convo.ErrClosed)
	assert.ErrorIs(t, s.Delete(context.Background(), rey), convo.ErrClosed)
}

// TestCleanupNeverDeletesRevived races cleanups against saves that
// replace expired rows: no replaced (live) row may be deleted.
func TestCleanupNeverDeletesRevived(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		clock := convotest.NewClock(time.Time{})
		s := newStore(t, db, table, sqlstore.Options{Expiry: convo.Expiry{Idle: time.Hour, Now: clock.Now}, CleanupInterval: -1, CleanupBatch: 3})
		const n = 40
		key := func(i int) convo.Key { return convo.Key{From: fmt.Sprint("+1", i), To: "+2"} }
		for i := range n {
			c := convo.NewConversation(key(i))
			c.LastActive = clock.Now()
			require.NoError(t, s.Save(ctx, c))
		}
		clock.Advance(2 * time.Hour)
		done := make(chan error)
		go func() {
			for {
				if _, err := s.Cleanup(ctx); err != nil {
					done <- err
					return
				}
				select {
				case done <- nil:
					return
				default:
				}
			}
		}()
		for i := range n {
			c := convo.NewConversation(key(i))
			c.Count = 1
			c.LastActive = clock.Now()
			// A Save that deadlocks with the cleanup (MySQL) is
			// rolled back and reported as a conflict: save again.
			var err error
			for range 10 {
				if err = s.Save(ctx, c); !errors.Is(err, convo.ErrConflict) {
					break
				}
			}
			require.NoError(t, err)
		}
		require.NoError(t, <-done)
		for i := range n {
			c, err := s.Load(ctx, key(i))
			require.NoError(t, err)
			assert.Equal(t, 1, c.Count, "conversation %d revived then deleted by cleanup", i)
		}
	})
}

func TestKeyTooLong(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, dsnFor(t, sqlstore.SQLite, ""))
	s := newStore(t, db, uniqueTable(t, db), sqlstore.Options{CleanupInterval: -1})
	c := convo.NewConversation(convo.Key{From: strings.Repeat("1", sqlstore.MaxKeyLen), To: "+2"})
	assert.ErrorIs(t, s.Save(context.Background(), c), convo.ErrTooLarge)
}

// cleanupGoroutines counts the goroutines running a store's cleanup loop,
// in this test binary.
func cleanupGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "sqlstore.(*Store).cleanupLoop(")
}
