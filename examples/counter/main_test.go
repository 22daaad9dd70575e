package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startCounter runs the example on a free port and returns its webhook URL.
func startCounter(t *testing.T, env map[string]string, args ...string) (string, *lockedWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &lockedWriter{w: &strings.Builder{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw,
			slog.New(slog.NewTextHandler(logs, nil)))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan(), "the example printed nothing")
	line := sc.Text()
	i := strings.Index(line, "http://")
	require.GreaterOrEqual(t, i, 0, line)
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "graceful shutdown")
		case <-time.After(20 * time.Second):
			t.Error("the example did not shut down")
		}
	})
	return line[i:], logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func text(t *testing.T, hook, from, sid string) string {
	t.Helper()
	resp, err := http.PostForm(hook, url.Values{"From": {from}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {sid}})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

func TestCounterExample(t *testing.T) {
	hook, logs := startCounter(t, nil)
	for i, want := range []string{"1 times", "2 times", "3 times"} {
		body := text(t, hook, "+14158675308", "SM"+string(rune('a'+i)))
		assert.Contains(t, body, "<Message>Rey has messaged +15005550006 "+want+"</Message>")
	}
	assert.Contains(t, text(t, hook, "+14158675308", "SMc"), "3 times", "a retry must not count")
	assert.Contains(t, text(t, hook, "+19995550000", "SMz"), "Friend has messaged +15005550006 1 times")

	resp, err := http.Get(strings.TrimSuffix(hook, "sms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "ok")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	assert.Contains(t, logs.w.String(), "SIGNATURES ARE NOT CHECKED")
}

func TestCounterExampleChecksSignatures(t *testing.T) {
	hook, _ := startCounter(t, map[string]string{"TWILIO_AUTH_TOKEN": "secret"})
	resp, err := http.PostForm(hook, url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestCounterExampleRefusesUnknownStore(t *testing.T) {
	err := run(context.Background(), []string{"-store", "nope"}, func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "unknown store")
}
