package cookiestore_test

import (
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store {
		s, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{testKeys(t)}, Expiry: e})
		require.NoError(t, err)
		return s
	}, convotest.ClientHeld())
}

func testKeys(t testing.TB) cookiestore.KeyPair {
	p, err := cookiestore.GenerateKeyPair()
	require.NoError(t, err)
	return p
}
