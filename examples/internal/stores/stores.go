// Package stores opens the convo store an example program is told to use
// with its -store and -dsn flags. Each store registers itself from its own
// file, so an example supports every store this module has.
package stores

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/smsconvo/convo"
)

// Opener opens a store from a -dsn value ("" for the store's default).
type Opener func(ctx context.Context, dsn string, log *slog.Logger) (convo.Store, io.Closer, error)

var openers = map[string]Opener{}

// register makes a store available under name.
func register(name string, open Opener) { openers[name] = open }

// Open opens the store called name with dsn. The io.Closer releases it.
func Open(ctx context.Context, name, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
	open, ok := openers[name]
	if !ok {
		return nil, nil, fmt.Errorf("unknown store %q; choose one of %s", name, strings.Join(Names(), ", "))
	}
	return open(ctx, dsn, log)
}

// Names lists the stores available, sorted.
func Names() []string {
	names := make([]string, 0, len(openers))
	for n := range openers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
