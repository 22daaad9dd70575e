package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
)

// A memstore behind a Handler: the whole setup of a one-server bot.
func ExampleNew() {
	store := memstore.New(memstore.Options{
		Expiry:           convo.Expiry{Idle: time.Hour}, // forget conversations idle for an hour
		MaxConversations: 100_000,                       // and hold at most this many
	})
	defer store.Close()

	h, err := convo.NewHandler(convo.Config{Store: store, AuthToken: "your-twilio-auth-token"})
	if err != nil {
		panic(err)
	}
	_ = h // mux.Handle("POST /sms", h)
	fmt.Println(store.Len())
	// Output: 0
}

// Load, change, Save: the store's compare-and-set refuses a save from a
// stale load.
func ExampleStore_Save() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	ctx := context.Background()
	key := convo.Key{From: "+14158675308", To: "+15005550006"}

	c, _ := store.Load(ctx, key)
	stale := c.Clone()
	c.Count = 1
	fmt.Println(store.Save(ctx, c), c.Version > 0)
	stale.Count = 7
	fmt.Println(errors.Is(store.Save(ctx, stale), convo.ErrConflict))
	c, _ = store.Load(ctx, key)
	fmt.Println(c.Count)
	// Output:
	// <nil> true
	// true
	// 1
}

// Expired conversations are invisible at once; Sweep (run in the
// background every SweepInterval) frees their memory.
func ExampleStore_Sweep() {
	clock := convotest.NewClock(time.Time{})
	store := memstore.New(memstore.Options{
		Expiry:        convo.Expiry{Now: clock.Now}, // Twilio's four idle hours, on the test's clock
		SweepInterval: -1,                           // no background sweeper: this example sweeps by hand
	})
	defer store.Close()
	ctx := context.Background()
	for _, from := range []string{"+14158675308", "+12349013030"} {
		c, _ := store.Load(ctx, convo.Key{From: from, To: "+15005550006"})
		c.Count, c.LastActive = 1, clock.Now()
		_ = store.Save(ctx, c)
	}
	fmt.Println(store.Len())

	clock.Advance(4 * time.Hour)
	c, _ := store.Load(ctx, convo.Key{From: "+14158675308", To: "+15005550006"})
	fmt.Println(c.IsNew(), store.Len())
	store.Sweep()
	fmt.Println(store.Len())
	// Output:
	// 2
	// true 2
	// 0
}

// Calls after Close fail with convo.ErrClosed.
func ExampleStore_Close() {
	store := memstore.New(memstore.Options{})
	store.Close()
	_, err := store.Load(context.Background(), convo.Key{From: "+14158675308", To: "+15005550006"})
	fmt.Println(errors.Is(err, convo.ErrClosed))
	// Output: true
}
