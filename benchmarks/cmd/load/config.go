package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"time"
)

// config is what the flags ask for.
type config struct {
	url         string // as given, the one signatures are computed for
	phones      int
	messages    int           // per phone, when duration is 0
	duration    time.Duration // run until it passes, when > 0
	concurrency int
	to          string
	token       string
	check       string // "counter" or "none"
	timeout     time.Duration
	firstFrom   int // phone i texts from +1555 followed by firstFrom+i in 7 digits
}

const (
	maxPhones      = 1_000_000
	maxConcurrency = 10_000
	maxMessages    = 10_000_000
	maxDuration    = 24 * time.Hour
)

func parseFlags(args []string, getenv func(string) string, output io.Writer) (*config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(output)
	cfg := &config{}
	fs.StringVar(&cfg.url, "url", "", "the webhook's URL (required), exactly as Twilio would be configured with it")
	fs.IntVar(&cfg.phones, "phones", 100, "how many phones (From/To pairs) text the webhook")
	fs.IntVar(&cfg.messages, "messages", 10, "messages each phone sends (ignored with -duration)")
	fs.DurationVar(&cfg.duration, "duration", 0, "send for this long instead of a number of messages")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "how many phones send at once")
	fs.StringVar(&cfg.to, "to", "+15005550006", "the number the phones text")
	fs.StringVar(&cfg.token, "token", "", "Twilio auth token to sign requests with (default: $TWILIO_AUTH_TOKEN; empty sends unsigned requests)")
	fs.StringVar(&cfg.check, "check", "counter", `"counter": each reply must hold the seed's "<n> times"; "none": only the status is checked`)
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Second, "how long to wait for each answer (Twilio waits 15s)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.token == "" {
		cfg.token = getenv("TWILIO_AUTH_TOKEN")
	}
	u, err := url.Parse(cfg.url)
	switch {
	case cfg.url == "":
		return nil, errors.New("-url is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("-url %q is not an absolute http(s) URL", cfg.url)
	case u.Fragment != "":
		return nil, fmt.Errorf("-url %q: leave out the fragment (Twilio's #rt=… connection overrides are not part of the request)", cfg.url)
	case cfg.phones < 1 || cfg.phones > maxPhones:
		return nil, fmt.Errorf("-phones %d: want 1 to %d", cfg.phones, maxPhones)
	case cfg.concurrency < 1 || cfg.concurrency > maxConcurrency:
		return nil, fmt.Errorf("-concurrency %d: want 1 to %d", cfg.concurrency, maxConcurrency)
	case cfg.duration < 0 || cfg.duration > maxDuration:
		return nil, fmt.Errorf("-duration %v: want 0 to %v", cfg.duration, maxDuration)
	case cfg.duration == 0 && (cfg.messages < 1 || cfg.messages > maxMessages):
		return nil, fmt.Errorf("-messages %d: want 1 to %d", cfg.messages, maxMessages)
	case cfg.check != "counter" && cfg.check != "none":
		return nil, fmt.Errorf(`-check %q: want "counter" or "none"`, cfg.check)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("-timeout %v: want a positive duration", cfg.timeout)
	case cfg.to == "":
		return nil, errors.New("-to is required")
	}
	cfg.firstFrom = rand.IntN(10_000_000 - cfg.phones + 1)
	return cfg, nil
}
