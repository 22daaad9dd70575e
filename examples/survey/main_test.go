package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
)

// startSurvey runs the program on a free port until the test ends, and
// returns its webhook URL and its log.
func startSurvey(t *testing.T, env map[string]string, args ...string) (string, *lockedWriter) {
	t.Helper()
	r, logs := startSurveyStoppable(t, env, args...)
	t.Cleanup(func() { r.stop(t) })
	return r.hook, logs
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

// By default the survey keeps its conversations in SQLite, in convo.db in
// the working directory, so a user resumes where they left off even after
// the server restarts.
func TestSurveyProgramDefaultsToSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const token = "sqlite-test-token"
	env := map[string]string{"TWILIO_AUTH_TOKEN": token}

	first, logs := startSurveyStoppable(t, env)
	tw, err := convotest.NewTwilioURL(first.hook, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p := tw.Phone("+12348134522", ourNumber)
	assert.Equal(t, greeting, say(t, p, "hi"))
	assert.Equal(t, "Nice to meet you, Chewy. "+qColour, say(t, p, "Chewy"))
	first.stop(t)
	assert.Contains(t, logs.String(), "dialect=sqlite")
	assert.FileExists(t, filepath.Join(dir, "convo.db"))

	second, _ := startSurveyStoppable(t, env)
	tw, err = convotest.NewTwilioURL(second.hook, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p = tw.Phone("+12348134522", ourNumber)
	assert.Equal(t, "Red, good choice. "+qRating, say(t, p, "1"), "the answers survive the restart")
	assert.Equal(t, "Thank you, Chewy! Your answers: Chewy, red, 3/5. Text RESTART to answer again.", say(t, p, "3"))
	second.stop(t)
}

type running struct {
	hook   string
	cancel context.CancelFunc
	done   chan error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		require.NoError(t, err, "graceful shutdown")
	case <-time.After(20 * time.Second):
		t.Fatal("the survey did not shut down")
	}
}

// startSurveyStoppable runs the program with args and lets the test stop it.
func startSurveyStoppable(t *testing.T, env map[string]string, args ...string) (*running, *lockedWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &lockedWriter{}
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw,
			slog.New(slog.NewTextHandler(logs, nil)))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("the survey printed nothing: %v", <-r.done)
	}
	line := sc.Text()
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	require.GreaterOrEqual(t, i, 0, line)
	r.hook = line[i:]
	return r, logs
}
