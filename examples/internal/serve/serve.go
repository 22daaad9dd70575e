// Package serve is the run loop the example programs share: parsing their
// flags, serving HTTP until SIGINT or SIGTERM, and shutting down while the
// requests in flight finish. An example's main is then one call:
//
//	func main() { serve.Main("counter", nil, run) }
//
// with run building the program's handler and calling [Run].
package serve

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
	"syscall"
	"time"
)

// RunFunc is an example program with its environment passed in, so that
// tests can run it in process: its arguments (without the program name),
// its environment, its standard output and its logger.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error

// Main runs run with the process's arguments, environment and standard
// output, and exits: with status 0 when run succeeds or -h asked for the
// usage, 2 on a flag error (the flag package printed it with the usage),
// else 1 after logging run's error. log nil means text lines on stderr.
func Main(name string, log *slog.Logger, run RunFunc) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, log), name, log))
}

// exitCode returns the status to exit with after err, logging err when it
// is a failure of the program rather than of its command line.
func exitCode(err error, name string, log *slog.Logger) int {
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	}
	log.Error(name+" failed", "error", err)
	return 1
}

// UsageError is a command line the flag package refused (and reported).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Parse parses args with fs, which must be flag.ContinueOnError. It
// returns flag.ErrHelp for -h and -help, a *UsageError for a bad flag, and
// an error for arguments left over: the examples take flags only.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %q: %s takes flags only (-h lists them)", fs.Args(), fs.Name())
		fmt.Fprintln(fs.Output(), err)
		return &UsageError{Err: err}
	}
	return nil
}

// Flags are the flags every webhook example takes.
type Flags struct {
	Addr      string // -addr: where to listen
	PublicURL string // -public-url: the URL Twilio is configured with
}

// Register defines -addr (default addr) and -public-url on fs.
func (f *Flags) Register(fs *flag.FlagSet, addr string) {
	fs.StringVar(&f.Addr, "addr", addr, "`host:port` to listen on (port 0 picks a free one)")
	fs.StringVar(&f.PublicURL, "public-url", "", "the `URL` Twilio is configured with, when it differs from the one requests arrive at\n"+
		"(a tunnel or proxy): https://host, or the full webhook URL")
}

// Signing returns the auth token that checks webhook signatures, from
// TWILIO_AUTH_TOKEN, and whether there is none: the webhook then takes
// unsigned requests, which Signing warns about.
func Signing(getenv func(string) string, log *slog.Logger) (token string, unsigned bool) {
	token = getenv("TWILIO_AUTH_TOKEN")
	if token == "" {
		log.Warn("TWILIO_AUTH_TOKEN is not set: SIGNATURES ARE NOT CHECKED, anyone who can reach this server " +
			"can write to any conversation. Set it before exposing the server.")
	}
	return token, token == ""
}

// Defaults of [Server].
const (
	DefaultGrace        = 15 * time.Second
	DefaultWriteTimeout = 20 * time.Second // Twilio waits 15 s for an answer
)

// Server is what Run serves.
type Server struct {
	Addr    string       // where to listen, such as "127.0.0.1:8080"
	Handler http.Handler // the program's routes
	Log     *slog.Logger

	// WriteTimeout bounds a request from the end of its head to the end
	// of its answer; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Grace is how long the requests in flight get to finish at
	// shutdown; 0 means DefaultGrace.
	Grace time.Duration

	// Ready is called once the server listens, with its base URL such
	// as "http://127.0.0.1:8080": the program prints where to reach it.
	Ready func(base string)
}

// Run listens on s.Addr and serves s.Handler until ctx ends or SIGINT or
// SIGTERM arrives, then shuts down gracefully (see [Until]).
func Run(ctx context.Context, s Server) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      orDefault(s.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	if s.Ready != nil {
		s.Ready("http://" + ln.Addr().String())
	}
	return Until(ctx, srv, ln, orDefault(s.Grace, DefaultGrace), s.Log)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Until serves srv on ln until ctx ends, then shuts srv down, giving the
// requests in flight grace to finish. It returns nil after a clean
// shutdown, else the error that stopped the server or its shutdown.
func Until(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "timeout", grace.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
