package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/smsconvo/convo/examples/internal/servetest"
)

const ourNumber = "+15005550006"

// say texts body from p and returns the reply's text.
func say(t *testing.T, p *convotest.Phone, body string) string {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	return r.String()
}

// twilio returns a fake Twilio texting the program's webhook, signing with
// token ("" for none).
func twilio(t *testing.T, prog *servetest.Program, token string) *convotest.Twilio {
	t.Helper()
	tw, err := convotest.NewTwilioURL(prog.URL, convotest.TwilioOptions{AuthToken: token})
	require.NoError(t, err)
	return tw
}

func TestCounter(t *testing.T) {
	prog := servetest.Start(t, run, nil)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/sms$`, prog.URL, "the first line names the webhook, path included")
	assert.Contains(t, prog.Logs.String(), "SIGNATURES ARE NOT CHECKED")

	tw := twilio(t, prog, "")
	rey := tw.Phone("+14158675308", ourNumber)
	for _, want := range []string{"1 times", "2 times", "3 times"} {
		assert.Equal(t, "Rey has messaged +15005550006 "+want, say(t, rey, "hi"))
	}
	r, err := rey.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Rey has messaged +15005550006 3 times", r.String(), "Twilio's retry is answered again, not counted")
	assert.Equal(t, "Friend has messaged +15005550006 1 times", say(t, tw.Phone("+19995550000", ourNumber), "hi"))

	resp, err := http.Get(strings.TrimSuffix(prog.URL, "sms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "convo counter: ok (store memory); the webhook is POST /sms\n", string(b))
}

// The curl line the counter prints works as printed.
func TestCounterCurlLine(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: skipping the test of the printed curl line")
	}
	prog := servetest.Start(t, run, nil)
	require.Eventually(t, func() bool { return strings.Contains(prog.Stdout(), "try: ") }, 5e9, 1e7)
	m := regexp.MustCompile(`try: curl (.*)`).FindStringSubmatch(prog.Stdout())
	require.NotNil(t, m, prog.Stdout())
	out, err := exec.Command(curl, append([]string{"-sS"}, strings.Fields(m[1])...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "<Message>Rey has messaged +15005550006 1 times</Message>")
}

func TestCounterChecksSignatures(t *testing.T) {
	const token = "counter-test-token"
	prog := servetest.Start(t, run, map[string]string{"TWILIO_AUTH_TOKEN": token})
	assert.NotContains(t, prog.Logs.String(), "SIGNATURES ARE NOT CHECKED")
	assert.Equal(t, "Rey has messaged +15005550006 1 times", say(t, twilio(t, prog, token).Phone("+14158675308", ourNumber), "hi"))

	r, err := twilio(t, prog, "").Phone("+14158675308", ourNumber).Send(context.Background(), "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)
	require.Eventually(t, func() bool { return strings.Contains(prog.Stdout(), "try: go run ./examples/phone -url "+prog.URL) }, 5e9, 1e7,
		"with signatures checked, the counter suggests the phone, which signs: %s", prog.Stdout())
}

// With -store cookie the count lives in the cookie Twilio carries; over
// plain HTTP the cookie must lack Secure (-insecure-cookie) for a browser
// or curl to send it back.
func TestCounterCookieStore(t *testing.T) {
	var key bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-genkey"}, nil, &key, nil))
	keys := strings.TrimPrefix(strings.TrimSpace(key.String()), "CONVO_COOKIE_KEYS=")
	prog := servetest.Start(t, run, map[string]string{"CONVO_COOKIE_KEYS": keys}, "-store", "cookie", "-insecure-cookie")
	p := twilio(t, prog, "").Phone("+14158675308", ourNumber)
	for _, want := range []string{"1 times", "2 times", "3 times"} {
		assert.Equal(t, "Rey has messaged +15005550006 "+want, say(t, p, "hi"))
	}
	require.Len(t, p.Cookies(), 1)
	assert.Equal(t, cookiestore.DefaultCookieName, p.Cookies()[0].Name)
	r, err := p.Retry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Rey has messaged +15005550006 3 times", r.String(), "a retry carrying the answered cookie is not counted")
	assert.NotContains(t, prog.Logs.String(), "CONVO_COOKIE_KEYS is not set")
}

// -genkey prints a key pair cookiestore.ParseKeys reads, and nothing else.
func TestCounterGenKey(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-genkey"}, nil, &out, nil))
	line := strings.TrimSpace(out.String())
	assert.Regexp(t, `^CONVO_COOKIE_KEYS=[A-Za-z0-9+/=_-]+:[A-Za-z0-9+/=_-]+$`, line)
	_, err := cookiestore.ParseKeys(strings.TrimPrefix(line, "CONVO_COOKIE_KEYS="))
	assert.NoError(t, err)
}

func TestCounterRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-store", "nope"}, "unknown store"},
		{[]string{"-dsn", "insecure"}, "-store memory takes no -dsn"},
		{[]string{"-store", "postgres"}, "-store postgres needs -dsn"},
		{[]string{"-store", "mysql"}, "-store mysql needs -dsn"},
		{[]string{"-public-url", "ftp://x"}, "PublicURL"},
	} {
		err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), func(string) string { return "" }, io.Discard, quiet())
		assert.ErrorContains(t, err, tc.want, "%q", tc.args)
	}
	err := run(context.Background(), []string{"-h"}, nil, io.Discard, quiet())
	assert.True(t, errors.Is(err, flag.ErrHelp), "-h: %v", err)
}
