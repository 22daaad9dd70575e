package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, _ string) {
		convotest.TestStore(t, func(t *testing.T) convo.Store {
			return newStore(t, db, uniqueTable(t, db), sqlstore.Options{CleanupInterval: -1})
		})
	})
}

// TestSQLiteMemory runs the conformance suite on an in-memory SQLite
// database, which lives on the one connection sqlite.Open keeps.
func TestSQLiteMemory(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, ":memory:")
	convotest.TestStore(t, func(t *testing.T) convo.Store {
		return newStore(t, db, uniqueTable(t, db), sqlstore.Options{CleanupInterval: -1})
	})
}

// withParam adds a parameter to a MySQL DSN.
func withParam(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// TestMySQLClientFoundRows runs the conformance suite on MySQL connections
// with clientFoundRows=true, which changes what "rows affected" counts:
// conflicts must still be seen.
func TestMySQLClientFoundRows(t *testing.T) {
	dsn := dsnFor(t, sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN")
	db := openDB(t, sqlstore.MySQL, withParam(dsn, "clientFoundRows=true"))
	convotest.TestStore(t, func(t *testing.T) convo.Store {
		return newStore(t, db, uniqueTable(t, db), sqlstore.Options{CleanupInterval: -1})
	})
}

// TestMySQLLocalLoc checks that servers whose MySQL DSNs disagree on loc
// still agree on expiry: times are written as UTC text whatever loc says.
func TestMySQLLocalLoc(t *testing.T) {
	dsn := dsnFor(t, sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN")
	utc := openDB(t, sqlstore.MySQL, dsn)
	// A zone far from UTC, so that a local-time write would be hours off.
	odd := openDB(t, sqlstore.MySQL, withParam(dsn, "parseTime=true&loc=Pacific%2FKiritimati"))
	table := uniqueTable(t, utc)
	clock := convotest.NewClock(time.Time{})
	a := newStore(t, utc, table, sqlstore.Options{Now: clock.Now, CleanupInterval: -1})
	b := newStore(t, odd, table, sqlstore.Options{Now: clock.Now, CleanupInterval: -1})
	ctx := context.Background()
	require.NoError(t, b.Save(ctx, rey, []byte(`{}`), time.Hour, 0, 7))
	clock.Advance(59 * time.Minute)
	_, v, err := a.Load(ctx, rey)
	require.NoError(t, err)
	assert.EqualValues(t, 7, v, "expired early")
	clock.Advance(2 * time.Minute)
	_, v, err = a.Load(ctx, rey)
	require.NoError(t, err)
	assert.Zero(t, v, "did not expire")
}

// fakeDriver is a driver whose type names no dialect.
type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake") }

// TestDetectDialect tells the dialect of the drivers users open, which
// needs no server: sql.Open does not connect.
func TestDetectDialect(t *testing.T) {
	sql.Register("convo-fake", fakeDriver{})
	for _, tc := range []struct {
		driver, dsn string
		want        sqlstore.Dialect
	}{
		{"sqlite", ":memory:", sqlstore.SQLite},
		{"pgx", "postgres://root@127.0.0.1:1/test", sqlstore.PostgreSQL},
		{"mysql", "root@tcp(127.0.0.1:1)/test", sqlstore.MySQL},
		{"convo-fake", "", ""},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			db, err := sql.Open(tc.driver, tc.dsn)
			require.NoError(t, err)
			defer db.Close()
			got, err := sqlstore.DetectDialect(db)
			assert.Equal(t, tc.want, got)
			s, newErr := sqlstore.New(db, sqlstore.Options{CleanupInterval: -1})
			if tc.want == "" {
				assert.ErrorContains(t, err, "set Options.Dialect")
				assert.Error(t, newErr)
				s, newErr = sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.PostgreSQL, CleanupInterval: -1})
				tc.want = sqlstore.PostgreSQL // Options.Dialect names the dialect of any driver
			}
			require.NoError(t, newErr)
			defer s.Close()
			assert.Equal(t, tc.want, s.Dialect())
			_, err = sqlstore.New(db, sqlstore.Options{Dialect: "oracle"})
			assert.ErrorContains(t, err, "unknown dialect")
		})
	}
}

