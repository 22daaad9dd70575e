package stores

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCookieStoreOpener(t *testing.T) {
	open := openers["cookie"]
	require.NotNil(t, open, "the cookie store is not registered")
	assert.Contains(t, Names(), "cookie")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))

	t.Setenv("CONVO_COOKIE_KEYS", "")
	s, closer, err := open(context.Background(), "", log)
	require.NoError(t, err)
	require.NotNil(t, s)
	require.NoError(t, closer.Close())
	assert.Contains(t, logged.String(), "level=WARN")
	assert.Contains(t, logged.String(), "CONVO_COOKIE_KEYS is not set")

	p, err := cookiestore.GenerateKeyPair()
	require.NoError(t, err)
	logged.Reset()
	t.Setenv("CONVO_COOKIE_KEYS", cookiestore.FormatKeys([]cookiestore.KeyPair{p}))
	_, _, err = open(context.Background(), "insecure", log)
	require.NoError(t, err)
	assert.Empty(t, logged.String(), "warned although keys were given")

	t.Setenv("CONVO_COOKIE_KEYS", "not:keys")
	_, _, err = open(context.Background(), "", log)
	assert.ErrorContains(t, err, "CONVO_COOKIE_KEYS")

	_, _, err = open(context.Background(), "postgres://x", log)
	assert.Error(t, err)
}
