package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/servetest"
)

func TestFollowupProgram(t *testing.T) {
	rest := newFakeREST(t)
	timers := &fakeTimers{}
	env := map[string]string{"TWILIO_ACCOUNT_SID": testSID, "TWILIO_AUTH_TOKEN": testToken}
	prog := servetest.Start(t, func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
		return run(ctx, args, getenv, stdout, log, deps{restHTTP: rest.client(), after: timers.AfterFunc})
	}, env, "-public-url", "https://bot.example.com")
	hook := prog.URL
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/sms$`, hook)

	// Twilio is configured with the public URL and signs it; the request
	// reaches the local address.
	tw, err := convotest.NewTwilioURL(hook, convotest.TwilioOptions{AuthToken: testToken, AccountSID: testSID, URL: "https://bot.example.com/sms"})
	require.NoError(t, err)
	p := tw.Phone(userPhone, ourNumber)
	assert.Equal(t, `OK, I'll text you "buy milk" in 10s.`, say(t, p, "REMIND 10s buy milk"))

	resp, err := http.Get(strings.TrimSuffix(hook, "sms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "convo followup: ok (store memory, 1 reminders waiting); the webhook is POST /sms\n", string(b))

	require.Equal(t, 1, timers.FireAll())
	calls := rest.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "/2010-04-01/Accounts/"+testSID+"/Messages.json", calls[0].Path)
	assert.Equal(t, userPhone, calls[0].Form.Get("To"))
	assert.Equal(t, ourNumber, calls[0].Form.Get("From"))
	assert.Equal(t, "Reminder: buy milk", calls[0].Form.Get("Body"))
	assert.Equal(t, "No reminders waiting. "+usage, say(t, p, "LIST"), "the store knows it was sent")

	unsigned, err := convotest.NewTwilioURL(hook, convotest.TwilioOptions{})
	require.NoError(t, err)
	r, err := unsigned.Phone(userPhone, ourNumber).Send(context.Background(), "REMIND 1s x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
}

func TestFollowupProgramNeedsCredentials(t *testing.T) {
	for _, env := range []map[string]string{
		nil,
		{"TWILIO_ACCOUNT_SID": testSID},
		{"TWILIO_AUTH_TOKEN": testToken},
	} {
		err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard,
			slog.New(slog.NewTextHandler(io.Discard, nil)), deps{})
		assert.ErrorContains(t, err, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set")
	}
}

func TestFollowupProgramRefusesUnknownStore(t *testing.T) {
	env := map[string]string{"TWILIO_ACCOUNT_SID": testSID, "TWILIO_AUTH_TOKEN": testToken}
	err := run(context.Background(), []string{"-store", "nope"}, func(k string) string { return env[k] }, io.Discard,
		slog.New(slog.NewTextHandler(io.Discard, nil)), deps{})
	assert.ErrorContains(t, err, "unknown store")
}

// The cookie store keeps conversations in Twilio's cookie, where reminders
// cannot be recorded: the program refuses it.
func TestFollowupRefusesTheCookieStore(t *testing.T) {
	env := map[string]string{"TWILIO_ACCOUNT_SID": testSID, "TWILIO_AUTH_TOKEN": testToken}
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-store", "cookie"}, func(k string) string { return env[k] }, io.Discard,
		slog.New(slog.DiscardHandler), deps{})
	assert.ErrorContains(t, err, "needs a store on a server")
}
