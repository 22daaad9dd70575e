package redisstore_test

import (
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
)

// A webhook server of a fleet: every server runs the same code against
// one Redis, with client timeouts that make an outage a quick 503.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            1,
	})
	defer rdb.Close()

	store := redisstore.New(rdb, redisstore.Options{
		Prefix: "myapp:convo:",
		Expiry: convo.Expiry{Idle: time.Hour},
	})
	h, err := convo.NewHandler(convo.Config{
		Store:       store,
		AuthToken:   os.Getenv("TWILIO_AUTH_TOKEN"),
		TurnTimeout: 3 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /sms", h)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
