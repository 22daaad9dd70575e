package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

// A webhook server keeping its conversations in a SQLite file. With
// sqlstore.PostgreSQL and "postgres://…", or sqlstore.MySQL and
// "user@tcp(host:3306)/db", it is the same code.
func Example() {
	dir, err := os.MkdirTemp("", "convo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sqlstore.Open(sqlstore.SQLite, filepath.Join(dir, "convo.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{}) // the dialect is detected
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	h, err := convo.NewHandler(convo.Config{Store: store, AuthToken: "your Twilio auth token"})
	if err != nil {
		log.Fatal(err)
	}
	_ = h // http.Handle("/sms", h)

	c, err := store.Load(ctx, convo.Key{From: "+14158675308", To: "+15005550006"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.Dialect(), store.Table(), c.Count)
	// Output: sqlite convo_conversations 0
}
