// Package sqlite opens the embedded SQLite database of a sqlstore.Store with
// modernc.org/sqlite (pure Go, no cgo): one file, no server.
//
//	db, err := sqlite.Open("convo.db")
//	store, err := sqlstore.New(db, sqlstore.Options{})
//
// Only programs importing this package link the SQLite driver.
package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// BusyTimeout is how long a connection opened by Open waits for another
// connection's (or process's) write lock before failing.
const BusyTimeout = 5 * time.Second

// Open opens the SQLite database dsn, a file path ("convo.db") or a "file:"
// URI, with modernc.org/sqlite, adding through _pragma parameters what a
// store relies on, unless the DSN sets it itself:
//
//   - journal_mode(WAL): readers never wait for the writer, and processes
//     on one machine can share the file;
//   - busy_timeout: a writer waits BusyTimeout for another's lock;
//   - synchronous(NORMAL): in WAL mode a committed write survives a crash
//     of the process; a power loss may lose the last ones.
//
// An in-memory database (":memory:", "file::memory:" or mode=memory) is
// kept on one connection, since each connection would open a database of
// its own; it lives as long as that connection, so do not set a
// connection lifetime on it. Like sql.Open, Open does not connect. The
// caller closes the returned *sql.DB.
func Open(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", withPragmas(dsn))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	path, query, _ := strings.Cut(dsn, "?")
	if path == ":memory:" || path == "file::memory:" || strings.Contains(query, "mode=memory") {
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// withPragmas adds to dsn the pragmas Open promises that it does not set.
func withPragmas(dsn string) string {
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return dsn // for the driver to report
	}
	var add []string
	for _, p := range []string{fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()), "journal_mode(WAL)", "synchronous(NORMAL)"} {
		name, _, _ := strings.Cut(p, "(")
		set := false
		for _, have := range q["_pragma"] {
			set = set || strings.HasPrefix(strings.ToLower(strings.TrimSpace(have)), name)
		}
		if !set {
			add = append(add, "_pragma="+url.QueryEscape(p))
		}
	}
	if len(add) == 0 {
		return dsn
	}
	if query != "" {
		add = append([]string{query}, add...)
	}
	return path + "?" + strings.Join(add, "&")
}
