// Command serve serves one of the benchmarks' counter webhooks over HTTP,
// so that cmd/load can measure it end to end:
//
//	go run ./cmd/serve -system convo-memstore -addr 127.0.0.1:8080
//	go run ./cmd/load -url http://127.0.0.1:8080/sms
//
// It serves POST /sms until SIGINT or SIGTERM, then drops the tables or
// keys the system made. Signatures are not checked (no system of the
// benchmarks checks them); serve it on loopback only. convo's Handler
// reads the real clock. The systems on PostgreSQL, MySQL and Redis take
// their server from CONVO_TEST_POSTGRES_DSN, CONVO_TEST_MYSQL_DSN and
// CONVO_TEST_REDIS_ADDR. -list prints the names of the systems that keep
// their state in memory or a cookie, one a line; -list-shared those on
// SQLite or a server, convo's store before scs's on each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smsconvo/convo/benchmarks/internal/systems"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	name := fs.String("system", "convo-memstore", "the webhook to serve: "+strings.Join(systems.Names(), ", "))
	list := fs.Bool("list", false, "print the names of the systems kept in memory or a cookie, one a line, and exit")
	listShared := fs.Bool("list-shared", false, "print the names of the systems on SQLite or a server, one a line, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list || *listShared {
		for _, s := range systems.All() {
			if (s.Backend == "") == *list {
				fmt.Fprintln(stdout, s.Name)
			}
		}
		return nil
	}
	sys, err := systems.Named(*name)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "convo-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	h, closeSystem, err := sys.New(systems.Options{Dir: dir, Backends: systems.BackendsFromEnv()})
	if err != nil {
		return fmt.Errorf("starting %s: %w", sys.Name, err)
	}
	defer func() {
		if err := closeSystem(); err != nil {
			fmt.Fprintf(stdout, "closing %s: %v\n", sys.Name, err)
		}
	}()

	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second}
	fmt.Fprintf(stdout, "%s listening on http://%s/sms\n", sys.Name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
