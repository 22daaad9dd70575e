package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

func init() {
	// -store sqlite -dsn: a file path; "" means convo-counter.db in the working directory.
	stores["sqlite"] = func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.SQLite, dsn, "convo-counter.db", log)
	}
}
