package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter serves the counter example's webhook: convo.NewHandler on
// memstore, greeting the seed's names; token "" accepts unsigned requests.
func counter(t *testing.T, token string, reply convo.ReplyFunc) string {
	t.Helper()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	if reply == nil {
		reply = convo.Greeter(convo.SeedNames())
	}
	h, err := convo.NewHandler(convo.Config{
		Store: store, Reply: reply, AuthToken: token, InsecureSkipSignatureCheck: token == "",
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /sms", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/sms"
}

type result struct {
	out, errOut string
	err         error
}

func runPhone(t *testing.T, env map[string]string, stdin string, interactive bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), interactive, &out, &errOut)
	return result{out.String(), errOut.String(), err}
}

func TestMessagesAsArguments(t *testing.T) {
	u := counter(t, "", nil)
	r := runPhone(t, nil, "", false, "-url", u, "-from", "+14158675308", "hi", "again", "and again")
	require.NoError(t, r.err, r.errOut)
	assert.Equal(t, "Rey has messaged +15005550006 1 times\nRey has messaged +15005550006 2 times\nRey has messaged +15005550006 3 times\n", r.out)

	// A second run is a new phone of the same pair: the server remembers.
	r = runPhone(t, nil, "", false, "-url", u, "-from", "+14158675308", "-to", "+15005550006", "hi")
	require.NoError(t, r.err)
	assert.Equal(t, "Rey has messaged +15005550006 4 times\n", r.out)

	r = runPhone(t, nil, "", false, "-url", u, "-from", "+12349013030", "-to", "+15005550001", "hi")
	require.NoError(t, r.err)
	assert.Equal(t, "Finn has messaged +15005550001 1 times\n", r.out)
}

func TestMessagesOnStdin(t *testing.T) {
	u := counter(t, "", nil)
	stdin := "hi\n\nhello\n/retry\n//slash\n"
	r := runPhone(t, nil, stdin, false, "-url", u)
	require.NoError(t, r.err, r.errOut)
	assert.Equal(t, strings.Join([]string{
		"Rey has messaged +15005550006 1 times",
		"Rey has messaged +15005550006 2 times",
		"Rey has messaged +15005550006 2 times", // the retry: answered again, not counted
		"Rey has messaged +15005550006 3 times",
		"",
	}, "\n"), r.out)
}

func TestInteractive(t *testing.T) {
	u := counter(t, "", nil)
	r := runPhone(t, nil, "hi\n/bogus\n/help\nhi\n/quit\nnot sent\n", true, "-url", u)
	require.NoError(t, r.err)
	assert.Contains(t, r.out, "Texting +15005550006 from +14158675308 via "+u+" (unsigned")
	assert.Contains(t, r.out, "> Rey has messaged +15005550006 1 times\n")
	assert.Contains(t, r.out, "/retry")
	assert.Contains(t, r.out, "> Rey has messaged +15005550006 2 times\n")
	assert.NotContains(t, r.out, "3 times")
	assert.Contains(t, r.errOut, "unknown command /bogus", "an interactive error is shown and the session goes on")
}

func TestSignature(t *testing.T) {
	u := counter(t, "s3cret", nil)
	r := runPhone(t, map[string]string{"TWILIO_AUTH_TOKEN": "s3cret"}, "", false, "-url", u, "hi")
	require.NoError(t, r.err)
	assert.Equal(t, "Rey has messaged +15005550006 1 times\n", r.out)

	for _, env := range []map[string]string{{"TWILIO_AUTH_TOKEN": "wrong"}, nil} {
		r = runPhone(t, env, "", false, "-url", u, "hi", "never sent")
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "HTTP 403")
		assert.Empty(t, r.out)
	}

	// Signing the public URL the server is configured with.
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(convo.SeedNames()), AuthToken: "s3cret", PublicURL: "https://bot.example.com/sms", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	r = runPhone(t, map[string]string{"TWILIO_AUTH_TOKEN": "s3cret"}, "", false, "-url", srv.URL+"/sms", "-public-url", "https://bot.example.com/sms", "hi")
	require.NoError(t, r.err)
	assert.Equal(t, "Rey has messaged +15005550006 1 times\n", r.out)
}

