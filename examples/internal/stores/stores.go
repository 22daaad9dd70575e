// Package stores opens the convo store an example program is told to use
// with its -store, -dsn and -insecure-cookie flags, and prints cookie keys
// for -genkey: one home for every store the examples offer.
//
// Each example has its own name (its "app"), which keeps its data apart
// from the other examples' on a shared database: its SQLite file is
// app.db, its SQL table app_conversations, its Redis keys start with
// convo:app:.
package stores

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
)

// MaxConversations bounds the memory store of every example: past it the
// least recently active conversations are dropped. A counter conversation
// takes about 1 KB.
const MaxConversations = 10_000

// Flags are the store flags of an example. Register defines them.
type Flags struct {
	Store          string // -store: a name of Names
	DSN            string // -dsn: the store's data source, "" for its default
	InsecureCookie bool   // -insecure-cookie: the cookie store's cookie without Secure
	GenKey         bool   // -genkey: print a fresh cookie key pair and exit
	app            string
}

// config is what an opener gets.
type config struct {
	app            string
	dsn            string
	insecureCookie bool
	getenv         func(string) string
	log            *slog.Logger
}

// kind is one store the examples offer.
type kind struct {
	name  string
	usage func(app string) string // what -dsn it takes, for -h
	open  func(ctx context.Context, c config) (convo.Store, io.Closer, error)
}

// kinds are the stores, in the order -h lists them.
var kinds = []kind{
	{"memory", usageMemory, openMemory},
	{"cookie", usageCookie, openCookie},
	{"sqlite", usageSQLite, openSQLite},
	{"postgres", usagePostgres, openPostgres},
	{"mysql", usageMySQL, openMySQL},
	{"redis", usageRedis, openRedis},
}

// Names lists the stores, in the order -h lists them.
func Names() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// Register defines -store (default store), -dsn, -insecure-cookie and
// -genkey on fs for the example app.
func Register(fs *flag.FlagSet, app, store string) *Flags {
	f := &Flags{app: app}
	var b strings.Builder
	b.WriteString("`name` of the store keeping the conversations:")
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %-9s %s", k.name, k.usage(app))
	}
	fs.StringVar(&f.Store, "store", store, b.String())
	fs.StringVar(&f.DSN, "dsn", "", "the store's data `source`, as -store describes; \"\" for its default")
	fs.BoolVar(&f.InsecureCookie, "insecure-cookie", false,
		"-store cookie: set the cookie without Secure, for a webhook served over plain HTTP in local development")
	fs.BoolVar(&f.GenKey, "genkey", false, "print a fresh cookie key pair for CONVO_COOKIE_KEYS and exit")
	return f
}

// Open opens the store the flags name, checks that it answers and, for the
// SQL stores, creates its table. The io.Closer releases it.
func (f *Flags) Open(ctx context.Context, getenv func(string) string, log *slog.Logger) (convo.Store, io.Closer, error) {
	if f.InsecureCookie && f.Store != "cookie" {
		return nil, nil, errors.New("-insecure-cookie is for -store cookie only")
	}
	return open(ctx, f.Store, config{app: f.app, dsn: f.DSN, insecureCookie: f.InsecureCookie, getenv: getenv, log: log})
}

// Open opens the store called name for the example app, on dsn ("" for
// the store's default), as its -store and -dsn flags would.
func Open(ctx context.Context, app, name, dsn string, log *slog.Logger) (convo.Store, io.Closer, error) {
	return open(ctx, name, config{app: app, dsn: dsn, getenv: func(string) string { return "" }, log: log})
}

func open(ctx context.Context, name string, c config) (convo.Store, io.Closer, error) {
	for _, k := range kinds {
		if k.name != name {
			continue
		}
		s, closer, err := k.open(ctx, c)
		if err != nil {
			return nil, nil, fmt.Errorf("opening the %s store: %w", k.name, err)
		}
		return s, closer, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q; choose one of %s", name, strings.Join(Names(), ", "))
}

// WriteKey writes a fresh cookie key pair to w, as a shell assignment of
// CONVO_COOKIE_KEYS: what -genkey prints.
func WriteKey(w io.Writer) error {
	p, err := cookiestore.GenerateKeyPair()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "CONVO_COOKIE_KEYS=%s\n", cookiestore.FormatKeys([]cookiestore.KeyPair{p}))
	return err
}

// noClose is the io.Closer of a store that holds nothing to close.
type noClose struct{}

func (noClose) Close() error { return nil }

// closers closes each of its elements in turn.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// noDSN fails when c has a -dsn, which the store takes none of.
func noDSN(c config, name string) error {
	if c.dsn != "" {
		return fmt.Errorf("-store %s takes no -dsn (-dsn is the data source of sqlite, postgres, mysql and redis)", name)
	}
	return nil
}
