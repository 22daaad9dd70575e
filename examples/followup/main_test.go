package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
)

func TestFollowupProgram(t *testing.T) {
	rest := newFakeREST(t)
	timers := &fakeTimers{}
	env := map[string]string{"TWILIO_ACCOUNT_SID": testSID, "TWILIO_AUTH_TOKEN": testToken}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuilder{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-public-url", "https://bot.example.com"}, func(k string) string { return env[k] }, pw,
			slog.New(slog.NewTextHandler(logs, nil)), deps{restHTTP: rest.client(), after: timers.AfterFunc})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	require.True(t, sc.Scan(), "the program printed nothing")
	line := sc.Text()
	go io.Copy(io.Discard, pr)
	hook := line[strings.Index(line, "http://"):]

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
	assert.Equal(t, "convo followup: ok (store memory, 1 reminders waiting)\n", string(b))

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

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "graceful shutdown")
	case <-time.After(20 * time.Second):
		t.Fatal("the program did not shut down")
	}
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

// cookieLike is a store that, like cookiestore, needs the webhook's HTTP
// exchange for every call.
type cookieLike struct{ convo.Store }

func (cookieLike) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	if _, ok := convo.ExchangeFrom(ctx); !ok {
		return nil, fmt.Errorf("cookie-like: %w", convo.ErrNoExchange)
	}
	return convo.NewConversation(key), nil
}

func TestCheckServerSide(t *testing.T) {
	assert.NoError(t, checkServerSide(context.Background(), openMemory(t, convo.Expiry{})))
	assert.ErrorContains(t, checkServerSide(context.Background(), cookieLike{}), "needs a store on a server")
}
