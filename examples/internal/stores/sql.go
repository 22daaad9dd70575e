package stores

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

func init() {
	// -store sqlite -dsn: a file path; "" means convo.db in the
	// working directory.
	register("sqlite", func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.SQLite, dsn, DefaultSQLiteDSN, log)
	})
	// -store postgres -dsn: a postgres:// URL or key=value DSN, such as
	// postgres://root@127.0.0.1:5432/test?sslmode=disable.
	register("postgres", func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.PostgreSQL, dsn, "", log)
	})
	// -store mysql -dsn: a go-sql-driver DSN, such as
	// root@tcp(127.0.0.1:3306)/test.
	register("mysql", func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.MySQL, dsn, "", log)
	})
}

// DefaultSQLiteDSN is the file -store sqlite uses without -dsn, in the
// working directory.
const DefaultSQLiteDSN = "convo.db"

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
	log.Info("sql store", "dialect", d, "table", s.Table())
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
