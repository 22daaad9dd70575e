package cookiestore_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/smsconvo/convo/cookiestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKeys(t *testing.T) {
	a, b := testKeys(t), testKeys(t)
	long := cookiestore.KeyPair{Hash: bytes.Repeat([]byte{7}, 64), Block: a.Block}

	got, err := cookiestore.ParseKeys(cookiestore.FormatKeys([]cookiestore.KeyPair{a, b, long}))
	require.NoError(t, err)
	assert.Equal(t, []cookiestore.KeyPair{a, b, long}, got, "FormatKeys and ParseKeys disagree")

	urlForm := base64.RawURLEncoding.EncodeToString(a.Hash) + ":" + base64.RawURLEncoding.EncodeToString(a.Block)
	got, err = cookiestore.ParseKeys("  " + urlForm + " ,\n " + b.String() + "\n")
	require.NoError(t, err, "URL-safe unpadded keys and spaces")
	assert.Equal(t, []cookiestore.KeyPair{a, b}, got)

	for name, s := range map[string]string{
		"empty":          "  ",
		"no colon":       base64.StdEncoding.EncodeToString(a.Hash),
		"not base64":     "!!!:" + base64.StdEncoding.EncodeToString(a.Block),
		"short hash":     base64.StdEncoding.EncodeToString(a.Hash[:20]) + ":" + base64.StdEncoding.EncodeToString(a.Block),
		"short block":    base64.StdEncoding.EncodeToString(a.Hash) + ":" + base64.StdEncoding.EncodeToString(a.Block[:16]),
		"trailing comma": a.String() + ",",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cookiestore.ParseKeys(s)
			require.Error(t, err)
			for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' }) {
				if len(strings.TrimSpace(part)) > 8 {
					assert.NotContains(t, err.Error(), strings.TrimSpace(part), "the error shows a key")
				}
			}
		})
	}
}

func TestGenerateKeyPair(t *testing.T) {
	a, b := testKeys(t), testKeys(t)
	require.NoError(t, a.Validate())
	assert.Len(t, a.Hash, 32)
	assert.Len(t, a.Block, 32)
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, a.Hash, a.Block)
}
