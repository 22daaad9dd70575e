package systems

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/smsconvo/convo/cookiestore"
	"github.com/smsconvo/convo/sqlstore"
)

// convo on its other single-node stores, placed after convo on memstore (and its inline variant).
func init() {
	i := slices.IndexFunc(all, func(s System) bool { return s.Name == "convo-memstore-inline" })
	all = slices.Insert(all, i+1,
		System{Name: "convo-cookiestore", Counts: true, New: newConvoCookiestore},
		System{Name: "convo-sqlstore", Counts: true, New: newConvoSQLite},
	)
}

// newConvoCookiestore keeps the conversation in Twilio's cookie, signed
// and encrypted with a fresh key pair.
func newConvoCookiestore(hook func(), _ string) (http.Handler, func() error, error) {
	keys, err := cookiestore.GenerateKeyPair()
	if err != nil {
		return nil, nil, err
	}
	store, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{keys}, Logger: discard})
	if err != nil {
		return nil, nil, err
	}
	h, err := convoHandler(store, hook)
	return h, noClose, err
}

// newConvoSQLite keeps conversations in a SQLite file (WAL, as
// sqlstore.Open sets it up) in a temporary directory.
func newConvoSQLite(hook func(), dir string) (http.Handler, func() error, error) {
	db, err := sqlstore.Open(sqlstore.SQLite, filepath.Join(dir, "convo.db"))
	if err != nil {
		return nil, nil, err
	}
	store, err := sqlstore.New(db, sqlstore.Options{Logger: discard})
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	closeAll := func() error { return errors.Join(store.Close(), db.Close()) }
	if err := store.Migrate(context.Background()); err != nil {
		_ = closeAll()
		return nil, nil, err
	}
	h, err := convoHandler(store, hook)
	return h, closeAll, err
}
