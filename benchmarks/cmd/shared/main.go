// Command shared measures convo's shared stores beside alexedwards/scs on
// the same backend, end to end over loopback HTTP, counting the CPU time
// that each message costs the webhook's process and the database's:
//
//	go run ./cmd/shared -phones 1000 -messages 5 -concurrency 16 -runs 3
//
// For each backend (SQLite; PostgreSQL, MySQL or MariaDB, Redis when
// CONVO_TEST_POSTGRES_DSN, CONVO_TEST_MYSQL_DSN, CONVO_TEST_REDIS_ADDR
// name them) and each run, it serves convo's system and scs's in turn
// (alternating which goes first) with cmd/serve, warms it up (16 phones,
// 2 messages each: the connection pool fills), then plays cmd/load
// against it (-phones phones, -messages each, -concurrency at once,
// every reply's count checked). Around the load it reads from /proc the
// CPU time of the webhook's process and of the database's processes (all
// postgres processes, mariadbd, the redis-server on the address's port),
// from which it subtracts the database's background use, sampled for
// -idle just before with nothing sent. It prints a markdown table of the
// medians over the runs: requests/s, p50, p99, wrong replies, CPU
// microseconds per message of the webhook, of the database, and
// together, and the ratio of convo's total to scs's.
//
// The two programs are built from this module into a temporary directory
// unless -serve and -load name built ones.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "shared:", err)
		os.Exit(1)
	}
}

// config is what the flags ask for.
type config struct {
	serve, load string
	phones      int
	messages    int
	concurrency int
	runs        int
	idle        time.Duration
	only        []string
	proc        string
	verbose     io.Writer
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("shared", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{proc: "/proc", verbose: io.Discard}
	fs.StringVar(&cfg.serve, "serve", "", "cmd/serve, built (default: build it)")
	fs.StringVar(&cfg.load, "load", "", "cmd/load, built (default: build it)")
	fs.IntVar(&cfg.phones, "phones", 1000, "phones per run")
	fs.IntVar(&cfg.messages, "messages", 5, "messages per phone")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "phones sending at once")
	fs.IntVar(&cfg.runs, "runs", 3, "runs of each system; the table shows medians")
	fs.DurationVar(&cfg.idle, "idle", time.Second, "how long the database's background CPU is sampled before each load")
	only := fs.String("systems", "", "comma-separated systems to measure (default: every shared system whose backend is configured)")
	v := fs.Bool("v", false, "print each run on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.phones < 1 || cfg.messages < 1 || cfg.concurrency < 1 || cfg.runs < 1:
		return nil, errors.New("-phones, -messages, -concurrency and -runs must be positive")
	case cfg.idle < 0:
		return nil, errors.New("-idle must not be negative")
	}
	if *only != "" {
		cfg.only = strings.Split(*only, ",")
	}
	if *v {
		cfg.verbose = stderr
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.serve == "" || cfg.load == "" {
		dir, err := os.MkdirTemp("", "convo-shared-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := build(ctx, dir, cfg); err != nil {
			return err
		}
	}
	pairs, err := pairsToMeasure(cfg)
	if err != nil {
		return err
	}
	var rows []row
	for _, p := range pairs {
		r, err := measurePair(ctx, cfg, p)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	printTable(stdout, cfg, rows)
	return nil
}
