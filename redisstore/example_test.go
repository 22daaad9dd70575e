package redisstore_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
)

// A webhook server of a fleet: every server runs the same code against
// one Redis, with client timeouts that turn an outage into a quick 503.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true, // a hung Redis stops at the turn's deadline
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            1,
	})
	defer rdb.Close() // the client is the application's: the store never closes it

	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:convo:"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := convo.NewHandler(convo.Config{
		Store:       store,
		Reply:       convo.Greeter(nil),
		AuthToken:   os.Getenv("TWILIO_AUTH_TOKEN"),
		TurnTimeout: 3 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /sms", h)
	log.Fatal(http.ListenAndServe(":8080", nil))
}

// On Redis Cluster, pass a *redis.ClusterClient: each conversation is one
// key, in the slot its key hashes to.
func Example_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
		ContextTimeoutEnabled: true,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{Prefix: "myapp:convo:"}) // no {hash tag} in it
	if err != nil {
		log.Fatal(err)
	}
	_ = store // convo.Config{Store: store, …}
}

// New refuses a nil client, typed or not, rather than panic at the first
// message; it connects to nothing itself.
func ExampleNew() {
	var rdb *redis.Client // never set
	_, err := redisstore.New(rdb, redisstore.Options{})
	fmt.Println(err)
	// Output: redisstore: New with a nil client
}
