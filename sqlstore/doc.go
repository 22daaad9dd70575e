// Package sqlstore keeps conversations in a SQL database through
// database/sql, so that webhook servers sharing the database share the
// conversations without losing a count. It speaks SQLite, PostgreSQL and
// MySQL or MariaDB, and imports no driver: open the *sql.DB with the
// driver of your choice, and New tells the dialect from it.
//
//	db, err := sqlite.Open("convo.db") // package sqlstore/sqlite: the embedded default
//	// or sql.Open("pgx", "postgres://…") with _ "github.com/jackc/pgx/v5/stdlib"
//	// or sql.Open("mysql", "user@tcp(host:3306)/db") with _ "github.com/go-sql-driver/mysql"
//	store, err := sqlstore.New(db, sqlstore.Options{})
//	err = store.Migrate(ctx) // creates the table; safe at every start
//	defer store.Close()
//
// # Contract
//
// One row per conversation holds the record as text, byte for byte, its
// version and its expires_at, set by the Store's clock (Options.Now).
// Load never returns a row whose expires_at has passed. Save is a
// compare-and-set on the version column in one statement: an update of
// the row holding version prev and not expired, or for prev 0 an insert
// that may replace an expired row; when no row changes, or the database
// refuses the statement as a lost race (a duplicate key, a deadlock, a
// serialization failure), nothing was written and the error wraps
// convo.ErrConflict, without the driver's message, which may quote the
// key. Every call passes its context to database/sql, so it waits for a
// connection or the database only until ctx ends, and then returns an
// error wrapping ctx.Err(). After Close, calls return errors wrapping
// convo.ErrClosed.
//
// # Pool
//
// New bounds an unbounded pool to Options.MaxOpenConns connections
// (DefaultMaxOpenConns), keeping as many idle, on the *sql.DB it is given:
// a locked table or a slow database then makes turns wait for a connection
// within their deadline, rather than take every connection the server
// has. Set the pool yourself before New, or MaxOpenConns -1, to choose.
//
// # Cleanup
//
// Expired rows are invisible at once. A background goroutine deletes them
// every Options.CleanupInterval, once the hour they expired in has ended,
// in statements of at most Options.CleanupBatch rows along the index on
// expires_hour (the hour of expires_at, which the database computes and a
// Save changes once an hour at most, so that most Saves write no index),
// each checking the row it deletes again, so that a row a Save has just
// revived stays. Close stops it; [Store.Cleanup] runs one by hand.
//
// # Schema
//
// The table, Options.Table, is keyed by [convo.Key.String] (id, at most
// MaxKeyLen bytes) and holds data as text (TEXT; MEDIUMTEXT with
// utf8mb4_bin on MySQL), the version as BIGINT, expires_at and updated_at
// (TIMESTAMPTZ; DATETIME(6) in UTC on MySQL; fixed-width UTC text on
// SQLite). README.md shows the DDL of each dialect, which [Store.Migrate]
// runs under a lock, and how to read records with SQL. Schema version 1,
// of development versions, is replaced by an empty table.
package sqlstore
