// Package convo turns Twilio's separate SMS and WhatsApp webhooks into
// conversations.
//
// SMS is stateless: every inbound message reaches your webhook as its own
// HTTP request. convo's [Handler] checks Twilio's signature, loads the
// [Conversation] of the message's From/To pair from a [Store], calls your
// [ReplyFunc], saves the conversation and answers TwiML. Turns of one
// conversation never overlap and never lose an update, even across a fleet
// of servers sharing a store, and a retry of a message Twilio already got
// an answer for is answered the same way again without being counted twice.
//
// Mount it on any mux:
//
//	package main
//
//	import (
//		"context"
//		"log"
//		"net/http"
//		"os"
//
//		"github.com/smsconvo/convo"
//		"github.com/smsconvo/convo/memstore"
//	)
//
//	func main() {
//		h, err := convo.NewHandler(convo.Config{
//			Store:     memstore.New(memstore.Options{}),
//			AuthToken: os.Getenv("TWILIO_AUTH_TOKEN"),
//			Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
//				if c.Count == 1 {
//					return convo.Text("Welcome! Text me again."), nil
//				}
//				return convo.Textf("Message %d: you said %q", c.Count, m.Body), nil
//			},
//		})
//		if err != nil {
//			log.Fatal(err)
//		}
//		mux := http.NewServeMux()
//		mux.Handle("POST /sms", h)
//		log.Fatal(http.ListenAndServe(":8080", mux))
//	}
//
// The stores live in subpackages: memstore (one process), cookiestore (the
// whole conversation in Twilio's cookie, no server state), sqlstore (SQLite,
// PostgreSQL, MySQL/MariaDB) and redisstore. Package convotest checks any
// Store against the contract and fakes Twilio for end-to-end tests.
//
// Application state is typed: keep your own struct in the conversation with
// [WithState], or [StateOf] and [SetState].
package convo
