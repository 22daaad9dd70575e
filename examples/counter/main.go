// Command counter serves the seed's conversation: Twilio's "Create an SMS
// Conversation" guide, on convo. Each From/To pair gets a counter, and known
// numbers are greeted by name:
//
//	Rey has messaged +15005550006 3 times
//
// Run it from the repository's root with
//
//	go run ./examples/counter
//
// It serves the webhook at POST /sms (http://127.0.0.1:8080/sms) and a
// health line at GET /, and prints a curl command to try. Set
// TWILIO_AUTH_TOKEN to check Twilio's signatures; without it the webhook
// accepts unsigned requests and says so loudly.
//
// Conversations live in memory by default, at most 10,000 of them; -store
// picks another store (cookie, sqlite, postgres, mysql, redis) and -dsn its
// data source. -h lists the flags; -genkey prints a key pair for the
// cookie store's CONVO_COOKIE_KEYS.
package main

import (
	"fmt"
	"io"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/serve"
)

// Path is where the webhook is served.
const Path = "/sms"

var counter = serve.Webhook{
	Name:  "counter",
	About: `Serves the counter of Twilio's "Create an SMS Conversation" guide: "Rey has messaged +15005550006 3 times".`,
	Store: "memory",
	Path:  Path,
	Reply: convo.Greeter(convo.SeedNames()),
	Try: func(w io.Writer, url string, unsigned bool) {
		if unsigned {
			fmt.Fprintf(w, "try: curl -d From=%%2B14158675308 -d To=%%2B15005550006 -d Body=hello %s\n", url)
			return
		}
		fmt.Fprintf(w, "try: go run ./examples/phone -url %s (with the same TWILIO_AUTH_TOKEN, to sign)\n", url)
	},
}

var run = counter.Run

func main() { serve.Main("counter", nil, run) }
