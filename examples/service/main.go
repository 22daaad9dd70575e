// Command service shows convo mounted in an existing Go web service: a
// coffee shop's small HTTP API that also answers SMS, with OpenTelemetry
// metrics and delivery statuses.
//
// It is an ordinary net/http program: one http.ServeMux with method-and-path
// patterns, request logging (log/slog, JSON) and panic recovery as
// middleware around it, graceful shutdown on SIGINT and SIGTERM. convo is
// one route among others; point your Twilio number's "A message comes in"
// webhook at https://your.host/twilio/sms:
//
//	POST   /twilio/sms                      Twilio's webhook: convo.Handler with the shop's keyword bot; status callbacks too
//	GET    /healthz                         liveness
//	GET    /api/menu                        the menu the bot texts, as JSON
//	GET    /api/conversations/{from}/{to}   a conversation and its delivery statuses as JSON (bearer ADMIN_TOKEN)
//	DELETE /api/conversations/{from}/{to}   forget a conversation (bearer ADMIN_TOKEN)
//	GET    /api/deliveries                  the latest delivery statuses as JSON (bearer ADMIN_TOKEN)
//	GET    /debug/metrics                   the webhook's OpenTelemetry metrics as text (bearer ADMIN_TOKEN)
//
// Configuration comes from the environment: TWILIO_AUTH_TOKEN (required: the
// service refuses to start without it unless -insecure is given, for local
// development), PUBLIC_URL (the URL Twilio is configured with, when the
// service sits behind a tunnel or proxy, such as https://shop.example.com;
// the bot's replies then ask Twilio for delivery statuses at PUBLIC_URL's
// /twilio/sms), and ADMIN_TOKEN (enables the /api/conversations,
// /api/deliveries and /debug/metrics routes; without it they do not
// exist). Run it from the repository's root with
//
//	TWILIO_AUTH_TOKEN=… PUBLIC_URL=https://… ADMIN_TOKEN=… go run ./examples/service
//	go run ./examples/service -insecure
//
// Its first line on stdout, and its "listening" log line, name the webhook:
// POST http://127.0.0.1:8080/twilio/sms by default. -h lists the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/examples/internal/stores"
)

// WebhookPath is where Twilio's webhook (and status callbacks) are served.
const WebhookPath = "/twilio/sms"

// ShutdownTimeout is how long requests in flight get to finish at shutdown.
const ShutdownTimeout = 20 * time.Second

func main() { serve.Main("service", slog.New(slog.NewJSONHandler(os.Stderr, nil)), run) }

// config is the service's configuration, from flags and environment.
type config struct {
	addr       string
	stores     *stores.Flags
	token      string // TWILIO_AUTH_TOKEN
	publicURL  string // PUBLIC_URL
	adminToken string // ADMIN_TOKEN
}

// configure reads args and the environment.
func configure(args []string, getenv func(string) string, log *slog.Logger) (*config, error) {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	c := &config{token: getenv("TWILIO_AUTH_TOKEN"), publicURL: getenv("PUBLIC_URL"), adminToken: getenv("ADMIN_TOKEN")}
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on (port 0 picks a free one)")
	insecure := fs.Bool("insecure", false, "accept unsigned webhooks when TWILIO_AUTH_TOKEN is unset (local development only)")
	c.stores = stores.Register(fs, "service", "memory")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: service [flags]\n\nA coffee shop's HTTP API answering SMS at POST %s.\n"+
			"Environment: TWILIO_AUTH_TOKEN (required unless -insecure), PUBLIC_URL, ADMIN_TOKEN.\n\n", WebhookPath)
		fs.PrintDefaults()
	}
	if err := serve.Parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case c.stores.GenKey:
	case c.token == "" && !*insecure:
		return nil, errors.New("TWILIO_AUTH_TOKEN is not set; set it, or pass -insecure to accept unsigned webhooks in local development")
	case c.token == "":
		log.Warn("-insecure: webhook signatures are NOT checked; anyone who can reach this server can write to any conversation")
	}
	return c, nil
}

// run is the program: see the package documentation.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	c, err := configure(args, getenv, log)
	if err != nil {
		return err
	}
	if c.stores.GenKey {
		return stores.WriteKey(stdout)
	}
	store, closer, err := c.stores.Open(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer closer.Close()
	m, err := newMetrics()
	if err != nil {
		return err
	}
	defer m.Close()
	mux, err := routes(c, store, m, log)
	if err != nil {
		return err
	}
	return serve.Run(ctx, serve.Server{
		Addr:    c.addr,
		Handler: logRequests(log, recoverPanics(log, mux)),
		Log:     log,
		Grace:   ShutdownTimeout,
		Ready: func(base string) {
			log.Info("listening", "addr", base, "webhook", "POST "+base+WebhookPath, "store", c.stores.Store)
			fmt.Fprintf(stdout, "coffee shop service (store %s) listening on %s (Twilio webhook: POST %s%s)\n", c.stores.Store, base, base, WebhookPath)
		},
	})
}

// routes builds the service's mux, convo's webhook among its routes.
func routes(c *config, store convo.Store, m *metrics, log *slog.Logger) (*http.ServeMux, error) {
	d := &deliveries{now: time.Now, log: log}
	sms, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      NewBot(statusCallbackURL(c.publicURL)),
		AuthToken:                  c.token,
		InsecureSkipSignatureCheck: c.token == "",
		PublicURL:                  c.publicURL,
		Fallback:                   convo.Text("Sorry, we're busy. Please try again in a minute."),
		OnStatus:                   d.record,
		Observer:                   m.observer,
		Logger:                     log,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, sms)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/menu", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Menu)
	})
	if c.adminToken == "" {
		log.Info("ADMIN_TOKEN is not set: the conversation, delivery and metrics routes are off")
		return mux, nil
	}
	a := &api{store: store, conversations: sms, deliveries: d, token: c.adminToken, log: log}
	mux.Handle("GET /api/conversations/{from}/{to}", a.authorized(a.getConversation))
	mux.Handle("DELETE /api/conversations/{from}/{to}", a.authorized(a.deleteConversation))
	mux.Handle("GET /api/deliveries", a.authorized(a.getDeliveries))
	mux.Handle("GET /debug/metrics", a.authorized(m.serveText))
	return mux, nil
}

// statusCallbackURL returns where the bot's replies ask Twilio to post
// their delivery statuses: the webhook at PUBLIC_URL. Without PUBLIC_URL
// the service does not know its public address, and asks for none (a
// Messaging Service's own status callback URL still works).
func statusCallbackURL(publicURL string) string {
	u, err := url.Parse(publicURL)
	if publicURL == "" || err != nil {
		return ""
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = WebhookPath
	}
	return u.String()
}
