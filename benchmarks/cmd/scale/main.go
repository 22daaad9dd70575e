// Command scale fills one of convo's stores with many live conversations
// and measures what that costs: storage per conversation, turn latency
// among a million conversations against among a thousand, and turns while
// the million expire.
//
//	go run ./cmd/scale -store postgres -n 1000000
//
// -store is memstore, sqlite, postgres, mysql or redis; the servers come
// from CONVO_TEST_POSTGRES_DSN, CONVO_TEST_MYSQL_DSN and
// CONVO_TEST_REDIS_ADDR, as in the tests. It makes two stores of its own
// (tables, keys under a prefix, a temporary SQLite file), a small one of
// 1,000 conversations and a large one of -n, and:
//
//  1. fills both with valid records (a counter conversation after five
//     messages, about 1.4 KB, as convo's Handler writes it), as fast as
//     the store allows: multi-row INSERTs of the store's rows on SQL,
//     pipelined SETs of the store's strings on Redis, the store's own Save
//     in parallel on memstore; it reads one back through the store;
//  2. reports the storage the large store takes per conversation;
//  3. plays -turns webhook turns (convo's Handler, in process: load, reply,
//     save) on random conversations of each store, -concurrency at once,
//     alternating chunks of 500 between the two, and reports p50, p99 and
//     the maximum of each and the ratio of the p99s;
//  4. makes every conversation of the large store expire but 1,000 (which
//     turns save again, to live 48 hours), and plays turns on those 1,000
//     while the others go: memstore's Sweep, sqlstore's Cleanup in batches
//     (the store's clock moved 6 hours ahead), Redis's own expiry (every
//     key given one PEXPIREAT, 30 s ahead; the time reported starts
//     then); it reports how long that took, the turns' latency meanwhile
//     and how many waited over 50 ms, beside the same turns for -baseline
//     just before, without expiry;
//  5. drops what it made.
//
// It prints a report and, last, a markdown row for BENCHMARKS.md.
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
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type config struct {
	store       string
	n           int
	small       int
	turns       int
	concurrency int
	live        int
	baseline    time.Duration
}

func parseFlags(args []string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(out)
	cfg := &config{small: 1000, live: 1000}
	fs.StringVar(&cfg.store, "store", "memstore", "memstore, sqlite, postgres, mysql or redis")
	fs.IntVar(&cfg.n, "n", 1_000_000, "conversations in the large store")
	fs.IntVar(&cfg.turns, "turns", 10_000, "turns measured on each store")
	fs.IntVar(&cfg.concurrency, "concurrency", 4, "turns at once")
	fs.IntVar(&cleanupBatch, "cleanup-batch", 0, "sqlstore's Options.CleanupBatch (default: its default)")
	fs.DurationVar(&cfg.baseline, "baseline", 10*time.Second, "how long the live conversations' turns are measured without expiry, for comparison")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.n < 2*cfg.live || cfg.n > 100_000_000:
		return nil, fmt.Errorf("-n %d: want %d to 100,000,000", cfg.n, 2*cfg.live)
	case cfg.turns < 1 || cfg.concurrency < 1 || cfg.baseline <= 0:
		return nil, errors.New("-turns, -concurrency and -baseline must be positive")
	}
	if _, ok := backends[cfg.store]; !ok {
		return nil, fmt.Errorf("-store %q: want memstore, sqlite, postgres, mysql or redis", cfg.store)
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	data, err := sampleRecord()
	if err != nil {
		return err
	}
	b := backends[cfg.store]
	small, err := b.open(ctx, "small")
	if err != nil {
		return err
	}
	defer closeTarget(small, out)
	large, err := b.open(ctx, "large")
	if err != nil {
		return err
	}
	defer closeTarget(large, out)
	r := &report{cfg: cfg, out: out, started: time.Now()}
	if err := r.fill(ctx, small, large, data); err != nil {
		return err
	}
	if err := r.latency(ctx, small, large); err != nil {
		return err
	}
	if err := r.expiry(ctx, large, data); err != nil {
		return err
	}
	r.print()
	return nil
}

func closeTarget(t *target, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := t.close(ctx); err != nil {
		fmt.Fprintf(out, "cleaning up %s: %v\n", t.name, err)
	}
}
