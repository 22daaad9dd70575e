package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

func init() {
	// -store postgres -dsn: a postgres:// URL or key=value DSN, such as postgres://root@127.0.0.1:5432/test?sslmode=disable.
	stores["postgres"] = func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.PostgreSQL, dsn, "", log)
	}
}
