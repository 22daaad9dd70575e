// Command survey runs a three-question SMS survey on convo: a multi-step
// conversation whose typed state (the Survey struct, through
// convo.WithState) lives in a store between messages.
//
//	> hi
//	< Hi! Three quick questions; text RESTART to start over or ? for help. 1/3: What's your name?
//	> Ada
//	< Nice to meet you, Ada. 2/3: Your favourite colour? Reply with a number or a name: 1 red, 2 green, 3 blue, 4 yellow, 5 purple.
//	> pink
//	< Sorry, "pink" isn't one of the choices. 2/3: Your favourite colour? …
//	> 3
//	< Blue, good choice. 3/3: How do you like SMS surveys, from 1 (not at all) to 5 (love them)?
//	> 4
//	< Thank you, Ada! Your answers: Ada, blue, 4/5. Text RESTART to answer again.
//
// Wrong answers are explained and the question asked again. A user who
// leaves halfway resumes where they left off ("Welcome back!" after 15
// minutes), until the store's idle expiry (four hours, as Twilio's cookies)
// forgets the conversation and the survey starts over. RESTART starts over
// at once, QUIT ends the conversation, HELP or "?" explains.
//
// Run it with
//
//	go run ./examples/survey [-addr 127.0.0.1:8080] [-store sqlite] [-dsn …] [-public-url https://…]
//
// By default it keeps conversations in SQLite, in convo.db in the working
// directory (-dsn names another file), so answers survive a restart;
// -store memory needs nothing. It serves POST /sms
// (the webhook) and GET / (a health line). Set TWILIO_AUTH_TOKEN to check
// Twilio's signatures; without it the webhook accepts unsigned requests and
// says so loudly. Try it from a terminal with the phone example:
//
//	go run ./examples/phone -url http://127.0.0.1:8080/sms
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
		log.Error("survey", "error", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends or SIGINT/SIGTERM arrives, and
// shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("survey", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	storeName := fs.String("store", "sqlite", "where conversations live: "+strings.Join(stores.Names(), ", "))
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
		Reply:                      Reply,
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
		fmt.Fprintf(w, "convo survey: ok (store %s)\n", *storeName)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	url := "http://" + ln.Addr().String() + "/sms"
	fmt.Fprintf(stdout, "convo survey (store %s) listening on %s\n", *storeName, url)
	fmt.Fprintf(stdout, "try: go run ./examples/phone -url %s\n", url)

	return serve.Until(ctx, srv, ln, 15*time.Second, log)
}
