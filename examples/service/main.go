// Command service shows convo mounted in an existing Go web service: a
// coffee shop's small HTTP API that also answers SMS.
//
// It is an ordinary net/http program: one http.ServeMux with Go 1.22
// method-and-path patterns, request logging (log/slog) and panic recovery
// as middleware around it, graceful shutdown on SIGINT and SIGTERM. convo
// is one route among others:
//
//	POST   /twilio/sms                      Twilio's webhook: convo.Handler with the shop's keyword bot
//	GET    /healthz                         liveness
//	GET    /api/menu                        the menu the bot texts, as JSON
//	GET    /api/conversations/{from}/{to}   a conversation as JSON (bearer ADMIN_TOKEN)
//	DELETE /api/conversations/{from}/{to}   forget a conversation (bearer ADMIN_TOKEN)
//
// Configuration comes from the environment: TWILIO_AUTH_TOKEN (required: the
// service refuses to start without it unless -insecure is given, for local
// development), PUBLIC_URL (the URL Twilio is configured with, when the
// service sits behind a tunnel or proxy, such as https://shop.example.com),
// and ADMIN_TOKEN (enables the conversation API; without it those routes
// do not exist). Run it with
//
//	TWILIO_AUTH_TOKEN=… PUBLIC_URL=https://… go run ./examples/service [-addr 127.0.0.1:8080] [-store memory] [-dsn …]
//	go run ./examples/service -insecure
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
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, log); err != nil {
		log.Error("service", "error", err)
		os.Exit(1)
	}
}

// ShutdownTimeout is how long requests in flight get to finish at shutdown.
const ShutdownTimeout = 20 * time.Second

// run parses args, reads the environment, serves until ctx ends or SIGINT or
// SIGTERM arrives, and shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	storeName := fs.String("store", "memory", "where conversations live: "+strings.Join(stores.Names(), ", "))
	dsn := fs.String("dsn", "", "the store's data source, in its driver's own form (see README)")
	insecure := fs.Bool("insecure", false, "accept unsigned webhooks when TWILIO_AUTH_TOKEN is unset (local development only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	token, publicURL, adminToken := getenv("TWILIO_AUTH_TOKEN"), getenv("PUBLIC_URL"), getenv("ADMIN_TOKEN")
	switch {
	case token == "" && !*insecure:
		return errors.New("TWILIO_AUTH_TOKEN is not set; set it, or pass -insecure to accept unsigned webhooks in local development")
	case token == "":
		log.Warn("-insecure: webhook signatures are NOT checked; anyone who can reach this server can write to any conversation")
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, closer, err := stores.Open(ctx, *storeName, *dsn, log)
	if err != nil {
		return fmt.Errorf("opening %s store: %w", *storeName, err)
	}
	defer closer.Close()

	sms, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      Bot,
		AuthToken:                  token,
		InsecureSkipSignatureCheck: token == "",
		PublicURL:                  publicURL,
		Fallback:                   convo.Text("Sorry, we're busy. Please try again in a minute."),
		Logger:                     log,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("POST /twilio/sms", sms)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/menu", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Menu)
	})
	if adminToken != "" {
		a := &api{store: store, token: adminToken, log: log}
		mux.Handle("GET /api/conversations/{from}/{to}", a.authorized(a.getConversation))
		mux.Handle("DELETE /api/conversations/{from}/{to}", a.authorized(a.deleteConversation))
	} else {
		log.Info("ADMIN_TOKEN is not set: the conversation API is off")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(log, recoverPanics(log, mux)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "coffee shop service (store %s) listening on http://%s; Twilio webhook at /twilio/sms\n", *storeName, ln.Addr())

	return serve.Until(ctx, srv, ln, ShutdownTimeout, log)
}
