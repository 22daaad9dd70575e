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
// example's handler itself, in process, on the dev phone's clock, so a jump
// of four hours ends its conversations too.
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
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/memstore"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, log)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Error("devphone", "error", err)
		os.Exit(1)
	}
}

// run parses args, serves the page until ctx ends or SIGINT/SIGTERM
// arrives, and shuts down gracefully. The first line it prints on stdout
// holds the page's URL.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("devphone", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "address to serve the page on")
	webhook := fs.String("url", "http://127.0.0.1:8080/sms", "the webhook URL to text")
	publicURL := fs.String("public-url", "", "the URL to sign, when the webhook is configured with another one than -url")
	counter := fs.Bool("counter", false, "text the counter example in process, on the dev phone's clock, instead of -url")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: devphone [flags]\n\nServes a page that texts a Twilio messaging webhook as Twilio would; set TWILIO_AUTH_TOKEN to sign.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	token := getenv("TWILIO_AUTH_TOKEN")
	clock := &offsetClock{}
	opts := Options{Webhook: *webhook, PublicURL: *publicURL, AuthToken: token, Clock: clock, Logger: log}
	if *counter {
		h, closer, err := counterHandler(token, clock.Now, log)
		if err != nil {
			return err
		}
		defer closer.Close()
		opts.Handler, opts.PublicURL = h, ""
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		opts.LoopbackOnly = true
	}
	s, err := newServer(opts)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second}
	signed := "unsigned: set TWILIO_AUTH_TOKEN to sign"
	if token != "" {
		signed = "signed with TWILIO_AUTH_TOKEN"
	}
	fmt.Fprintf(stdout, "convo dev phone on http://%s/ texting %s (%s)\n", ln.Addr(), s.webhook, signed)

	return serve.Until(ctx, srv, ln, 20*time.Second, log)
}

// counterHandler is the counter example's webhook (convo.Greeter of the
// seed's names on memstore) with its clock set to now: the -counter mode.
func counterHandler(token string, now func() time.Time, log *slog.Logger) (http.Handler, io.Closer, error) {
	store := memstore.New(memstore.Options{Expiry: convo.Expiry{Now: now}})
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
