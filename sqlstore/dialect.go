package sqlstore

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Dialect names the SQL flavour a Store speaks.
type Dialect string

// The dialects sqlstore speaks.
const (
	// SQLite, through modernc.org/sqlite (pure Go, no cgo), the embedded
	// default. Other SQLite drivers work too.
	SQLite Dialect = "sqlite"
	// PostgreSQL, through github.com/jackc/pgx/v5/stdlib (driver name
	// "pgx"). Other PostgreSQL drivers work too.
	PostgreSQL Dialect = "postgres"
	// MySQL and MariaDB, through github.com/go-sql-driver/mysql.
	MySQL Dialect = "mysql"
)

// DetectDialect tells the dialect of db from the type of its driver: a
// type whose name mentions sqlite is SQLite, pgx, pq or postgres is
// PostgreSQL, mysql is MySQL.
func DetectDialect(db *sql.DB) (Dialect, error) {
	t := reflect.TypeOf(db.Driver())
	name := strings.ToLower(t.String() + " " + t.PkgPath())
	if t.Kind() == reflect.Pointer {
		name += " " + strings.ToLower(t.Elem().PkgPath())
	}
	switch {
	case strings.Contains(name, "sqlite"):
		return SQLite, nil
	case strings.Contains(name, "pgx"), strings.Contains(name, "pq."), strings.Contains(name, "postgres"):
		return PostgreSQL, nil
	case strings.Contains(name, "mysql"):
		return MySQL, nil
	}
	return "", fmt.Errorf("sqlstore: cannot tell the dialect of driver %s; set Options.Dialect", t)
}

// sqlTime returns t as the store passes it to the database, cut to the
// microsecond, the precision of PostgreSQL's and MySQL's timestamps.
// PostgreSQL takes a time.Time for its TIMESTAMPTZ. SQLite keeps times as
// fixed-width UTC text, so that text order is time order. MySQL's DATETIME
// has no zone: it gets UTC text too, so that every writer agrees whatever
// the loc parameter of its DSN.
func (d Dialect) sqlTime(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	switch d {
	case SQLite:
		return t.Format(sqliteTimeFormat)
	case MySQL:
		return t.Format(mysqlTimeFormat)
	}
	return t
}

// mysqlTimeFormat is the DATETIME(6) literal form.
const mysqlTimeFormat = "2006-01-02 15:04:05.000000"

// sqliteTimeFormat is how SQLite rows hold times: UTC, always six
// fractional digits, so that comparing the text compares the times.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// statements are a Store's SQL, built once for its dialect and table.
type statements struct {
	load           string // args: id, now
	replaceExpired string // MySQL only: args: version, data, created, updated, expires, id, now
	insert         string // args: insertArgs
	insertArgs     func(id string, version int64, data string, now, expires any) []any
	update         string // args: version, data, updated, expires, id, old version, now
	delete         string // args: id
	cleanup        string // args: cleanupArgs
	cleanupArgs    func(now any, limit int) []any
	schemaTable    string
	schemaCreate   string
	schemaSelect   string
	schemaInsert   string // args: version
	schemaUpdate   string // args: version
	migrations     [][]string
}

// quote quotes an identifier already checked to be [A-Za-z_][A-Za-z0-9_]*.
func (d Dialect) quote(ident string) string {
	if d == MySQL {
		return "`" + ident + "`"
	}
	return `"` + ident + `"`
}

