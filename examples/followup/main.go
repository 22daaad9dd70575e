// Command followup is a reminder bot on convo: a conversation that later
// sends a proactive message through Twilio's REST API, and records it in
// the conversation's History.
//
//	> REMIND 10m buy milk
//	< OK, I'll text you "buy milk" in 10m0s.
//	(ten minutes later, sent through the REST API)
//	< Reminder: buy milk
//
// LIST shows the reminders waiting. Each reminder is a timer in this
// process; when it fires, the bot sends the text with twilio-go
// (Api.CreateMessage), then loads the conversation, takes the reminder off
// its pending list, appends an outbound turn to its History and saves it
// with the store's compare-and-set, loading again and redoing the change
// when a webhook saved the conversation in between (convo.ErrConflict).
//
// Run it with
//
//	TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… go run ./examples/followup [-addr 127.0.0.1:8080] [-store memory] [-dsn …] [-public-url https://…]
//
// Both variables are required: the account SID and auth token authenticate
// the REST calls, and the token also checks the webhooks' signatures. The
// store must keep conversations on a server (memory, or a database store),
// since reminders are recorded outside any webhook. Reminders still waiting
// at shutdown are dropped and logged.
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
	"strings"
	"syscall"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/examples/internal/stores"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, log, deps{}); err != nil {
		log.Error("followup", "error", err)
		os.Exit(1)
	}
}

// deps are what tests replace: the HTTP client of the REST calls, the
// timers and the clock. The zero deps are the real ones.
type deps struct {
	restHTTP *http.Client
	after    AfterFunc
	now      func() time.Time
}

// run parses args, serves until ctx ends or SIGINT/SIGTERM arrives, and
// shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger, d deps) error {
	fs := flag.NewFlagSet("followup", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	storeName := fs.String("store", "memory", "where conversations live: "+strings.Join(stores.Names(), ", "))
	dsn := fs.String("dsn", "", "the store's data source, in its driver's own form (see README)")
	publicURL := fs.String("public-url", "", "the URL Twilio is configured with, when it differs from the one requests arrive at (tunnels, proxies)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sid, token := getenv("TWILIO_ACCOUNT_SID"), getenv("TWILIO_AUTH_TOKEN")
	if sid == "" || token == "" {
		return errors.New("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set: they authenticate the REST calls that send reminders")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closer, err := stores.Open(ctx, *storeName, *dsn, log)
	if err != nil {
		return fmt.Errorf("opening %s store: %w", *storeName, err)
	}
	defer closer.Close()
	if err := checkServerSide(ctx, store); err != nil {
		return fmt.Errorf("the %s store: %w", *storeName, err)
	}

	bot := NewReminders(store, NewTwilioSender(sid, token, d.restHTTP), d.after, d.now, log)
	defer bot.Close()
	h, err := convo.NewHandler(convo.Config{
		Store:       store,
		Reply:       bot.Reply(),
		AuthToken:   token,
		PublicURL:   *publicURL,
		HistorySize: HistorySize,
		Now:         d.now,
		Logger:      log,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "convo followup: ok (store %s, %d reminders waiting)\n", *storeName, bot.Waiting())
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	fmt.Fprintf(stdout, "convo followup (store %s) listening on http://%s/sms\n", *storeName, ln.Addr())

	return serve.Until(ctx, srv, ln, 15*time.Second, log)
}

// checkServerSide fails for a store that keeps conversations in Twilio's
// cookie (it needs the webhook's HTTP exchange, convo.ErrNoExchange):
// reminders are recorded outside any webhook, where no cookie can be set.
func checkServerSide(ctx context.Context, store convo.Store) error {
	_, err := store.Load(ctx, convo.Key{From: "+0", To: "+0"})
	if errors.Is(err, convo.ErrNoExchange) {
		return errors.New("it keeps conversations in Twilio's cookie; followup needs a store on a server")
	}
	return nil
}
