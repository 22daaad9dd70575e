package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

func init() {
	// -store mysql -dsn: a go-sql-driver DSN, such as root@tcp(127.0.0.1:3306)/test.
	stores["mysql"] = func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
		return openSQL(ctx, sqlstore.MySQL, dsn, "", log)
	}
}
