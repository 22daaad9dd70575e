package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/smsconvo/convo"
)

// Defaults of [Options].
const (
	DefaultTable           = "convo_conversations"
	DefaultMaxOpenConns    = 16
	DefaultCleanupInterval = 5 * time.Minute
	DefaultCleanupBatch    = 1000
	// DefaultSQLiteCleanupBatch is the default of CleanupBatch on SQLite,
	// whose one writer each cleanup statement holds: turns waiting to
	// save then wait for 100 rows' deletion (about 10 ms among a million
	// rows) rather than 1,000's (about 100 ms).
	DefaultSQLiteCleanupBatch = 100
)

// Limits of what a Store keeps, the same on every database: Save refuses a
// longer key or a larger record with an error wrapping [convo.ErrTooLarge]
// and writes nothing.
const (
	// MaxKeyLen is the width of the id column. [convo.Key.String] of two
	// addresses of convo.MaxAddressLen bytes, all path-escaped, is 1,537.
	MaxKeyLen = 1600
	// MaxDataLen bounds a record: far more than a conversation needs,
	// and within the default max_allowed_packet of MySQL since 5.6 and
	// of MariaDB (4 MiB or more).
	MaxDataLen = 1 << 20
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Table names the conversations table: letters, digits and
	// underscores, not starting with a digit, at most 48 characters.
	// Its schema version is kept in Table + "_schema". "" means
	// DefaultTable.
	Table string

	// Dialect is the database's SQL flavour; "" means detected from the
	// type of db's driver (see [DetectDialect]).
	Dialect Dialect

	// Now is the clock that dates expiry; nil means time.Now. The servers
	// sharing a table need clocks in step.
	Now func() time.Time

	// MaxOpenConns bounds db's pool, idle connections included, when New
	// finds it unbounded (db.SetMaxOpenConns never called, or called
	// with 0): calls then wait for a connection, within their context,
	// rather than open one more. 0 means DefaultMaxOpenConns; negative
	// leaves the pool as it is.
	MaxOpenConns int

	// CleanupInterval is how often a background goroutine deletes
	// expired rows (they are invisible at once); 0 means
	// DefaultCleanupInterval, negative means never.
	CleanupInterval time.Duration

	// CleanupBatch bounds the rows one cleanup statement deletes, so
	// that none holds locks for long; 0 means DefaultCleanupBatch
	// (DefaultSQLiteCleanupBatch on SQLite).
	CleanupBatch int

	// Logger receives a line when a background cleanup fails; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store is a convo.Store keeping records in a table of a SQL database, one
// row per conversation. Any number of Stores, in any number of processes,
// may share the table. Create it with New and the table with Migrate.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
	now     func() time.Time
	batch   int
	log     *slog.Logger
	q       statements

	// writes, on SQLite, lets one write of the Store run at a time: a
	// writer waiting here wakes as soon as the previous one is done,
	// where one in SQLite's busy handler sleeps for milliseconds at a
	// time.
	writes chan struct{}

	// stmts are the Store's statements, prepared on first use.
	stmtsMu sync.RWMutex
	stmts   map[string]*sql.Stmt

	closed atomic.Bool
	once   sync.Once
	stop   context.CancelFunc // ends the cleanup loop
	done   chan struct{}      // closed once the cleanup loop returned
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// New returns a Store keeping records in db's table opts.Table, which
// Migrate creates. It bounds db's pool (see Options.MaxOpenConns) and,
// unless opts.CleanupInterval is negative, starts a goroutine deleting
// expired rows until Close. It never closes db.
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	table := cmp.Or(opts.Table, DefaultTable)
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("sqlstore: table name %q is not letters, digits and underscores (at most 48)", table)
	}
	var err error
	d := opts.Dialect
	if d == "" {
		d, err = DetectDialect(db)
	} else if d != SQLite && d != PostgreSQL && d != MySQL {
		err = fmt.Errorf("sqlstore: unknown dialect %q", d)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: d, table: table, now: opts.Now, log: cmp.Or(opts.Logger, slog.Default()),
		batch: cmp.Or(max(opts.CleanupBatch, 0), DefaultCleanupBatch), q: buildStatements(d, d.quote(table)), done: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	if d == SQLite {
		s.writes = make(chan struct{}, 1)
		s.batch = cmp.Or(max(opts.CleanupBatch, 0), DefaultSQLiteCleanupBatch)
	}
	if n := cmp.Or(opts.MaxOpenConns, DefaultMaxOpenConns); n > 0 && db.Stats().MaxOpenConnections == 0 {
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if interval := cmp.Or(opts.CleanupInterval, DefaultCleanupInterval); interval > 0 {
		go s.cleanupLoop(ctx, interval)
	} else {
		close(s.done)
	}
	return s, nil
}

// Dialect returns the dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// Table returns the name of the conversations table.
func (s *Store) Table() string { return s.table }

// check returns why the store cannot be called now.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlstore: %w", convo.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// wrap adds what failed to a database error, and ctx's error when ctx has
// ended, so that callers can tell a timeout with errors.Is. A deadline
// that has passed counts as ended even before ctx says so: a driver's dial
// given ctx's deadline can time out ("i/o timeout") a moment before ctx's
// own timer fires.
func wrap(ctx context.Context, what string, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s: %w: %w", what, cerr, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// write runs a statement that writes, on SQLite once the Store's previous
// write is done (waiting within ctx), and returns how many rows it changed.
func (s *Store) write(ctx context.Context, query string, args ...any) (int64, error) {
	if s.writes != nil {
		select {
		case s.writes <- struct{}{}:
			defer func() { <-s.writes }()
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting to write: %w", ctx.Err())
		}
	}
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// exec runs query. On MySQL and SQLite it runs it prepared, preparing it
// on its first use (not in New: the table may not exist before Migrate):
// database/sql then prepares it once on each connection of the pool, and
// every later call sends only the arguments, one round trip where MySQL's
// driver would otherwise prepare, execute and close the statement each
// time, and no parsing on SQLite. pgx caches PostgreSQL's statements by
// itself.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.dialect == PostgreSQL {
		return s.db.ExecContext(ctx, query, args...)
	}
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

// queryRow runs query, prepared as exec does, and scans its one row
// into dest.
func (s *Store) queryRow(ctx context.Context, query string, dest []any, args ...any) error {
	if s.dialect == PostgreSQL {
		return s.db.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	return stmt.QueryRowContext(ctx, args...).Scan(dest...)
}

// prepared returns query prepared on s.db, the same *sql.Stmt for every
// call but those racing to prepare it first. No lock is held while
// preparing, which waits for a connection and the database within ctx.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtsMu.RLock()
	stmt := s.stmts[query]
	s.stmtsMu.RUnlock()
	if stmt != nil {
		return stmt, nil
	}
	stmt, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtsMu.Lock()
	defer s.stmtsMu.Unlock()
	switch have := s.stmts[query]; {
	case s.closed.Load():
		_ = stmt.Close()
		return nil, convo.ErrClosed
	case have != nil:
		_ = stmt.Close()
		return have, nil
	}
	if s.stmts == nil {
		s.stmts = make(map[string]*sql.Stmt)
	}
	s.stmts[query] = stmt
	return stmt, nil
}

// Load returns the record stored under key and its version, or nil and 0
// when no row holds it or the row's expires_at has passed by the Store's
// clock.
func (s *Store) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	var data []byte
	var version int64
	err := s.queryRow(ctx, s.q.load, []any{&data, &version}, key.String(), s.dialect.sqlTime(s.now()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, wrap(ctx, "loading "+key.Redacted(), err)
	}
	return data, uint64(version), nil
}

// Save stores data under key, to expire ttl from now by the Store's clock,
// if the row holds version prev (0: no row, or an expired one), with one
// statement (on MySQL, a version-0 Save whose insert finds a row then
// updates it if it has expired). data must be UTF-8 text without NUL, as
// JSON is.
func (s *Store) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	id := key.String()
	switch {
	case len(id) > MaxKeyLen || len(data) > MaxDataLen:
		return fmt.Errorf("sqlstore: saving %s: key of %d bytes or record of %d: %w", key.Redacted(), len(id), len(data), convo.ErrTooLarge)
	case !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0:
		return fmt.Errorf("sqlstore: saving %s: the record is not UTF-8 text without NUL", key.Redacted())
	}
	now := s.now()
	t := s.dialect.sqlTime(now)
	// Versions are kept as BIGINT: the Handler's are below 2^63, and
	// larger ones come back intact through the conversions.
	args := []any{string(data), int64(next), s.dialect.sqlTime(now.Add(ttl)), t, id}
	var n int64
	var err error
	switch {
	case prev != 0:
		n, err = s.write(ctx, s.q.update, append(args, int64(prev), t)...)
	case s.q.revive != "":
		// A new conversation, the common case, in one statement; over a
		// row, expired or not, the insert is refused with a duplicate key
		// and the revive replaces an expired one.
		if n, err = s.write(ctx, s.q.insert, args...); lostRace(err) == mysqlDuplicate {
			n, err = s.write(ctx, s.q.revive, append(args, t)...)
		}
	default:
		n, err = s.write(ctx, s.q.insert, append(args, t)...)
	}
	if code := lostRace(err); code != "" {
		// Not the driver's message: MySQL's duplicate key quotes the key.
		return fmt.Errorf("sqlstore: saving %s: %w (%s)", key.Redacted(), convo.ErrConflict, code)
	}
	if err != nil {
		return wrap(ctx, "saving "+key.Redacted(), err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: saving %s: the stored version is not %d: %w", key.Redacted(), prev, convo.ErrConflict)
	}
	return nil
}

// Delete removes the row of key, expired or not.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, err := s.write(ctx, s.q.delete, key.String()); err != nil {
		return wrap(ctx, "deleting "+key.Redacted(), err)
	}
	return nil
}