func TestTableNames(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, ":memory:")
	for _, tc := range []struct {
		table string
		ok    bool
	}{
		{"", true}, // DefaultTable
		{"sms_conversations", true},
		{"_t1", true},
		{"T", true},
		{strings.Repeat("a", 48), true},
		{strings.Repeat("a", 49), false},
		{"1abc", false},
		{"a-b", false},
		{"drop table x", false},
		{`x"y`, false},
		{"x`y", false},
		{"public.t", false},
		{"tablé", false},
	} {
		s, err := sqlstore.New(db, sqlstore.Options{Table: tc.table, CleanupInterval: -1})
		if !tc.ok {
			assert.Error(t, err, "table %q", tc.table)
			continue
		}
		require.NoError(t, err, "table %q", tc.table)
		assert.Equal(t, cmpOr(tc.table, sqlstore.DefaultTable), s.Table())
		s.Close()
	}
	_, err := sqlstore.New(nil, sqlstore.Options{})
	assert.Error(t, err)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestNewBoundsPool checks which pools New bounds, and to what.
func TestNewBoundsPool(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preset  int // db.SetMaxOpenConns before New; 0: none
		option  int
		want    int
		wantErr bool
	}{
		{name: "unbounded gets the default", want: sqlstore.DefaultMaxOpenConns},
		{name: "unbounded gets the option", option: 4, want: 4},
		{name: "negative option leaves it unbounded", option: -1, want: 0},
		{name: "a bound of the user's is kept", preset: 3, option: 40, want: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t, sqlstore.SQLite, dsnFor(t, sqlstore.SQLite, ""))
			db.SetMaxOpenConns(tc.preset)
			s, err := sqlstore.New(db, sqlstore.Options{MaxOpenConns: tc.option, CleanupInterval: -1})
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tc.want, db.Stats().MaxOpenConnections)
		})
	}
}

// pastDeadline is a context whose deadline has passed but whose timer has
// not fired yet: Err is still nil.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A driver error under an ended context, or a passed deadline whose timer
// has not fired yet (a dial's "i/o timeout" just before), is reported as the
// context's error too, so that callers can tell a timeout with errors.Is.
func TestWrapTellsTimeouts(t *testing.T) {
	dial := errors.New("dial tcp 127.0.0.1:3306: i/o timeout")
	ended, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	for name, tc := range map[string]struct {
		ctx  context.Context
		want error
	}{
		"deadline exceeded":              {ended, context.DeadlineExceeded},
		"deadline passed, timer to come": {pastDeadline{context.Background()}, context.DeadlineExceeded},
		"no deadline":                    {context.Background(), nil},
	} {
		err := sqlstore.Wrap(tc.ctx, "saving", dial)
		require.ErrorIs(t, err, dial, name)
		if tc.want != nil {
			assert.ErrorIs(t, err, tc.want, name)
		} else {
			assert.NotErrorIs(t, err, context.DeadlineExceeded, name)
		}
	}
}

// TestBoundedPool locks the table from another connection and runs 150
// Saves at once, each with a deadline: all fail with
// context.DeadlineExceeded soon after it, the store's pool never holds more
// than its bound of connections, and most Saves waited for one (not all
// beyond the bound: a connection a Save used only to prepare its statement
// can pass to a later Save without a wait). The deadline is long enough (2 s) that a machine stalling the
// test for a moment cannot let the Saves time out before they reach the
// pool.
func TestBoundedPool(t *testing.T) {
	locks := map[sqlstore.Dialect][2]string{
		sqlstore.PostgreSQL: {"LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", "ROLLBACK"},
		sqlstore.MySQL:      {"LOCK TABLES %s WRITE", "UNLOCK TABLES"},
	}
	for _, d := range dialects[1:] {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := dsnFor(t, d.name, d.env)
			db := openDB(t, d.name, dsn)
			table := uniqueTable(t, db)
			s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
			require.Equal(t, sqlstore.DefaultMaxOpenConns, db.Stats().MaxOpenConnections)

			// The pool's connections are opened before the table is
			// locked, so that the Saves find them idle and wait for them
			// rather than dial, which a loaded server may answer only
			// after their deadline.
			ctx := context.Background()
			warm := make([]*sql.Conn, sqlstore.DefaultMaxOpenConns)
			for i := range warm {
				var err error
				warm[i], err = db.Conn(ctx)
				require.NoError(t, err)
			}
			for _, c := range warm {
				require.NoError(t, c.Close())
			}
			conn, err := openDB(t, d.name, dsn).Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			if d.name == sqlstore.PostgreSQL {
				_, err = conn.ExecContext(ctx, "BEGIN")
				require.NoError(t, err)
			}
			_, err = conn.ExecContext(ctx, fmt.Sprintf(locks[d.name][0], table))
			require.NoError(t, err)
			defer conn.ExecContext(ctx, locks[d.name][1])

			peak, stop := watchOpenConns(db)
			const n, deadline = 150, 2 * time.Second
			errs := make([]error, n)
			start := time.Now()
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(ctx, deadline)
					defer cancel()
					key := convo.Key{From: fmt.Sprintf("+1415555%04d", i), To: rey.To}
					errs[i] = s.Save(ctx, key, []byte(`{"n":1}`), time.Hour, 0, uint64(i+1))
				})
			}
			wg.Wait()
			took := time.Since(start)
			stop()
			for i, err := range errs {
				require.ErrorIs(t, err, context.DeadlineExceeded, "Save %d", i)
			}
			t.Logf("150 Saves failed within %v; at most %d connections open; %d waited for one",
				took.Round(time.Millisecond), *peak, db.Stats().WaitCount)
			assert.Less(t, took, deadline+3*time.Second, "the Saves outlived their deadline")
			assert.LessOrEqual(t, *peak, sqlstore.DefaultMaxOpenConns)
			assert.GreaterOrEqual(t, db.Stats().WaitCount, int64(n/2), "most Saves did not wait for a connection")
		})
	}
}

