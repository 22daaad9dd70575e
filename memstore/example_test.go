package memstore_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
)

// A memstore behind a Handler: the whole setup of a one-server bot.
func ExampleNew() {
	store := memstore.New(memstore.Options{MaxConversations: 10_000})
	defer store.Close()

	h, err := convo.NewHandler(convo.Config{
		Store:     store,
		Reply:     convo.Greeter(convo.SeedNames()),
		AuthToken: "your-twilio-auth-token",
		Idle:      time.Hour, // forget conversations idle for an hour
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	fmt.Println(store.Len())
	// Output: 0
}

// The store moves bytes with a version: a Save from a stale Load conflicts.
func ExampleStore_Save() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	ctx := context.Background()
	key := convo.Key{From: "+14158675308", To: "+15005550006"}

	fmt.Println(store.Save(ctx, key, []byte(`{"n":1}`), time.Hour, 0, 7))
	fmt.Println(store.Save(ctx, key, []byte(`{"n":2}`), time.Hour, 0, 8))
	data, version, _ := store.Load(ctx, key)
	fmt.Println(string(data), version)
	// Output:
	// <nil>
	// memstore: saving …5308/…0006: convo: conversation changed since it was loaded
	// {"n":1} 7
}
