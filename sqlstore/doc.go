// Package sqlstore keeps conversations in a SQL database through
// database/sql, so that any number of webhook servers sharing the database
// share the conversations without losing a count.
//
// It speaks three dialects: SQLite, through modernc.org/sqlite (pure Go, no
// cgo; the embedded default: one file, no server), PostgreSQL, through
// github.com/jackc/pgx/v5/stdlib, and MySQL or MariaDB, through
// github.com/go-sql-driver/mysql. [New] takes the *sql.DB the application
// already has and tells the dialect from its driver; [Open] opens one from
// a DSN as its driver's users write it, adding the parameters the store
// relies on:
//
//	db, err := sqlstore.Open(sqlstore.SQLite, "convo.db")
//	// or sqlstore.Open(sqlstore.PostgreSQL, "postgres://root@127.0.0.1:5432/test?sslmode=disable")
//	// or sqlstore.Open(sqlstore.MySQL, "root@tcp(127.0.0.1:3306)/test")
//	store, err := sqlstore.New(db, sqlstore.Options{})
//	err = store.Migrate(ctx) // creates the table, or brings it up to date
//	defer store.Close()
//
// # Guarantees
//
// Load never sees a row whose expires_at is at or before now, where now is
// the clock of Options.Expiry, not the database's, so that every server
// agrees with its own Expiry and tests can move time by hand. A row whose
// data cannot be decoded gives an error wrapping convo.ErrCorrupt and is
// left in place: Save of a fresh conversation over it conflicts, Delete
// removes it.
//
// Save is a compare-and-set on the version column, in one statement. A
// conversation of version 0 is inserted, or replaces a row that has
// expired (an upsert on PostgreSQL and SQLite; on MySQL an update of an
// expired row, else an insert, which a live row makes fail on its
// duplicate key); any other version updates the row only while it still
// holds that version and has not expired. When no row changed, nothing was
// written and Save returns an error wrapping convo.ErrConflict: two saves
// from one load never both succeed, in one process or across many
// machines. New versions are random 63-bit numbers, never a counter, so a
// key that is deleted and created again does not give an old version back
// (a stale Save after that conflicts; the chance that it does not is
// 2⁻⁶³). Deadlocks and serialization failures that the database reports
// for a statement it rolled back are conflicts too, since nothing was
// written; a conflict's error never quotes the driver's message, which
// may hold the key.
//
// Every call takes its context to the driver (QueryRowContext,
// ExecContext), so the Handler's per-turn timeout bounds it: a database
// that is down or stuck makes the webhook answer 503 within the turn
// timeout, and nothing is written.
//
// # Cleanup
//
// Expired rows are invisible at once and deleted by a background loop every
// Options.CleanupInterval (5 minutes by default), in statements of at most
// Options.CleanupBatch rows (1000), each using the index on expires_at, so
// that no statement holds locks for long. A cleanup never deletes a row a
// concurrent Save revived: every statement checks expires_at again on the
// row it deletes. Close stops the loop and waits for it. [Store.Cleanup]
// runs one cleanup, for cron jobs and tests.
//
// # Schema
//
// One table, named by Options.Table ("convo_conversations" by default),
// keyed by [convo.Key.String] (the two addresses path-escaped, joined by
// "/"). data holds the record of [convo.MarshalRecord], a JSON object an
// operator can read with the database's JSON functions (data->>'count' on
// PostgreSQL, JSON_EXTRACT(data, '$.count') on MySQL, json_extract on
// SQLite). On PostgreSQL, whose JSONB cannot hold the NUL character that an
// inbound message may carry, a record holding one is stored as a JSON
// string whose text is the record instead; the store reads both forms, in
// every dialect.
//
// Times are UTC: TIMESTAMPTZ on PostgreSQL, DATETIME(6) on MySQL, and on
// SQLite fixed-width text such as 2026-01-01T12:00:00.000000Z, whose text
// order is time order. A second table, the conversations table's name
// with "_schema" appended, holds the schema version ([SchemaVersion]) in
// one row. [Store.Migrate] creates both, under a lock, and is safe to call
// at every start. Teams that manage schemas themselves create them with the
// statements below (for the default table name) and insert the version.
//
// PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS "convo_conversations" (
//		id         TEXT PRIMARY KEY,
//		version    BIGINT NOT NULL,
//		data       JSONB NOT NULL,
//		created_at TIMESTAMPTZ NOT NULL,
//		updated_at TIMESTAMPTZ NOT NULL,
//		expires_at TIMESTAMPTZ NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "convo_conversations_expires_at" ON "convo_conversations" (expires_at);
//	CREATE TABLE IF NOT EXISTS "convo_conversations_schema" (version INTEGER NOT NULL);
//	INSERT INTO "convo_conversations_schema" (version) VALUES (1);
//
// MySQL and MariaDB (the key column is ASCII with a binary collation, since
// keys differ by case; MariaDB's JSON is LONGTEXT checked by JSON_VALID):
//
//	CREATE TABLE IF NOT EXISTS `convo_conversations` (
//		id         VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
//		version    BIGINT NOT NULL,
//		data       JSON NOT NULL,
//		created_at DATETIME(6) NOT NULL,
//		updated_at DATETIME(6) NOT NULL,
//		expires_at DATETIME(6) NOT NULL,
//		INDEX `convo_conversations_expires_at` (expires_at)
//	) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//	CREATE TABLE IF NOT EXISTS `convo_conversations_schema` (version INTEGER NOT NULL);
//	INSERT INTO `convo_conversations_schema` (version) VALUES (1);
//
// SQLite:
//
//	CREATE TABLE IF NOT EXISTS "convo_conversations" (
//		id         TEXT NOT NULL PRIMARY KEY,
//		version    INTEGER NOT NULL,
//		data       TEXT NOT NULL,
//		created_at TEXT NOT NULL,
//		updated_at TEXT NOT NULL,
//		expires_at TEXT NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS "convo_conversations_expires_at" ON "convo_conversations" (expires_at);
//	CREATE TABLE IF NOT EXISTS "convo_conversations_schema" (version INTEGER NOT NULL);
//	INSERT INTO "convo_conversations_schema" (version) VALUES (1);
//
// # SQLite
//
// Open turns on WAL, so that readers never wait for the writer and several
// processes can share the file, a busy timeout of 5 s, and
// synchronous=NORMAL (in WAL mode a committed turn survives a crash of the
// process; a power loss may lose the last turns). Within one Store, writes
// take turns in Go rather than in SQLite's busy handler, which sleeps for
// milliseconds at a time. Keep the file on a local disk: SQLite's locking
// does not hold over network file systems.
package sqlstore
