// Command devphone is a dev phone in your browser: it plays Twilio for a
// messaging webhook running on your laptop, so you can text your bot as
// several phones at once and watch each conversation, offline and without
// a Twilio account.
//
//	go run ./examples/counter &
//	go run ./examples/devphone -url http://127.0.0.1:8080/sms
//
// then open http://127.0.0.1:8081/. Pick or type a From (the seed's Rey,
// Finn and Chewy are presets) and a To, and text: each From/To pair gets its
// own thread, showing the replies (text, media, redirects) and, for a
// failed answer, its HTTP status as Twilio would log it. The buttons do
// what a real phone cannot: resend the last message as Twilio's retry (the
// same MessageSid), send a burst of N messages at once, and jump the clock
// forward. A side panel shows the pair's cookie, its size against the 4096
// bytes a cookie is held to, and when Twilio lets it expire.
//
// Like Twilio, the dev phone keeps one cookie per From/To pair (four idle
// hours at most; shorter Max-Age or Expires honoured), sends each message
// with a fresh MessageSid and Twilio's parameters (AccountSid, NumMedia,
// MediaUrlN, NumSegments, …), and signs every request with
// X-Twilio-Signature when TWILIO_AUTH_TOKEN is set.
//
// The clock jumps move the dev phone's clock only: they age Twilio's
// cookies, so a webhook keeping its state in the cookie sees the hours pass,
// but one keeping it on the server (the counter's memory store, SQL, Redis)
// lives by its own clock. With -counter the dev phone runs the counter
// example's handler itself, in process, on a memory store, with the dev
// phone's clock as the Handler's Now: the Handler decides when a
// conversation has been idle too long, so a jump of four hours ends its
// conversations too.
//
// Flags:
//
//	-addr ADDR       where the page is served (default 127.0.0.1:8081)
//	-url URL         the webhook to text (default http://127.0.0.1:8080/sms)
//	-public-url URL  the URL to sign, when the webhook is configured with
//	                 another one than -url (see convo.Config.PublicURL)
//	-counter         text the counter example in process instead of -url
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/examples/internal/stores"
	"github.com/smsconvo/convo/memstore"
)

func main() { serve.Main("devphone", nil, run) }

// run parses args and serves the page until ctx ends or SIGINT/SIGTERM
// arrives, then shuts down gracefully. The first line it prints on stdout
// holds the page's URL.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("devphone", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "`host:port` to serve the page on")
	webhook := fs.String("url", "http://127.0.0.1:8080/sms", "the webhook `URL` to text, path included")
	publicURL := fs.String("public-url", "", "the `URL` to sign, when the webhook is configured with another one than -url")
	counter := fs.Bool("counter", false, "text the counter example in process, on the dev phone's clock, instead of -url")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: devphone [flags]\n\nServes a page (http://127.0.0.1:8081/ by default) that texts a Twilio messaging webhook\n"+
			"as Twilio would; set TWILIO_AUTH_TOKEN to sign.\n\n")
		fs.PrintDefaults()
	}
	if err := serve.Parse(fs, args); err != nil {
		return err
	}
	token := getenv("TWILIO_AUTH_TOKEN")
	clock := &offsetClock{}
	opts := Options{Webhook: *webhook, PublicURL: *publicURL, AuthToken: token, Clock: clock, Logger: log, LoopbackOnly: loopback(*addr)}
	if *counter {
		h, closer, err := counterHandler(token, clock.Now, log)
		if err != nil {
			return err
		}
		defer closer.Close()
		opts.Handler, opts.PublicURL = h, ""
	}
	s, err := newServer(opts)
	if err != nil {
		return err
	}
	signed := "unsigned: set TWILIO_AUTH_TOKEN to sign"
	if token != "" {
		signed = "signed with TWILIO_AUTH_TOKEN"
	}
	return serve.Run(ctx, serve.Server{Addr: *addr, Handler: s, Log: log, WriteTimeout: 60 * time.Second, Grace: 20 * time.Second,
		Ready: func(base string) {
			fmt.Fprintf(stdout, "convo dev phone on %s/ texting %s (%s)\n", base, s.webhook, signed)
		}})
}

// loopback reports whether addr is a loopback address (or localhost): the
// page then refuses requests for other hosts (see Options.LoopbackOnly).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// counterHandler is the counter example's webhook (convo.Greeter of the
// seed's names on a memstore) with the Handler's clock set to now, the
// dev phone's: the -counter mode. The Handler decides when conversations
// expire, on that clock, so a clock jump of four hours ends them.
func counterHandler(token string, now func() time.Time, log *slog.Logger) (http.Handler, io.Closer, error) {
	store := memstore.New(memstore.Options{MaxConversations: stores.MaxConversations})
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      convo.Greeter(convo.SeedNames()),
		AuthToken:                  token,
		InsecureSkipSignatureCheck: token == "",
		PublicURL:                  convotest.DefaultWebhookURL,
		Now:                        now,
		Logger:                     log,
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return h, store, nil
}