func buildStatements(d Dialect, table string) *statements {
	t := d.quote(table)
	idx := d.quote(table + "_expires_at")
	s := &statements{schemaTable: d.quote(table + "_schema")}
	p := func(i int) string { return "?" }
	switch d {
	case PostgreSQL:
		p = func(i int) string { return fmt.Sprintf("$%d", i) }
	case SQLite:
		p = func(i int) string { return fmt.Sprintf("?%d", i) }
	}
	s.load = fmt.Sprintf("SELECT version, data FROM %s WHERE id = %s AND expires_at > %s", t, p(1), p(2))
	s.update = fmt.Sprintf("UPDATE %s SET version = %s, data = %s, updated_at = %s, expires_at = %s WHERE id = %s AND version = %s AND expires_at > %s",
		t, p(1), p(2), p(3), p(4), p(5), p(6), p(7))
	s.delete = fmt.Sprintf("DELETE FROM %s WHERE id = %s", t, p(1))
	s.schemaCreate = "CREATE TABLE IF NOT EXISTS " + s.schemaTable + " (version INTEGER NOT NULL)"
	s.schemaSelect = "SELECT version FROM " + s.schemaTable
	s.schemaInsert = "INSERT INTO " + s.schemaTable + " (version) VALUES (" + p(1) + ")"
	s.schemaUpdate = "UPDATE " + s.schemaTable + " SET version = " + p(1)

	switch d {
	case MySQL:
		// MySQL's upsert has no WHERE, and its affected-rows count
		// depends on the client's CLIENT_FOUND_ROWS flag. So: replace an
		// expired row, and when there is none, insert; a live row makes
		// the insert fail with a duplicate key, which is the conflict.
		s.replaceExpired = fmt.Sprintf("UPDATE %s SET version = ?, data = ?, created_at = ?, updated_at = ?, expires_at = ? WHERE id = ? AND expires_at <= ?", t)
		s.insert = fmt.Sprintf("INSERT INTO %s (id, version, data, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)", t)
		s.insertArgs = func(id string, version int64, data string, now, expires any) []any {
			return []any{id, version, data, now, now, expires}
		}
		s.cleanup = fmt.Sprintf("DELETE FROM %s WHERE expires_at <= ? ORDER BY expires_at LIMIT ?", t)
		s.cleanupArgs = func(now any, limit int) []any { return []any{now, limit} }
	default:
		// PostgreSQL and SQLite: an upsert whose update applies only
		// over an expired row; over a live one it changes no row.
		s.insert = fmt.Sprintf("INSERT INTO %[1]s (id, version, data, created_at, updated_at, expires_at) VALUES (%[2]s, %[3]s, %[4]s, %[5]s, %[5]s, %[6]s) "+
			"ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data, created_at = excluded.created_at, "+
			"updated_at = excluded.updated_at, expires_at = excluded.expires_at WHERE %[1]s.expires_at <= %[5]s",
			t, p(1), p(2), p(3), p(4), p(5))
		s.insertArgs = func(id string, version int64, data string, now, expires any) []any {
			return []any{id, version, data, now, expires}
		}
		lock := ""
		if d == PostgreSQL {
			// Skip rows a Save is replacing right now; the outer
			// condition is checked again on the row as it is when
			// locked, so a row revived meanwhile is never deleted.
			lock = " FOR UPDATE SKIP LOCKED"
		}
		s.cleanup = fmt.Sprintf("DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE expires_at <= %[2]s ORDER BY expires_at LIMIT %[3]s%[4]s) AND expires_at <= %[2]s",
			t, p(1), p(2), lock)
		s.cleanupArgs = func(now any, limit int) []any { return []any{now, limit} }
	}
	s.migrations = [][]string{1: ddl(d, t, idx)}
	return s
}

// ddl returns the statements that create schema version 1.
func ddl(d Dialect, t, idx string) []string {
	switch d {
	case PostgreSQL:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id         TEXT PRIMARY KEY,
	version    BIGINT NOT NULL,
	data       JSONB NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
)`,
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (expires_at)",
		}
	case MySQL:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id         VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
	version    BIGINT NOT NULL,
	data       JSON NOT NULL,
	created_at DATETIME(6) NOT NULL,
	updated_at DATETIME(6) NOT NULL,
	expires_at DATETIME(6) NOT NULL,
	INDEX ` + idx + ` (expires_at)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		}
	default:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id         TEXT NOT NULL PRIMARY KEY,
	version    INTEGER NOT NULL,
	data       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
)`,
			"CREATE INDEX IF NOT EXISTS " + idx + " ON " + t + " (expires_at)",
		}
	}
}
