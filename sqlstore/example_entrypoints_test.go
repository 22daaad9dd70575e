package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/smsconvo/convo/sqlstore/sqlite"
)

// New takes the *sql.DB an application already has, and bounds its pool
// unless the application did.
func ExampleNew() {
	db, err := sqlite.Open(":memory:") // one connection, for tests
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{Table: "sms_conversations"})
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
	fmt.Println(store.Table(), db.Stats().MaxOpenConnections)

	_, err = sqlstore.New(db, sqlstore.Options{Table: "no spaces; please"})
	fmt.Println(err != nil)
	// Output:
	// sms_conversations 1
	// true
}

// Expired rows are invisible at once; Cleanup, which also runs in the
// background every CleanupInterval, deletes them.
func ExampleStore_Cleanup() {
	db, err := sqlite.Open(":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	clock := convotest.NewClock(time.Time{})
	store, err := sqlstore.New(db, sqlstore.Options{
		Now:             clock.Now, // the example's clock, moved by hand
		CleanupInterval: -1,        // no background loop: this example cleans by hand
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
		key := convo.Key{From: from, To: "+15005550006"}
		if err := store.Save(ctx, key, []byte(`{"v":2,"count":1}`), 4*time.Hour, 0, 1); err != nil {
			log.Fatal(err)
		}
	}

	clock.Advance(4 * time.Hour)
	data, version, _ := store.Load(ctx, convo.Key{From: "+14158675308", To: "+15005550006"})
	fmt.Println("after 4 hours:", data, version)
	n, err := store.Cleanup(ctx) // expired, but within the hour they expired in
	fmt.Println("deleted:", n, err)
	clock.Advance(time.Hour)
	n, err = store.Cleanup(ctx)
	fmt.Println("an hour later, deleted:", n, err)
	// Output:
	// after 4 hours: [] 0
	// deleted: 0 <nil>
	// an hour later, deleted: 3 <nil>
}