func TestMediaAndWhatsApp(t *testing.T) {
	u := counter(t, "", func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %q", m.Channel, m.ProfileName, m.Body)
		for _, md := range m.Media {
			fmt.Fprintf(&b, " %s(%s)", md.URL, md.ContentType)
		}
		return convo.Reply{
			Messages: []convo.Outgoing{{Body: b.String()}, {Media: []string{"https://example.com/r.gif"}}},
			Redirect: &convo.Redirect{URL: "https://example.com/next"},
		}, nil
	})
	r := runPhone(t, nil, "", false, "-url", u, "-media", "https://e.com/a.jpg,https://e.com/b.png", "-media", "https://e.com/c.pdf", "look")
	require.NoError(t, r.err, r.errOut)
	assert.Equal(t, `sms  "look" https://e.com/a.jpg(image/jpeg) https://e.com/b.png(image/png) https://e.com/c.pdf(application/pdf)
[media https://example.com/r.gif]
[redirect POST https://example.com/next, not followed]
`, r.out)

	r = runPhone(t, nil, "/media https://e.com/x.mp4\nfirst\nsecond\n", false, "-url", u, "-whatsapp", "-name", "Rey")
	require.NoError(t, r.err, r.errOut)
	lines := strings.Split(r.out, "\n")
	assert.Equal(t, "(1 media attached to the next message)", lines[0])
	assert.Equal(t, `whatsapp Rey "first" https://e.com/x.mp4(video/mp4)`, lines[1])
	assert.Equal(t, `whatsapp Rey "second"`, lines[4], "media of /media went with more than the next message")
}

func TestWaitAgesTheCookie(t *testing.T) {
	// A webhook that keeps its count in the cookie, as cookiestore does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if c, err := r.Cookie("n"); err == nil {
			fmt.Sscan(c.Value, &n)
		}
		n++
		http.SetCookie(w, &http.Cookie{Name: "n", Value: fmt.Sprint(n)})
		fmt.Fprintf(w, "<Response><Message>%d</Message></Response>", n)
	}))
	defer srv.Close()
	r := runPhone(t, nil, "a\nb\n/wait 3h59m\nc\n/cookies\n/wait 4h\n/cookies\nd\n", false, "-url", srv.URL)
	require.NoError(t, r.err, r.errOut)
	assert.Equal(t, strings.Join([]string{
		"1", "2",
		"(3h59m0s pass for the phone's cookie)",
		"3",
		"(cookie n, 1 bytes, expires in 4h0m0s)",
		"(4h0m0s pass for the phone's cookie)",
		"(no cookie)",
		"1", "",
	}, "\n"), r.out)
}

func TestFailures(t *testing.T) {
	u := counter(t, "", nil)
	for name, args := range map[string][]string{
		"bad URL":        {"-url", "127.0.0.1:8080/sms", "hi"},
		"bad flag":       {"-nope"},
		"too much media": {"-url", u, "-media", strings.Repeat("https://e.com/x.jpg,", 11), "hi"},
	} {
		r := runPhone(t, nil, "", false, args...)
		assert.Error(t, r.err, name)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Thanks!")
	}))
	defer srv.Close()
	r := runPhone(t, nil, "hi\nnever sent\n", false, "-url", srv.URL)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "not valid messaging TwiML")
	assert.Contains(t, r.err.Error(), "Thanks!")

	srv.Close()
	r = runPhone(t, nil, "", false, "-url", srv.URL, "hi")
	assert.Error(t, r.err, "server gone")
}

func TestVerbose(t *testing.T) {
	u := counter(t, "", nil)
	r := runPhone(t, nil, "", false, "-url", u, "-v", "hi")
	require.NoError(t, r.err)
	assert.Regexp(t, `^\[HTTP 200, MessageSid SM[0-9a-f]{32}\]\n\[<\?xml.*<Message>Rey has messaged \+15005550006 1 times</Message></Response>\]\nRey has messaged \+15005550006 1 times\n$`, r.out)
}

// /status posts the status callback Twilio would send about a message to
// the phone: signed, From and To reversed, handed to Config.OnStatus.
func TestStatusCommand(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []convo.Status
	)
	store := memstore.New(memstore.Options{})
	defer store.Close()
	h, err := convo.NewHandler(convo.Config{
		Store: store, Reply: convo.Greeter(convo.SeedNames()), AuthToken: "s3cret", Logger: slog.New(slog.DiscardHandler),
		OnStatus: func(_ context.Context, s *convo.Status) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, *s)
		},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	r := runPhone(t, map[string]string{"TWILIO_AUTH_TOKEN": "s3cret"}, "/status delivered SMabc\n/status FAILED\n/status\n", false, "-url", srv.URL+"/sms")
	require.Error(t, r.err, "/status without a status")
	assert.Contains(t, r.err.Error(), "/status needs a status")
	assert.Regexp(t, `^\(status callback delivered for SMabc: HTTP 200\)\n\(status callback failed for SM[0-9a-f]{32}: HTTP 200\)\n$`, r.out)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	assert.Equal(t, "SMabc", seen[0].MessageSID)
	assert.Equal(t, "delivered", seen[0].Status)
	assert.Equal(t, convo.Key{From: "+14158675308", To: "+15005550006"}, seen[0].Key, "the phone's conversation")
	assert.Equal(t, "failed", seen[1].Status)
	assert.Equal(t, "30003", seen[1].ErrorCode)
}
