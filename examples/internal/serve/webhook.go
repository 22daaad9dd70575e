package serve

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/examples/internal/stores"
)

// Webhook is a program serving one convo webhook and a health line, with
// the flags every such example takes (see [Flags] and stores.Register):
// the counter and the survey.
type Webhook struct {
	Name  string          // the program's name, as in "go run ./examples/NAME"
	About string          // what it does, a sentence for -h
	Store string          // the default -store
	Path  string          // the webhook's path, such as "/sms"
	Reply convo.ReplyFunc // the conversation

	// Try prints what to try once the webhook listens at url, unsigned
	// telling whether it takes unsigned requests.
	Try func(w io.Writer, url string, unsigned bool)
}

// Run is the program: it parses args, opens the store, and serves POST
// wh.Path and GET / until ctx ends or SIGINT or SIGTERM arrives. Its first
// line on stdout names the webhook's URL.
func (wh Webhook) Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet(wh.Name, flag.ContinueOnError)
	var web Flags
	web.Register(fs, "127.0.0.1:8080")
	st := stores.Register(fs, wh.Name, wh.Store)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]\n\n%s\nThe webhook is POST %s; set TWILIO_AUTH_TOKEN to check Twilio's signatures.\n\n",
			wh.Name, wh.About, wh.Path)
		fs.PrintDefaults()
	}
	if err := Parse(fs, args); err != nil {
		return err
	}
	if st.GenKey {
		return stores.WriteKey(stdout)
	}
	store, closer, err := st.Open(ctx, getenv, log)
	if err != nil {
		return err
	}
	defer closer.Close()
	token, unsigned := Signing(getenv, log)
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      wh.Reply,
		AuthToken:                  token,
		InsecureSkipSignatureCheck: unsigned,
		PublicURL:                  web.PublicURL,
		Logger:                     log,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+wh.Path, h)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "convo %s: ok (store %s); the webhook is POST %s\n", wh.Name, st.Store, wh.Path)
	})
	return Run(ctx, Server{Addr: web.Addr, Handler: mux, Log: log, Ready: func(base string) {
		fmt.Fprintf(stdout, "convo %s (store %s) listening on %s%s\n", wh.Name, st.Store, base, wh.Path)
		if wh.Try != nil {
			wh.Try(stdout, base+wh.Path, unsigned)
		}
	}})
}
