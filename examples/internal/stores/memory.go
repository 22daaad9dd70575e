package stores

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

func init() {
	register("memory", func(_ context.Context, dsn string, _ *slog.Logger) (convo.Store, io.Closer, error) {
		if dsn != "" {
			return nil, nil, errors.New("the memory store takes no -dsn")
		}
		s := memstore.New(memstore.Options{})
		return s, s, nil
	})
}
