package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"time"
)

// SchemaVersion is the version of the schema this package creates and
// reads, kept in the one row of the table Options.Table + "_schema".
// Version 1 was a development schema whose data column was JSONB or JSON,
// holding records of a format the Handler no longer reads.
const SchemaVersion = 2

// Migrate creates the store's table and index when they are missing, and
// records SchemaVersion. It replaces a table of schema version 1 with an
// empty one: the conversations in progress then restart at their next
// message. It holds a lock while it works (an advisory lock on PostgreSQL,
// GET_LOCK on MySQL, an immediate transaction on SQLite), so that servers
// starting together migrate once. A schema newer than this package knows
// is an error and left alone. Migrate is safe to call at every start.
func (s *Store) Migrate(ctx context.Context) (err error) {
	if err := s.check(ctx); err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := s.lockSchema(ctx, conn)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: locking the schema: %w", err)
	}
	defer func() {
		if uerr := unlock(err == nil); uerr != nil {
			// The connection may still hold the lock: drop it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = cmp.Or(err, fmt.Errorf("sqlstore: migrate: unlocking the schema: %w", uerr))
		}
	}()
	return s.migrate(ctx, conn)
}

func (s *Store) migrate(ctx context.Context, conn *sql.Conn) error {
	stmts, schema := ddl(s.dialect, s.table), s.dialect.quote(s.table+"_schema")
	if _, err := conn.ExecContext(ctx, stmts[0]); err != nil {
		return fmt.Errorf("sqlstore: migrate: creating %s: %w", schema, err)
	}
	var current int
	err := conn.QueryRowContext(ctx, "SELECT version FROM "+schema).Scan(&current)
	switch {
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: migrate: reading the schema version: %w", err)
	case current == SchemaVersion:
		return nil
	case current > SchemaVersion:
		return fmt.Errorf("sqlstore: migrate: table %s has schema version %d, newer than this sqlstore knows (%d)", s.table, current, SchemaVersion)
	}
	stmts = append(stmts[1:], fmt.Sprintf("INSERT INTO %s (version) VALUES (%d)", schema, SchemaVersion))
	if current > 0 { // schema 1: a new table
		stmts[len(stmts)-1] = fmt.Sprintf("UPDATE %s SET version = %d", schema, SchemaVersion)
		stmts = append([]string{"DROP TABLE IF EXISTS " + s.dialect.quote(s.table)}, stmts...)
	}
	for _, stmt := range stmts {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlstore: migrate from schema version %d: %w", current, err)
		}
	}
	return nil
}

// lockSchema takes the dialect's migration lock on conn and returns the
// function that releases it, committing what was done when ok (PostgreSQL
// and SQLite migrate in a transaction; MySQL's DDL commits itself). The
// lock's name is made of the table's, an identifier.
func (s *Store) lockSchema(ctx context.Context, conn *sql.Conn) (unlock func(ok bool) error, err error) {
	release := func(query string) error {
		// Even when ctx has ended, but not for ever.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(ctx, query)
		return err
	}
	name := "convo_sqlstore_" + s.table
	if s.dialect == MySQL {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('"+name+"', 30)").Scan(&got); err != nil || got.Int64 != 1 {
			return nil, cmp.Or(err, fmt.Errorf("GET_LOCK('%s', 30) timed out", name))
		}
		return func(bool) error { return release("DO RELEASE_LOCK('" + name + "')") }, nil
	}
	begin := []string{"BEGIN IMMEDIATE"}
	if s.dialect == PostgreSQL {
		h := fnv.New64a()
		h.Write([]byte(name))
		begin = []string{"BEGIN", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(h.Sum64()))}
	}
	for i, q := range begin {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			if i > 0 {
				err = errors.Join(err, release("ROLLBACK"))
			}
			return nil, err
		}
	}
	return func(ok bool) error {
		if ok {
			return release("COMMIT")
		}
		return release("ROLLBACK")
	}, nil
}
