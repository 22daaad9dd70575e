package serve

import (
	"bytes"
	"context"
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
