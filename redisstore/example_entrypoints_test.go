package redisstore_test

import (
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
)

// Every key the store writes starts with its prefix: give each application
// its own, and operators can find them with SCAN 0 MATCH prefix*. New does
// not connect; the first Load or Save does.
func ExampleStore_RedisKey() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.Options{Prefix: "shop:sms:"})
	fmt.Println(store.Prefix())
	// RedisKey holds full phone numbers: for tools, never for logs.
	fmt.Println(store.RedisKey(convo.Key{From: "whatsapp:+14158675308", To: "whatsapp:+15005550006"}))

	fmt.Println(redisstore.New(rdb, redisstore.Options{}).Prefix())
	// Output:
	// shop:sms:
	// shop:sms:whatsapp:+14158675308/whatsapp:+15005550006
	// convo:
}
