package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/servetest"
)

// takeSurvey answers the three questions over HTTP, signed as Twilio signs.
func takeSurvey(t *testing.T, hook, token string) {
	t.Helper()
	tw, err := convotest.NewTwilioURL(hook, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p := tw.Phone("+14158675308", ourNumber)
	for _, step := range []struct{ in, want string }{
		{"hi", Greeting},
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
	prog := servetest.Start(t, run, map[string]string{"TWILIO_AUTH_TOKEN": token}, "-store", "memory")
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/sms$`, prog.URL)
	takeSurvey(t, prog.URL, token)

	// Unsigned requests are refused.
	forged, err := convotest.NewTwilioURL(prog.URL, convotest.TwilioOptions{AuthToken: "not-the-token"})
	require.NoError(t, err)
	r, err := forged.Phone("+14158675308", ourNumber).Send(context.Background(), "RESTART")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, prog.Logs.String(), "invalid Twilio signature")

	resp, err := http.Get(strings.TrimSuffix(prog.URL, "sms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "convo survey: ok (store memory); the webhook is POST /sms\n", string(b))
	assert.Contains(t, prog.Stdout(), "try: go run ./examples/phone -url "+prog.URL)
}

func TestSurveyProgramWithoutToken(t *testing.T) {
	prog := servetest.Start(t, run, nil, "-store", "memory")
	takeSurvey(t, prog.URL, "")
	assert.Contains(t, prog.Logs.String(), "SIGNATURES ARE NOT CHECKED")
}

func TestSurveyProgramRefusals(t *testing.T) {
	for _, args := range [][]string{{"-store", "nope"}, {"-store", "memory", "extra"}} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, slog.New(slog.DiscardHandler))
		assert.Error(t, err, "%q", args)
	}
}

// By default the survey keeps its conversations in SQLite, in its own
// file, survey.db, in the working directory, so a user resumes where they
// left off even after the server restarts.
func TestSurveyProgramDefaultsToSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const token = "sqlite-test-token"
	env := map[string]string{"TWILIO_AUTH_TOKEN": token}

	first := servetest.Start(t, run, env)
	tw, err := convotest.NewTwilioURL(first.URL, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p := tw.Phone("+12348134522", ourNumber)
	assert.Equal(t, Greeting, say(t, p, "hi"))
	assert.Equal(t, "Nice to meet you, Chewy. "+qColour, say(t, p, "Chewy"))
	require.NoError(t, first.Stop())
	assert.Contains(t, first.Logs.String(), "table=survey_conversations")
	assert.FileExists(t, filepath.Join(dir, "survey.db"))

	second := servetest.Start(t, run, env)
	tw, err = convotest.NewTwilioURL(second.URL, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	p = tw.Phone("+12348134522", ourNumber)
	assert.Equal(t, "Red, good choice. "+qRating, say(t, p, "1"), "the answers survive the restart")
	assert.Equal(t, "Thank you, Chewy! Your answers: Chewy, red, 3/5. Text RESTART to answer again.", say(t, p, "3"))
}
