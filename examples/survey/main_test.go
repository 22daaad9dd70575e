package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
)

// startSurvey runs the program on a free port and returns its webhook URL
// and its log.
func startSurvey(t *testing.T, env map[string]string, args ...string) (string, *lockedWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &lockedWriter{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw,
			slog.New(slog.NewTextHandler(logs, nil)))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("the survey printed nothing: %v", <-done)
	}
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
			t.Error("the survey did not shut down")
		}
	})
	return line[i:], logs
}

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// takeSurvey answers the three questions over HTTP, signed as Twilio signs.
func takeSurvey(t *testing.T, hook, token string) {
	t.Helper()
	tw, err := convotest.NewTwilioURL(hook, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p := tw.Phone("+14158675308", ourNumber)
	for _, step := range []struct{ in, want string }{
		{"hi", greeting},
		{"Rey", "Nice to meet you, Rey. " + qColour},
		{"teal", `Sorry, "teal" isn't one of the choices. ` + qColour},
		{"4", "Yellow, good choice. " + qRating},
		{"5", "Thank you, Rey! Your answers: Rey, yellow, 5/5. Text RESTART to answer again."},
	} {
		assert.Equal(t, step.want, say(t, p, step.in), "answering %q", step.in)
	}
}

func TestSurveyProgram(t *testing.T) {
	const token = "program-test-token"
	hook, logs := startSurvey(t, map[string]string{"TWILIO_AUTH_TOKEN": token}, "-store", "memory")
	takeSurvey(t, hook, token)

	// Unsigned requests are refused.
	forged, err := convotest.NewTwilioURL(hook, convotest.TwilioOptions{AuthToken: "not-the-token"})
	require.NoError(t, err)
	r, err := forged.Phone("+14158675308", ourNumber).Send(context.Background(), "RESTART")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, logs.String(), "invalid Twilio signature")

	resp, err := http.Get(strings.TrimSuffix(hook, "sms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "convo survey: ok (store memory)\n", string(b))
}

func TestSurveyProgramWithoutToken(t *testing.T) {
	hook, logs := startSurvey(t, nil, "-store", "memory")
	takeSurvey(t, hook, "")
	assert.Contains(t, logs.String(), "SIGNATURES ARE NOT CHECKED")
}

func TestSurveyProgramRefusesUnknownStore(t *testing.T) {
	err := run(context.Background(), []string{"-store", "nope"}, func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "unknown store")
}
