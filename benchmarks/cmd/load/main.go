// Command load plays many phones texting one webhook over HTTP, as Twilio
// would deliver their messages, and reports how fast and how correctly the
// webhook answered:
//
//	go run ./cmd/load -url http://127.0.0.1:8080/sms -phones 200 -messages 20 -concurrency 16
//
// Each phone is one From/To pair. It sends its messages one after another
// (a phone waits for each answer before its next message), each a
// realistic Twilio form with a fresh MessageSid, carrying the cookies the
// webhook set for that pair as Twilio does (convotest.CookieJar's rules:
// one cookie set per pair, four hours at most). -concurrency phones send
// at once. With -token (or TWILIO_AUTH_TOKEN in the environment) every
// request carries X-Twilio-Signature computed for -url, so the webhook can
// check signatures as in production; -url must then be exactly the URL the
// webhook validates against.
//
// With -check counter (the default) every 200 answer must hold the seed's
// count, "<n> times", n being the number of messages the phone has had
// answered, including this one; phones get random numbers (+1555…) so
// that a rerun starts fresh conversations. -check none counts only
// answers that are not 200. It prints requests per second, p50, p99 and
// maximum latency, and the wrong replies, and exits with status 1 when
// any reply was wrong.
//
// The run is bounded: -messages per phone, or -duration when set. Point
// it only at webhooks you are allowed to load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errWrongReplies):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
}

// run parses args, plays the phones and prints the report to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	res, err := play(ctx, cfg)
	if err != nil {
		return err
	}
	res.print(stdout, cfg)
	if res.wrong() > 0 {
		return errWrongReplies
	}
	return nil
}

var errWrongReplies = errors.New("load: some replies were wrong")
