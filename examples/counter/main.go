// Command counter serves the seed's conversation: Twilio's "Create an SMS
// Conversation" guide, on convo. Each From/To pair gets a counter, and known
// numbers are greeted by name:
//
//	Rey has messaged +15005550006 3 times
//
// Run it with
//
//	go run ./examples/counter [-addr 127.0.0.1:8080] [-store memory] [-dsn …] [-public-url https://…]
//
// It serves POST /sms (the webhook) and GET / (a health line). Set
// TWILIO_AUTH_TOKEN to check Twilio's signatures; without it the webhook
// accepts unsigned requests and says so loudly.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/examples/internal/stores"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, log); err != nil {
		log.Error("counter", "error", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends or SIGINT/SIGTERM arrives, and
// shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("counter", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	storeName := fs.String("store", "memory", "where conversations live: "+strings.Join(stores.Names(), ", "))
	dsn := fs.String("dsn", "", "the store's data source, in its driver's own form (see README)")
	publicURL := fs.String("public-url", "", "the URL Twilio is configured with, when it differs from the one requests arrive at (tunnels, proxies)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closer, err := stores.Open(ctx, *storeName, *dsn, log)
	if err != nil {
		return fmt.Errorf("opening %s store: %w", *storeName, err)
	}
	defer closer.Close()

	token := getenv("TWILIO_AUTH_TOKEN")
	if token == "" {
		log.Warn("TWILIO_AUTH_TOKEN is not set: SIGNATURES ARE NOT CHECKED, anyone who can reach this server can write to any conversation. Set it before exposing the server.")
	}
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      convo.Greeter(convo.SeedNames()),
		AuthToken:                  token,
		InsecureSkipSignatureCheck: token == "",
		PublicURL:                  *publicURL,
		Logger:                     log,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "convo counter: ok (store %s)\n", *storeName)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	url := "http://" + ln.Addr().String() + "/sms"
	fmt.Fprintf(stdout, "convo counter (store %s) listening on %s\n", *storeName, url)
	fmt.Fprintf(stdout, "try: curl -d From=%%2B14158675308 -d To=%%2B15005550006 -d Body=hello %s\n", url)

	return serve.Until(ctx, srv, ln, 15*time.Second, log)
}
