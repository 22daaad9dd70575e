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
// The stores keep convo's JSON record, which the bot edits with the
// examples' internal record package.
//
// Run it with
//
//	TWILIO_ACCOUNT_SID=AC… TWILIO_AUTH_TOKEN=… go run ./examples/followup
//
// from the repository's root. It serves the webhook at POST /sms
// (http://127.0.0.1:8080/sms) and a health line at GET /; -h lists the
// flags.
//
// Both variables are required: the account SID and auth token authenticate
// the REST calls, and the token also checks the webhooks' signatures. The
// store must keep conversations on a server (memory, sqlite, postgres,
// mysql or redis; not cookie), since reminders are recorded outside any
// webhook. Reminders still waiting
// at shutdown are dropped and logged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/serve"
	"github.com/smsconvo/convo/examples/internal/stores"
)

// Path is where the webhook is served.
const Path = "/sms"

func main() {
	serve.Main("followup", nil, func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
		return run(ctx, args, getenv, stdout, log, deps{})
	})
}

// deps are what tests replace: the HTTP client of the REST calls, the
// timers and the clock. The zero deps are the real ones.
type deps struct {
	restHTTP *http.Client
	after    AfterFunc
	now      func() time.Time
}

// run is the program: see the package documentation.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger, d deps) error {
	fs := flag.NewFlagSet("followup", flag.ContinueOnError)
	var web serve.Flags
	web.Register(fs, "127.0.0.1:8080")
	st := stores.Register(fs, "followup", "memory")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: followup [flags]\n\nA reminder bot at POST %s that texts later through Twilio's REST API.\n"+
			"TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required.\n\n", Path)
		fs.PrintDefaults()
	}
	if err := serve.Parse(fs, args); err != nil {
		return err
	}
	sid, token := getenv("TWILIO_ACCOUNT_SID"), getenv("TWILIO_AUTH_TOKEN")
	if sid == "" || token == "" {
		return errors.New("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set: they authenticate the REST calls that send reminders")
	}
	store, closer, err := st.Open(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer closer.Close()
	if _, ok := store.(convo.ClientHeld); ok {
		return fmt.Errorf("-store %s keeps conversations in Twilio's cookie; followup records reminders outside any webhook and needs a store on a server", st.Store)
	}

	bot := NewReminders(NewTwilioSender(sid, token, d.restHTTP), d.after, d.now, log)
	defer bot.Close()
	h, err := convo.NewHandler(convo.Config{
		Store:       store,
		Reply:       bot.Reply(),
		AuthToken:   token,
		PublicURL:   web.PublicURL,
		HistorySize: HistorySize,
		Now:         d.now,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	bot.Attach(h)
	mux := http.NewServeMux()
	mux.Handle("POST "+Path, h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "convo followup: ok (store %s, %d reminders waiting); the webhook is POST %s\n", st.Store, bot.Waiting(), Path)
	})
	return serve.Run(ctx, serve.Server{Addr: web.Addr, Handler: mux, Log: log, Ready: func(base string) {
		fmt.Fprintf(stdout, "convo followup (store %s) listening on %s%s\n", st.Store, base, Path)
	}})
}
