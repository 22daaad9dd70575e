package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

// openSQL opens a sqlstore of dialect d on dsn (def when dsn is ""), checks
// that the database answers and creates or migrates its table.
func openSQL(ctx context.Context, d sqlstore.Dialect, dsn, def string, log *slog.Logger) (convo.Store, io.Closer, error) {
	if dsn == "" {
		dsn = def
	}
	if dsn == "" {
		return nil, nil, fmt.Errorf("-store %s needs -dsn", d)
	}
	db, err := sqlstore.Open(d, dsn)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connecting to %s: %w", d, err)
	}
	s, err := sqlstore.New(db, sqlstore.Options{Logger: log})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		db.Close()
		return nil, nil, err
	}
	return s, closers{s, db}, nil
}

// closers closes each of its elements in turn.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
