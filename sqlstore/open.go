package sqlstore

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// SQLiteBusyTimeout is how long a SQLite connection opened by Open waits
// for another connection's (or process's) write lock before failing.
const SQLiteBusyTimeout = 5 * time.Second

// Open opens a database of dialect d from a DSN written as its driver's
// users write it, adding the parameters a Store relies on:
//
//   - SQLite: a file path ("convo.db", "/var/lib/app/convo.db") or a
//     "file:" URI, opened with modernc.org/sqlite (":memory:" gives a
//     database that lives as long as db, held on one connection, for
//     tests); Open adds
//     journal_mode(WAL), so that readers never wait for the writer and
//     processes can share the file, busy_timeout (SQLiteBusyTimeout), and
//     synchronous(NORMAL), durable across crashes of the process in WAL
//     mode. Pragmas the DSN sets itself are kept.
//   - PostgreSQL: "postgres://user@host:5432/db?sslmode=disable" or the
//     key=value form, opened with pgx's database/sql driver, unchanged.
//   - MySQL/MariaDB: "user:pass@tcp(host:3306)/db", opened with
//     go-sql-driver/mysql; Open sets parseTime=true and loc=UTC, and a
//     dial timeout of 5 s unless the DSN sets one.
//
// It keeps up to MaxIdleConns idle connections (database/sql keeps 2 by
// default, which makes a busy webhook server connect anew for most
// turns). Like sql.Open it does not connect; the first call does
// (db.PingContext checks at once). The caller closes the returned *sql.DB.
func Open(d Dialect, dsn string) (*sql.DB, error) {
	db, err := open(d, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(MaxIdleConns)
	if d == SQLite && isSQLiteMemory(dsn) {
		// Each connection to ":memory:" opens a database of its own:
		// keep to one, so that every call sees the same conversations.
		db.SetMaxOpenConns(1)
	}
	return db, nil
}

// isSQLiteMemory reports whether dsn names an in-memory SQLite database.
func isSQLiteMemory(dsn string) bool {
	path, query, _ := strings.Cut(dsn, "?")
	return path == ":memory:" || path == "file::memory:" || strings.Contains(query, "mode=memory")
}

// MaxIdleConns is how many idle connections a *sql.DB from Open keeps.
const MaxIdleConns = 16

func open(d Dialect, dsn string) (*sql.DB, error) {
	switch d {
	case SQLite:
		return sql.Open("sqlite", sqliteDSN(dsn))
	case PostgreSQL:
		return sql.Open("pgx", dsn)
	case MySQL:
		cfg, err := mysqlConfig(dsn)
		if err != nil {
			return nil, err
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: MySQL DSN: %w", err)
		}
		return sql.OpenDB(c), nil
	}
	return nil, fmt.Errorf("sqlstore: unknown dialect %q", d)
}

// mysqlConfig parses a MySQL DSN and adds the parameters Open promises.
func mysqlConfig(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: MySQL DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	return cfg, nil
}

// sqliteDSN adds the pragmas sqlstore relies on to a SQLite DSN, unless it
// sets them itself.
func sqliteDSN(dsn string) string {
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return dsn // let the driver report it
	}
	has := func(name string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), name) {
				return true
			}
		}
		return false
	}
	var add []string
	if !has("busy_timeout") && q.Get("_busy_timeout") == "" && q.Get("_timeout") == "" {
		add = append(add, fmt.Sprintf("busy_timeout(%d)", SQLiteBusyTimeout.Milliseconds()))
	}
	if !has("journal_mode") && q.Get("_journal_mode") == "" && q.Get("_journal") == "" {
		add = append(add, "journal_mode(WAL)")
	}
	if !has("synchronous") && q.Get("_synchronous") == "" && q.Get("_sync") == "" {
		add = append(add, "synchronous(NORMAL)")
	}
	if len(add) == 0 {
		return dsn
	}
	var b strings.Builder
	b.WriteString(path)
	b.WriteByte('?')
	if query != "" {
		b.WriteString(query)
		b.WriteByte('&')
	}
	for i, p := range add {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("_pragma=" + url.QueryEscape(p))
	}
	return b.String()
}
