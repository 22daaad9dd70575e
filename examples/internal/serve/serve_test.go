package serve

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request in flight when ctx ends still gets its answer; then Until
// returns nil.
func TestUntilFinishesRequestsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Until(ctx, srv, ln, 5*time.Second, slog.New(slog.NewTextHandler(&logs, nil))) }()

	respc := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			respc <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		respc <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(20 * time.Millisecond) // shutdown has begun, the request is still running
	close(release)
	assert.Equal(t, "done", <-respc)
	require.NoError(t, <-errc)
	assert.Contains(t, logs.String(), "shutting down")
	assert.Contains(t, logs.String(), "stopped")
}

// A server that cannot serve returns its error at once.
func TestUntilReturnsServeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	err = Until(context.Background(), &http.Server{}, ln, time.Second, slog.New(slog.DiscardHandler))
	require.Error(t, err)
}

// -h is no failure; a bad flag is the command line's; anything else is
// the program's, and logged.
func TestExitCode(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("v", false, "")

	assert.Equal(t, 0, exitCode(Parse(fs, []string{"-h"}), "demo", log))
	assert.Equal(t, 2, exitCode(Parse(fs, []string{"-nope"}), "demo", log))
	assert.Equal(t, 2, exitCode(Parse(fs, []string{"-v", "extra"}), "demo", log))
	assert.Empty(t, logs.String(), "the flag package reports flag errors itself")
	assert.Equal(t, 0, exitCode(nil, "demo", log))
	assert.Equal(t, 1, exitCode(errors.New("boom"), "demo", log))
	assert.Contains(t, logs.String(), `level=ERROR msg="demo failed" error=boom`)
}

// Run serves on the address, says where once it listens, and stops when
// its context ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Server{
			Addr:    "127.0.0.1:0",
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }),
			Log:     slog.New(slog.DiscardHandler),
			Ready:   func(base string) { ready <- base },
		})
	}()
	base := <-ready
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, base)
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "hello", string(b))
	cancel()
	require.NoError(t, <-errc)

	err = Run(context.Background(), Server{Addr: "256.0.0.1:1", Log: slog.New(slog.DiscardHandler)})
	assert.Error(t, err, "an address that cannot be listened on")
}

func TestSigning(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	token, unsigned := Signing(func(string) string { return "s3cret" }, log)
	assert.Equal(t, "s3cret", token)
	assert.False(t, unsigned)
	assert.Empty(t, logs.String())
	_, unsigned = Signing(func(string) string { return "" }, log)
	assert.True(t, unsigned)
	assert.Contains(t, logs.String(), "SIGNATURES ARE NOT CHECKED")
}
