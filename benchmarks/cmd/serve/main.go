// Command serve serves one of the benchmarks' counter webhooks over HTTP,
// so that cmd/load can measure it end to end:
//
//	go run ./cmd/serve -system convo-memstore -addr 127.0.0.1:8080
//	go run ./cmd/load -url http://127.0.0.1:8080/sms
//
// It serves POST /sms until SIGINT or SIGTERM. Signatures are not checked
// (no system of the benchmarks checks them); serve it on loopback only.
// -list prints the systems' names.
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
	list := fs.Bool("list", false, "print the systems' names, one a line, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		for _, name := range systems.Names() {
			fmt.Fprintln(stdout, name)
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
	h, closeSystem, err := sys.New(nil, dir)
	if err != nil {
		return fmt.Errorf("starting %s: %w", sys.Name, err)
	}
	defer closeSystem()

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
