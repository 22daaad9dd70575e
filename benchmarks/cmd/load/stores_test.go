package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Against convo on cookiestore, whose conversations live only in the
// cookie Twilio carries, the counts are right only when the phones carry
// each answer's cookie to the pair's next message, as Twilio does.
func TestLoadConvoCookiestore(t *testing.T) {
	keys, err := cookiestore.GenerateKeyPair()
	require.NoError(t, err)
	store, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{keys}, Insecure: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: convo.Greeter(nil), AuthToken: testToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	var out bytes.Buffer
	err = run(context.Background(), []string{"-url", srv.URL + "/sms", "-phones", "10", "-messages", "6", "-concurrency", "4", "-token", testToken},
		noEnv, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "requests     60 in")
	assert.Contains(t, out.String(), "wrong        0 (")
}
