package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

const testToken = "12345678901234567890123456789012"

func noEnv(string) string { return "" }

// counterServer serves the seed's counter on convo with memstore on a
// loopback address, checking signatures when token is set.
func counterServer(t *testing.T, token string) (*httptest.Server, *memstore.Store) {
	t.Helper()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = store.Close() })
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(convo.SeedNames()),
		AuthToken: token, InsecureSkipSignatureCheck: token == "",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, store
}

func TestLoadConvoCounterSigned(t *testing.T) {
	srv, store := counterServer(t, testToken)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL + "/sms", "-phones", "20", "-messages", "5", "-concurrency", "4", "-token", testToken},
		noEnv, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "requests     100 in")
	assert.Contains(t, out.String(), "(signed, check counter)")
	assert.Contains(t, out.String(), "wrong        0 (")
	assert.Regexp(t, `latency      p50 \S+  p99 \S+  max \S+`, out.String())
	assert.Equal(t, 20, store.Len(), "one conversation per phone")
}

func TestLoadTokenFromEnvironment(t *testing.T) {
	srv, _ := counterServer(t, testToken)
	var out bytes.Buffer
	env := func(k string) string {
		if k == "TWILIO_AUTH_TOKEN" {
			return testToken
		}
		return ""
	}
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL + "/sms", "-phones", "3", "-messages", "2"}, env, &out), out.String())
	assert.Contains(t, out.String(), "wrong        0 (")
}

func TestLoadWrongToken(t *testing.T) {
	srv, _ := counterServer(t, testToken)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL + "/sms", "-phones", "2", "-messages", "3", "-token", "wrong"}, noEnv, &out)
	require.ErrorIs(t, err, errWrongReplies)
	assert.Contains(t, out.String(), "wrong        6 (status not 200: 6, wrong count: 0, no answer: 0)")
	assert.Contains(t, out.String(), "status 403")
}

// A webhook that forgets its counts is caught: every answer after each
// phone's first is wrong, and the report says how.
func TestLoadWrongCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<Response><Message>Friend has messaged +15005550006 1 times</Message></Response>`)
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL, "-phones", "4", "-messages", "3"}, noEnv, &out)
	require.ErrorIs(t, err, errWrongReplies)
	assert.Contains(t, out.String(), "wrong        8 (status not 200: 0, wrong count: 8, no answer: 0)")
	assert.Contains(t, out.String(), "counted 1, want 2")

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-phones", "4", "-messages", "3", "-check", "none"}, noEnv, &out))
	assert.Contains(t, out.String(), "wrong        0 (")
}

// The phones carry cookies as Twilio does: a webhook that keeps its count
// only in the cookie counts right.
func TestLoadCarriesCookies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 1
		if c, err := r.Cookie("n"); err == nil {
			fmt.Sscan(c.Value, &n)
			n++
		}
		http.SetCookie(w, &http.Cookie{Name: "n", Value: fmt.Sprint(n), MaxAge: 3600})
		fmt.Fprintf(w, "<Response><Message>%d times</Message></Response>", n)
	}))
	defer srv.Close()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-phones", "5", "-messages", "4", "-concurrency", "5"}, noEnv, &out), out.String())
	assert.Contains(t, out.String(), "requests     20 in")
}

func TestLoadNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there now
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", addr, "-phones", "2", "-messages", "1", "-timeout", "2s"}, noEnv, &out)
	require.ErrorIs(t, err, errWrongReplies)
	assert.Contains(t, out.String(), "no answer: 2)")
}

func TestLoadDuration(t *testing.T) {
	srv, _ := counterServer(t, "")
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-phones", "8", "-duration", "150ms", "-concurrency", "2"}, noEnv, &out), out.String())
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.NotContains(t, out.String(), "requests     0 in")
}

func TestLoadCancelled(t *testing.T) {
	srv, _ := counterServer(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"-url", srv.URL, "-phones", "3", "-messages", "3"}, noEnv, io.Discard)
	require.ErrorIs(t, err, context.Canceled)
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-url is required"},
		{[]string{"-url", "127.0.0.1:8080/sms"}, "not an absolute http(s) URL"},
		{[]string{"-url", "ftp://host/sms"}, "not an absolute http(s) URL"},
		{[]string{"-url", "http://host/sms#rt=1000"}, "leave out the fragment"},
		{[]string{"-url", "http://host/sms", "-phones", "0"}, "-phones 0"},
		{[]string{"-url", "http://host/sms", "-concurrency", "0"}, "-concurrency 0"},
		{[]string{"-url", "http://host/sms", "-messages", "0"}, "-messages 0"},
		{[]string{"-url", "http://host/sms", "-duration", "-1s"}, "-duration -1s"},
		{[]string{"-url", "http://host/sms", "-check", "maybe"}, `-check "maybe"`},
		{[]string{"-url", "http://host/sms", "-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-url", "http://host/sms", "extra"}, "unexpected arguments"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		_, err := parseFlags(tc.args, noEnv, io.Discard)
		require.Error(t, err, tc.args)
		assert.Contains(t, err.Error(), tc.want, tc.args)
	}
	cfg, err := parseFlags([]string{"-url", "https://example.com/sms?x=1", "-duration", "1s", "-messages", "0"}, noEnv, io.Discard)
	require.NoError(t, err, "-messages does not matter with -duration")
	assert.Equal(t, time.Second, cfg.duration)
}

// The signer agrees with convotest's and with twilio-go's validator.
func TestSignature(t *testing.T) {
	for _, rawURL := range []string{"https://example.com/sms", "https://example.com:8443/sms?a=1&b=2", "http://127.0.0.1:8080/"} {
		form := webhookForm(convo.Key{From: "+14158675308", To: "+15005550006"}, newSID(), "hé <there> & ✓")
		sig := signature(testToken, rawURL, form)
		assert.Equal(t, convotest.Signature(testToken, rawURL, form), sig)
		v := client.NewRequestValidator(testToken)
		params := map[string]string{}
		for k := range form {
			params[k] = form.Get(k)
		}
		assert.True(t, v.Validate(rawURL, params, sig), rawURL)
		assert.False(t, v.Validate(rawURL, params, signature("other", rawURL, form)))
	}
	repeated := url.Values{"b": {"2", "1"}, "a": {"x"}}
	assert.Equal(t, convotest.Signature(testToken, "https://h/", repeated), signature(testToken, "https://h/", repeated))
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, time.Duration(5), percentile(d, 50))
	assert.Equal(t, time.Duration(10), percentile(d, 99))
	assert.Equal(t, time.Duration(10), percentile(d, 100))
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
	assert.Equal(t, time.Duration(7), percentile([]time.Duration{7}, 99))
}

func TestMainUsage(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"-h"}, noEnv, &out)
	require.Error(t, err)
	assert.True(t, strings.Contains(out.String(), "-concurrency"), out.String())
}
