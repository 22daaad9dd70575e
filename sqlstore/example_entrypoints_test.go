package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
)

// Open takes a DSN as the driver's users write it; ":memory:" is an SQLite
// database that lives as long as the *sql.DB, for tests.
func ExampleOpen() {
	db, err := sqlstore.Open(sqlstore.SQLite, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	d, err := sqlstore.DetectDialect(db)
	fmt.Println(d, err)
	// Output: sqlite <nil>
}

// New takes the *sql.DB an application already has; Options name the table
// and the expiry.
func ExampleNew() {
	db, err := sqlstore.Open(sqlstore.SQLite, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{
		Table:  "sms_conversations",
		Expiry: convo.Expiry{Idle: 30 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	// Safe at every start: it creates the table once, then does nothing.
	for range 2 {
		if err := store.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(store.Table())

	_, err = sqlstore.New(db, sqlstore.Options{Table: "no spaces; please"})
	fmt.Println(err != nil)
	// Output:
	// sms_conversations
	// true
}

// Expired rows are invisible at once; Cleanup (also run in the background
// every CleanupInterval) deletes them.
func ExampleStore_Cleanup() {
	clock := convotest.NewClock(time.Time{})
	db, err := sqlstore.Open(sqlstore.SQLite, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{
		Expiry:          convo.Expiry{Now: clock.Now}, // four idle hours, on the example's clock
		CleanupInterval: -1,                           // no background loop: this example cleans by hand
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	for _, from := range []string{"+14158675308", "+12349013030", "+12348134522"} {
		c, _ := store.Load(ctx, convo.Key{From: from, To: "+15005550006"})
		c.Count, c.LastActive = 1, clock.Now()
		if err := store.Save(ctx, c); err != nil {
			log.Fatal(err)
		}
	}

	clock.Advance(4 * time.Hour)
	c, _ := store.Load(ctx, convo.Key{From: "+14158675308", To: "+15005550006"})
	fmt.Println("expired:", c.IsNew())
	n, err := store.Cleanup(ctx)
	fmt.Println("deleted:", n, err)
	// Output:
	// expired: true
	// deleted: 3 <nil>
}
