package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/smsconvo/convo"
)

// Defaults of [Options].
const (
	DefaultTable           = "convo_conversations"
	DefaultCleanupInterval = 5 * time.Minute
	DefaultCleanupBatch    = 1000
)

// MaxKeyLen is the longest conversation key (the length of
// [convo.Key.String]) a Store keeps; Save refuses longer ones with an error
// wrapping [convo.ErrTooLarge]. Twilio's addresses are far shorter.
const MaxKeyLen = 1024

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Table is the name of the conversations table: letters, digits and
	// underscores, starting with a letter or underscore, at most 48
	// characters. The schema version lives in a table of the same name
	// with "_schema" appended. "" means DefaultTable.
	Table string

	// Dialect is the database's SQL flavour; "" means detected from the
	// type of db's driver (see [DetectDialect]).
	Dialect Dialect

	// Expiry says when conversations expire: by default after 4 idle
	// hours. Its clock, not the database's, decides what has expired.
	Expiry convo.Expiry

	// CleanupInterval is how often a background goroutine deletes expired
	// rows; 0 means DefaultCleanupInterval, negative means never (expired
	// rows are then invisible, and replaced when their key is saved
	// again, but stay until Cleanup is called).
	CleanupInterval time.Duration

	// CleanupBatch is how many rows one cleanup statement deletes at most,
	// so that no statement holds locks for long; a cleanup runs batches
	// until fewer remain. 0 means DefaultCleanupBatch.
	CleanupBatch int

	// Logger receives a line when a background cleanup fails; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Store is a convo.Store keeping conversations in a SQL database. Create it
// with New and its table with Migrate; it is safe for concurrent use, also
// by many processes sharing one database. Close stops its cleanup loop.
type Store struct {
	db       *sql.DB
	dialect  Dialect
	table    string
	expiry   convo.Expiry
	interval time.Duration
	batch    int
	log      *slog.Logger
	sql      *statements

	// writes, on SQLite, lets one write of this Store run at a time:
	// SQLite runs one writer at a time anyway, and a writer waiting in
	// Go wakes as soon as the previous one is done, where one waiting in
	// SQLite's busy handler sleeps for milliseconds at a time.
	writes chan struct{}

	closed atomic.Bool
	stop   context.CancelFunc // ends the cleanup loop's context
	done   chan struct{}      // closed when the cleanup loop returned
	once   sync.Once
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// New returns a Store keeping conversations in db's table opts.Table. It
// does not create the table: call Migrate, or create it with the DDL in
// the package documentation. Unless opts.CleanupInterval is negative it
// starts a goroutine deleting expired rows until Close. The Store does not
// close db.
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("sqlstore: table name %q is not letters, digits and underscores (at most 48)", table)
	}
	d := opts.Dialect
	switch d {
	case SQLite, PostgreSQL, MySQL:
	case "":
		var err error
		if d, err = DetectDialect(db); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("sqlstore: unknown dialect %q", d)
	}
	s := &Store{
		db: db, dialect: d, table: table, expiry: opts.Expiry,
		interval: opts.CleanupInterval, batch: opts.CleanupBatch, log: opts.Logger,
		sql:  buildStatements(d, table),
		done: make(chan struct{}),
	}
	if s.interval == 0 {
		s.interval = DefaultCleanupInterval
	}
	if s.batch <= 0 {
		s.batch = DefaultCleanupBatch
	}
	if d == SQLite {
		s.writes = make(chan struct{}, 1)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if s.interval > 0 {
		go s.cleanupLoop(ctx)
	} else {
		close(s.done)
	}
	return s, nil
}

// Dialect returns the dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// Table returns the name of the conversations table.
func (s *Store) Table() string { return s.table }

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return convo.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	return nil
}

// lockWrites waits for this Store's turn to write (on SQLite; elsewhere it
// returns at once) and returns the function that ends it.
func (s *Store) lockWrites(ctx context.Context) (unlock func(), err error) {
	if s.writes == nil {
		return func() {}, nil
	}
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sqlstore: waiting to write: %w", ctx.Err())
	}
}

// wrap adds context to a database error, and ctx's error when ctx ended,
// so that callers can tell a timeout with errors.Is.
func wrap(ctx context.Context, what string, key convo.Key, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlstore: %s %s: %w: %w", what, key.Redacted(), cerr, err)
	}
	return fmt.Errorf("sqlstore: %s %s: %w", what, key.Redacted(), err)
}

// Load returns the conversation stored under key, or a fresh one when no
// row holds it or the row has expired (expires_at at or before the Expiry
// clock's now). A row whose data cannot be decoded gives an error wrapping
// convo.ErrCorrupt and is left as it is.
func (s *Store) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	now := s.dialect.sqlTime(s.expiry.Time())
	var version int64
	var data []byte
	err := s.db.QueryRowContext(ctx, s.sql.load, key.String(), now).Scan(&version, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return convo.NewConversation(key), nil
	}
	if err != nil {
		return nil, wrap(ctx, "loading", key, err)
	}
	c, err := decodeData(key, data)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: loading %s: %w", key.Redacted(), err)
	}
	c.Version = uint64(version)
	return c, nil
}

// newVersion returns a random version in [1, 2⁶³-1] other than old. Being
// random rather than counted, a version is never given twice to one key,
// not even after the row was deleted and created again, so a Save from a
// Load before the delete cannot succeed by chance (the ABA problem): its
// odds are 2⁻⁶³.
func newVersion(old uint64) int64 {
	for {
		v := rand.Int64N(math.MaxInt64) + 1
		if uint64(v) != old {
			return v
		}
	}
}

