package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

func init() {
	stores["memory"] = func(_ context.Context, dsn string, _ *slog.Logger) (convo.Store, io.Closer, error) {
		if dsn != "" {
			return nil, nil, fmt.Errorf("the memory store takes no -dsn")
		}
		s := memstore.New(memstore.Options{})
		return s, s, nil
	}
}
