package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
)

// SchemaVersion is the version of the schema this package creates and
// reads, kept in the one row of the table named Options.Table + "_schema".
const SchemaVersion = 1

// Migrate creates the store's tables and index when they are missing, and
// brings an older schema up to SchemaVersion, recording the version it
// reached. It holds a lock while it works (an advisory lock on PostgreSQL,
// GET_LOCK on MySQL, an immediate transaction on SQLite), so that servers
// starting together migrate once. A schema newer than this package knows
// is an error, and left alone. Migrate is safe to call at every start.
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
		if uerr := unlock(err != nil); uerr != nil && err == nil {
			err = fmt.Errorf("sqlstore: migrate: %w", uerr)
		}
	}()

	if _, err := conn.ExecContext(ctx, s.sql.schemaCreate); err != nil {
		return fmt.Errorf("sqlstore: migrate: creating %s: %w", s.sql.schemaTable, err)
	}
	var current int
	switch err := conn.QueryRowContext(ctx, s.sql.schemaSelect).Scan(&current); {
	case errors.Is(err, sql.ErrNoRows):
		current = 0
	case err != nil:
		return fmt.Errorf("sqlstore: migrate: reading the schema version: %w", err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("sqlstore: migrate: table %s has schema version %d, newer than this version of sqlstore knows (%d)", s.table, current, SchemaVersion)
	}
	for v := current + 1; v <= SchemaVersion; v++ {
		for _, stmt := range s.sql.migrations[v] {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sqlstore: migrate to schema version %d: %w", v, err)
			}
		}
		q := s.sql.schemaUpdate
		if v == 1 {
			q = s.sql.schemaInsert
		}
		if _, err := conn.ExecContext(ctx, q, v); err != nil {
			return fmt.Errorf("sqlstore: migrate: recording schema version %d: %w", v, err)
		}
	}
	return nil
}

// lockSchema takes the dialect's lock for a migration on conn and returns
// the function that releases it (rolling back when failed, on SQLite).
func (s *Store) lockSchema(ctx context.Context, conn *sql.Conn) (unlock func(failed bool) error, err error) {
	name := "convo_sqlstore_" + s.table
	switch s.dialect {
	case PostgreSQL:
		h := fnv.New64a()
		h.Write([]byte(name))
		key := int64(h.Sum64())
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			return nil, err
		}
		return func(bool) error {
			_, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
			return err
		}, nil
	case MySQL:
		if len(name) > 64 {
			name = name[:64]
		}
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 30)", name).Scan(&got); err != nil {
			return nil, err
		}
		if !got.Valid || got.Int64 != 1 {
			return nil, fmt.Errorf("GET_LOCK(%q) timed out", name)
		}
		return func(bool) error {
			_, err := conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name)
			return err
		}, nil
	default:
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return nil, err
		}
		return func(failed bool) error {
			if failed {
				_, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
				return err
			}
			_, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
			return err
		}, nil
	}
}