// watchOpenConns samples db's open connections until stop is called, and
// then *peak holds the most seen.
func watchOpenConns(db *sql.DB) (peak *int, stop func()) {
	peak = new(int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			*peak = max(*peak, db.Stats().OpenConnections)
			select {
			case <-done:
				return
			default:
				runtime.Gosched()
			}
		}
	})
	return peak, func() { close(done); wg.Wait() }
}

// TestMigrate checks that Migrate is idempotent and safe to run at once
// from many servers, records the schema version, and refuses a newer one.
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

		require.NoError(t, s.Save(ctx, rey, []byte(`{"count":1}`), time.Hour, 0, 1))
		require.NoError(t, s.Migrate(ctx), "Migrate again")
		data, _, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, `{"count":1}`, string(data), "Migrate lost data")

		_, err = db.ExecContext(ctx, "UPDATE "+table+"_schema SET version = 99")
		require.NoError(t, err)
		assert.ErrorContains(t, s.Migrate(ctx), "newer")
	})
}

// schema1 is the DDL of schema version 1 (development versions).
var schema1 = map[sqlstore.Dialect]string{
	sqlstore.PostgreSQL: `CREATE TABLE %s (id TEXT PRIMARY KEY, version BIGINT NOT NULL, data JSONB NOT NULL,
		created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL)`,
	sqlstore.MySQL: `CREATE TABLE %s (id VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
		version BIGINT NOT NULL, data JSON NOT NULL, created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL,
		expires_at DATETIME(6) NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	sqlstore.SQLite: `CREATE TABLE %s (id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL,
		created_at TEXT NOT NULL, updated_at TEXT NOT NULL, expires_at TEXT NOT NULL)`,
}

// TestMigrateFromSchema1 checks that Migrate replaces a table of schema 1,
// whose records the Handler no longer reads, with an empty one whose data
// keeps text byte for byte.
func TestMigrateFromSchema1(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		for _, q := range []string{
			fmt.Sprintf(schema1[d], table),
			"CREATE TABLE " + table + "_schema (version INTEGER NOT NULL)",
			"INSERT INTO " + table + "_schema (version) VALUES (1)",
			"INSERT INTO " + table + " VALUES ('+14158675308/+15005550006', 1, '{\"v\": 1, \"count\": 3}', " +
				"'2026-01-01 00:00:00', '2026-01-01 00:00:00', '2999-01-01 00:00:00')",
		} {
			_, err := db.ExecContext(ctx, q)
			require.NoError(t, err, q)
		}
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		var v int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT version FROM "+table+"_schema").Scan(&v))
		assert.Equal(t, sqlstore.SchemaVersion, v)
		data, _, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Nil(t, data, "the conversation of schema 1 restarts")
		rec := `{"v":2,  "b":"x", "a":1 }` // JSONB or JSON would reorder and respace it
		require.NoError(t, s.Save(ctx, rey, []byte(rec), time.Hour, 0, 5))
		data, _, err = s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, rec, string(data))
	})
}

// TestLimits checks the longest key and records the store refuses, and
// that the longest key Twilio's addresses make is kept on every database.
func TestLimits(t *testing.T) {
	addr := strings.Repeat("é", convo.MaxAddressLen/2) // every byte path-escaped
	longest := convo.Key{From: addr, To: addr}
	require.Len(t, longest.String(), 1537)
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		require.NoError(t, s.Save(ctx, longest, []byte(`{"n":1}`), time.Hour, 0, 1))
		data, v, err := s.Load(ctx, longest)
		require.NoError(t, err)
		assert.Equal(t, `{"n":1}`, string(data))
		assert.EqualValues(t, 1, v)

		big := `"` + strings.Repeat("x", sqlstore.MaxDataLen-2) + `"`
		require.NoError(t, s.Save(ctx, rey, []byte(big), time.Hour, 0, 2), "a record of MaxDataLen")
		for _, tc := range []struct {
			name    string
			key     convo.Key
			data    string
			tooLong bool
		}{
			{"key over MaxKeyLen", convo.Key{From: strings.Repeat("1", sqlstore.MaxKeyLen), To: "+2"}, `{}`, true},
			{"record over MaxDataLen", rey, big + " ", true},
			{"invalid UTF-8", rey, "{\"a\":\"\xff\"}", false},
			{"NUL", rey, "{\"a\":\"\x00\"}", false},
		} {
			err := s.Save(ctx, tc.key, []byte(tc.data), time.Hour, 2, 3)
			require.Error(t, err, tc.name)
			assert.Equal(t, tc.tooLong, errors.Is(err, convo.ErrTooLarge), "%s: %v", tc.name, err)
			assert.NotErrorIs(t, err, convo.ErrConflict, tc.name)
		}
		data, v, err = s.Load(ctx, rey)
		require.NoError(t, err)
		assert.EqualValues(t, 2, v, "a refused Save wrote")
		assert.Equal(t, big, string(data))
	})
}

// TestVersionsOver2to63 checks that versions above the Handler's range
// survive the signed BIGINT column.
func TestVersionsOver2to63(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		const big = 1<<64 - 1
		require.NoError(t, s.Save(ctx, rey, []byte(`{}`), time.Hour, 0, big))
		_, v, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.EqualValues(t, uint64(big), v)
		require.NoError(t, s.Save(ctx, rey, []byte(`{}`), time.Hour, big, 1<<63))
		require.ErrorIs(t, s.Save(ctx, rey, []byte(`{}`), time.Hour, big, 1), convo.ErrConflict)
	})
}

func TestCleanup(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		clock := convotest.NewClock(time.Time{})
		s := newStore(t, db, table, sqlstore.Options{Now: clock.Now, CleanupInterval: -1, CleanupBatch: 7})
		for i := range 50 {
			require.NoError(t, s.Save(ctx, convo.Key{From: fmt.Sprint("+1", i), To: "+2"}, []byte(`{}`), time.Hour, 0, 1))
		}
		require.NoError(t, s.Save(ctx, rey, []byte(`{"live":true}`), 3*time.Hour, 0, 9))

		n, err := s.Cleanup(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "cleanup deleted live rows")
		clock.Advance(time.Hour) // expires_at is now: expired, but the cleanup waits for the hour to end
		n, err = s.Cleanup(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "cleanup deleted rows before their hour ended")
		assert.Equal(t, 51, countRows(t, db, table))
		clock.Advance(time.Hour)
		n, err = s.Cleanup(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 50, n, "cleanup did not delete every expired row (in batches of 7)")
		assert.Equal(t, 1, countRows(t, db, table))
		data, v, err := s.Load(ctx, rey)
		require.NoError(t, err)
		assert.Equal(t, `{"live":true}`, string(data), "cleanup deleted a live row")
		assert.EqualValues(t, 9, v)
	})
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// TestCleanupLoopAndClose checks that the background loop deletes expired
// rows, that Close stops it, and that calls after Close fail with
// convo.ErrClosed, in errors that say they come from sqlstore.
func TestCleanupLoopAndClose(t *testing.T) {
	db := openDB(t, sqlstore.SQLite, dsnFor(t, sqlstore.SQLite, ""))
	table := uniqueTable(t, db)
	clock := convotest.NewClock(time.Time{})
	// Until Migrate, the loop finds no table: its complaints are not logged.
	s := newStore(t, db, table, sqlstore.Options{Now: clock.Now, CleanupInterval: time.Millisecond, CleanupBatch: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	for i := range 5 {
		require.NoError(t, s.Save(ctx, convo.Key{From: fmt.Sprint(i), To: "x"}, []byte(`{}`), time.Minute, 0, 1))
	}
	clock.Advance(time.Hour) // past the hour they expired in
	assert.Eventually(t, func() bool { return countRows(t, db, table) == 0 }, 10*time.Second, time.Millisecond)
	assert.Positive(t, cleanupGoroutines(), "no cleanup goroutine found before Close")
	require.NoError(t, s.Close())
	// Close waits for the loop's last step; its goroutine then exits.
	assert.Eventually(t, func() bool { return cleanupGoroutines() == 0 }, 5*time.Second, time.Millisecond,
		"Close returned, yet the cleanup goroutine runs on")
	require.NoError(t, s.Close(), "Close is idempotent")

	_, _, loadErr := s.Load(ctx, rey)
	_, cleanupErr := s.Cleanup(ctx)
	for _, err := range []error{
		loadErr,
		s.Save(ctx, rey, []byte(`{}`), time.Hour, 0, 1),
		s.Delete(ctx, rey),
		s.Migrate(ctx),
		cleanupErr,
	} {
		assert.ErrorIs(t, err, convo.ErrClosed)
		assert.True(t, strings.HasPrefix(err.Error(), "sqlstore: "), "bare error %q", err)
	}
}

// cleanupGoroutines counts the goroutines running a store's cleanup loop.
func cleanupGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "sqlstore.(*Store).cleanupLoop(")
}

// TestCleanupNeverDeletesRevived races cleanups against Saves that replace
// expired rows: no revived (live) row may be deleted.
func TestCleanupNeverDeletesRevived(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		clock := convotest.NewClock(time.Time{})
		s := newStore(t, db, table, sqlstore.Options{Now: clock.Now, CleanupInterval: -1, CleanupBatch: 3})
		const n = 40
		key := func(i int) convo.Key { return convo.Key{From: fmt.Sprint("+1", i), To: "+2"} }
		for i := range n {
			require.NoError(t, s.Save(ctx, key(i), []byte(`"old"`), time.Hour, 0, 1))
		}
		clock.Advance(2 * time.Hour)
		stop := make(chan struct{})
		done := make(chan error)
		go func() {
			for {
				if _, err := s.Cleanup(ctx); err != nil {
					done <- err
					return
				}
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
			}
		}()
		for i := range n {
			// A Save that deadlocks with the cleanup (MySQL) is rolled
			// back and reported as a conflict: save again.
			var err error
			for range 10 {
				if err = s.Save(ctx, key(i), []byte(`"new"`), time.Hour, 0, 2); !errors.Is(err, convo.ErrConflict) {
					break
				}
			}
			require.NoError(t, err)
		}
		close(stop)
		require.NoError(t, <-done)
		for i := range n {
			data, _, err := s.Load(ctx, key(i))
			require.NoError(t, err)
			assert.Equal(t, `"new"`, string(data), "conversation %d revived then deleted by cleanup", i)
		}
	})
}

// TestLostRace checks which driver errors count as a lost race, on errors
// made as the drivers make them.
func TestLostRace(t *testing.T) {
	dup := &mysql.MySQLError{Number: 1062, SQLState: [5]byte([]byte("23000")),
		Message: "Duplicate entry '+14158675308/+15005550006' for key 'PRIMARY'"}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"PostgreSQL serialization failure", &pgconn.PgError{Code: "40001"}, "SQLSTATE 40001"},
		{"PostgreSQL deadlock", &pgconn.PgError{Code: "40P01"}, "SQLSTATE 40P01"},
		{"PostgreSQL unique violation", &pgconn.PgError{Code: "23505"}, ""},
		{"PostgreSQL lock timeout", &pgconn.PgError{Code: "55P03"}, ""},
		{"MySQL duplicate key", dup, "MySQL error 1062"},
		{"MySQL deadlock", &mysql.MySQLError{Number: 1213}, "MySQL error 1213"},
		{"MySQL lock wait timeout", &mysql.MySQLError{Number: 1205}, ""},
		{"MySQL too many connections", &mysql.MySQLError{Number: 1040}, ""},
		{"wrapped", fmt.Errorf("exec: %w", dup), "MySQL error 1062"},
		{"joined", errors.Join(io.EOF, fmt.Errorf("x: %w", &pgconn.PgError{Code: "40P01"})), "SQLSTATE 40P01"},
		{"MySQL before driver 1.7", errors.New("Error 1213: Deadlock found when trying to get lock"), "MySQL error 1213"},
		{"another number", &mysql.MySQLError{Number: 10625}, ""},
		{"a key with the text", fmt.Errorf("saving %s", convo.Key{From: "x: Error 1062", To: "y"}), ""},
		{"driver.ErrBadConn", driver.ErrBadConn, ""},
		{"context", context.DeadlineExceeded, ""},
	} {
		assert.Equal(t, tc.want, sqlstore.LostRace(tc.err), tc.name)
	}
}

// TestLostRaceReal provokes a deadlock and a duplicate key on the real
// servers, and checks that the errors their drivers return are lost races,
// and that a Save's conflict never quotes the key.
func TestLostRaceReal(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		require.NoError(t, s.Save(ctx, rey, []byte(`{}`), time.Hour, 0, 1))
		err := s.Save(ctx, rey, []byte(`{}`), time.Hour, 0, 2) // over a live row: MySQL's insert finds a duplicate key
		require.ErrorIs(t, err, convo.ErrConflict)
		assert.NotContains(t, err.Error(), "4158675308", "the error holds a full phone number")
		if d == sqlstore.SQLite {
			return // one writer at a time: SQLite has no deadlocks
		}
		_, err = db.ExecContext(ctx, "INSERT INTO "+table+" (id, version, data, expires_at, updated_at) SELECT id, 1, data, expires_at, updated_at FROM "+table)
		if d == sqlstore.MySQL {
			assert.Equal(t, "MySQL error 1062", sqlstore.LostRace(err), "%v", err)
		}
		a, b := convo.Key{From: "a", To: "x"}, convo.Key{From: "b", To: "x"}
		require.NoError(t, s.Save(ctx, a, []byte(`{}`), time.Hour, 0, 1))
		require.NoError(t, s.Save(ctx, b, []byte(`{}`), time.Hour, 0, 1))
		err = deadlock(t, db, "UPDATE "+table+" SET version = version + 1 WHERE id = "+ph(d, 1), a.String(), b.String())
		assert.Contains(t, []string{"SQLSTATE 40P01", "MySQL error 1213"}, sqlstore.LostRace(err), "%v", err)
	})
}

// deadlock runs update in two transactions, on rows a then b and on b
// then a, and returns the error of the one the database rolled back.
func deadlock(t *testing.T, db *sql.DB, update, a, b string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txs := make([]*sql.Tx, 2)
	for i, id := range []string{a, b} {
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer tx.Rollback()
		_, err = tx.ExecContext(ctx, update, id)
		require.NoError(t, err)
		txs[i] = tx
	}
	type result struct {
		tx  int
		err error
	}
	results := make(chan result, 2)
	go func() { _, err := txs[0].ExecContext(ctx, update, b); results <- result{0, err} }()
	go func() { _, err := txs[1].ExecContext(ctx, update, a); results <- result{1, err} }()
	var err error
	for range 2 {
		r := <-results
		txs[r.tx].Rollback() // the victim's rollback lets the other finish
		if err == nil {
			err = r.err
		}
	}
	require.Error(t, err, "no deadlock")
	return err
}

// TestReadWithSQL checks the queries README.md gives operators to read a
// record.
func TestReadWithSQL(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, _ string, db *sql.DB, table string) {
		ctx := context.Background()
		s := newStore(t, db, table, sqlstore.Options{CleanupInterval: -1})
		require.NoError(t, s.Save(ctx, rey, []byte(`{"v":2,"count":7}`), time.Hour, 0, 1))
		queries := map[sqlstore.Dialect][]string{
			sqlstore.SQLite:     {"json_extract(data, '$.count')"},
			sqlstore.PostgreSQL: {"data::jsonb->>'count'"},
			sqlstore.MySQL:      {"JSON_EXTRACT(data, '$.count')"},
		}[d]
		if d == sqlstore.MySQL {
			var version string
			require.NoError(t, db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version))
			if !strings.Contains(version, "MariaDB") {
				queries = append(queries, "JSON_EXTRACT(CAST(data AS JSON), '$.count')")
			}
		}
		for _, q := range queries {
			var n string
			require.NoError(t, db.QueryRowContext(ctx, "SELECT "+q+" AS count, expires_at FROM "+table).Scan(&n, new(any)), q)
			assert.Equal(t, "7", n, q)
		}
	})
}

// TestNoDriverImports checks that package sqlstore links no database
// driver: a program picks its own.
func TestNoDriverImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the package's dependencies")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, driver := range []string{"modernc.org/sqlite", "github.com/go-sql-driver/mysql", "github.com/jackc/pgx"} {
		assert.NotContains(t, string(out), driver)
	}
}