// Save stores c if the stored version still equals c.Version: 0 inserts a
// row, or replaces one that has expired; another version updates the row
// only while it holds that version and has not expired. Otherwise nothing
// is written and the error wraps convo.ErrConflict. On success c.Version is
// the row's new version. The row expires at the Expiry's ExpiresAt of c. An
// ended conversation is stored as it is given (the Handler gives a fresh
// one holding only retry records).
//
// Each Save writes with one statement (on MySQL a version-0 Save that
// finds no expired row to replace then inserts), so an error leaves the
// row as it was, or (when the connection fails after the database
// committed, which the store cannot tell) wholly written.
func (s *Store) Save(ctx context.Context, c *convo.Conversation) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	id := c.Key.String()
	if len(id) > MaxKeyLen {
		return fmt.Errorf("sqlstore: saving %s: key of %d bytes is over %d: %w", c.Key.Redacted(), len(id), MaxKeyLen, convo.ErrTooLarge)
	}
	if c.Version > math.MaxInt64 {
		return fmt.Errorf("sqlstore: saving %s at version %d, which this store never gives: %w", c.Key.Redacted(), c.Version, convo.ErrConflict)
	}
	data, err := encodeData(s.dialect, c)
	if err != nil {
		return fmt.Errorf("sqlstore: saving %s: %w", c.Key.Redacted(), err)
	}
	now := s.dialect.sqlTime(s.expiry.Time())
	expires := s.dialect.sqlTime(s.expiry.ExpiresAt(c))
	version := newVersion(c.Version)
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var n int64
	switch {
	case c.Version != 0:
		n, err = s.exec(ctx, s.sql.update, version, data, now, expires, id, int64(c.Version), now)
	case s.sql.replaceExpired != "":
		n, err = s.exec(ctx, s.sql.replaceExpired, version, data, now, now, expires, id, now)
		if err == nil && n == 0 {
			n, err = s.exec(ctx, s.sql.insert, s.sql.insertArgs(id, version, data, now, expires)...)
		}
	default:
		n, err = s.exec(ctx, s.sql.insert, s.sql.insertArgs(id, version, data, now, expires)...)
	}
	switch {
	case err != nil && lostRace(err):
		// Not the driver's text: MySQL's duplicate-key message quotes
		// the key, full phone numbers and all.
		return fmt.Errorf("sqlstore: saving %s: %w (%s)", c.Key.Redacted(), convo.ErrConflict, raceCode(err))
	case err != nil:
		return wrap(ctx, "saving", c.Key, err)
	case n == 0:
		return fmt.Errorf("sqlstore: saving %s at version %d: stored version differs: %w", c.Key.Redacted(), c.Version, convo.ErrConflict)
	}
	c.Version = uint64(version)
	return nil
}

// exec runs a statement and returns how many rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// lostRace reports whether err is the database refusing a statement that
// lost a race: a duplicate key (MySQL's insert of a key that another
// Save has just stored), a deadlock or a serialization failure. Nothing
// was written, and the caller should load again, as after a conflict.
func lostRace(err error) bool {
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return my.Number == 1062 || my.Number == 1213 // ER_DUP_ENTRY, ER_LOCK_DEADLOCK
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}

// raceCode names the error lostRace recognised, without its message.
func raceCode(err error) string {
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return fmt.Sprintf("MySQL error %d", my.Number)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return "PostgreSQL SQLSTATE " + pg.Code
	}
	return "lost a race"
}

// Delete removes the row of key; a missing key is no error.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.db.ExecContext(ctx, s.sql.delete, key.String()); err != nil {
		return wrap(ctx, "deleting", key, err)
	}
	return nil
}

// Cleanup deletes the rows that have expired by the Expiry clock's now, in
// statements of at most Options.CleanupBatch rows, until fewer than that
// remain or ctx ends. It returns how many rows it deleted. The background
// loop calls it; tests and cron jobs may too.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, convo.ErrClosed
	}
	var total int64
	races := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("sqlstore: cleanup: %w", err)
		}
		n, err := s.cleanupBatch(ctx)
		if err != nil && lostRace(err) && races < 5 {
			// A deadlock with a Save (which locks the key, then the
			// expiry index, where a cleanup goes the other way): the
			// database rolled this batch back; run it again.
			races++
			continue
		}
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

// cleanupBatch runs one cleanup statement.
func (s *Store) cleanupBatch(ctx context.Context) (int64, error) {
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	now := s.dialect.sqlTime(s.expiry.Time())
	res, err := s.db.ExecContext(ctx, s.sql.cleanup, s.sql.cleanupArgs(now, s.batch)...)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: cleanup of %s: %w", s.table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: cleanup of %s: %w", s.table, err)
	}
	return n, nil
}

func (s *Store) cleanupLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			n, err := s.Cleanup(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("sqlstore: cleanup failed", "table", s.table, "deleted", n, "error", err)
			case n > 0:
				s.log.Debug("sqlstore: cleanup", "table", s.table, "deleted", n)
			}
		case <-ctx.Done():
			return
		}
	}
}

// Close stops the cleanup loop, interrupting a cleanup under way, and
// waits for it to return. Calls after Close fail with convo.ErrClosed. It
// does not close the *sql.DB. Close is idempotent and returns nil.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.stop()
	})
	<-s.done
	return nil
}