// mysqlDuplicate is what lostRace returns for MySQL's ER_DUP_ENTRY.
const mysqlDuplicate = "MySQL error 1062"

// mysqlRace matches the text go-sql-driver/mysql gives MySQL's and
// MariaDB's errors 1062 and 1213, "Error 1062 (23000): Duplicate entry …".
var mysqlRace = regexp.MustCompile(`(?m)(^|: )Error (1062|1213)\b`)

// lostRace returns the code of the error by which the database refused a
// statement that lost a race, having written nothing: a duplicate key
// (MySQL's insert of a key another Save has just stored), a deadlock or a
// serialization failure; "" for any other error. It reads the codes
// without importing the drivers: PostgreSQL's SQLSTATE through the
// SQLState method of pgx's and pq's errors, MySQL's from the driver's text.
func lostRace(err error) string {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) && (pg.SQLState() == "40001" || pg.SQLState() == "40P01") {
		return "SQLSTATE " + pg.SQLState() // serialization_failure, deadlock_detected
	}
	if m := mysqlRace.FindStringSubmatch(fmt.Sprint(err)); m != nil {
		return "MySQL error " + m[2] // mysqlDuplicate, ER_LOCK_DEADLOCK
	}
	return ""
}

// Cleanup deletes the rows expired by the Store's clock before the hour
// it is in, in statements of at most Options.CleanupBatch rows, until one
// deletes fewer or ctx ends, and returns how many it deleted. The
// background loop calls it; cron jobs and tests may too.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var total int64
	for races := 0; ; {
		if err := s.check(ctx); err != nil {
			return total, err
		}
		t := s.dialect.sqlTime(s.now())
		args := []any{t, s.batch}
		if s.dialect != MySQL {
			args = append(args, t)
		}
		n, err := s.write(ctx, s.q.cleanup, args...)
		if lostRace(err) != "" && races < 5 {
			races++ // a deadlock with a Save, which the database rolled back
			continue
		}
		if err != nil {
			return total, wrap(ctx, "cleanup of "+s.table, err)
		}
		if total += n; n < int64(s.batch) {
			return total, nil
		}
	}
}

func (s *Store) cleanupLoop(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if n, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sqlstore: cleanup failed", "table", s.table, "deleted", n, "error", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Close stops the cleanup loop, interrupting a cleanup under way, waits
// for it, and closes the Store's prepared statements. Later calls of the
// Store's methods return errors wrapping convo.ErrClosed. Close leaves db
// open, is idempotent and returns nil.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.stop()
	})
	<-s.done
	s.stmtsMu.Lock()
	defer s.stmtsMu.Unlock()
	for q, stmt := range s.stmts {
		_ = stmt.Close() // waits for the calls still using it
		delete(s.stmts, q)
	}
	return nil
}
