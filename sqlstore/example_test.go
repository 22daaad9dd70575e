package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
)

// A webhook server keeping its conversations in a SQLite file. With
// sql.Open("pgx", "postgres://…") or sql.Open("mysql", "user@tcp(host:3306)/db")
// in place of sqlite.Open, and their drivers imported, it is the same code.
func Example() {
	dir, err := os.MkdirTemp("", "convo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sqlite.Open(filepath.Join(dir, "convo.db"))
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
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(convo.SeedNames()), AuthToken: "your Twilio auth token"})
	if err != nil {
		log.Fatal(err)
	}
	// http.Handle("/sms", h); here a fake Twilio sends two messages.
	rey := convotest.NewTwilio(h, convotest.TwilioOptions{AuthToken: "your Twilio auth token"}).Phone("+14158675308", "+15005550006")
	for _, text := range []string{"hello", "again"} {
		reply, err := rey.Send(ctx, text)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(reply)
	}
	fmt.Println(store.Dialect(), store.Table())
	// Output:
	// Rey has messaged +15005550006 1 times
	// Rey has messaged +15005550006 2 times
	// sqlite convo_conversations
}
