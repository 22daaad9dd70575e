package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCounterOnServers runs the example in-process with -store postgres
// and -store mysql against the servers the test environment names, with
// -dsn as users write it, and counts two messages of a random pair.
func TestCounterOnServers(t *testing.T) {
	for _, tc := range []struct {
		store string
		d     sqlstore.Dialect
		env   string
	}{
		{"postgres", sqlstore.PostgreSQL, "CONVO_TEST_POSTGRES_DSN"},
		{"mysql", sqlstore.MySQL, "CONVO_TEST_MYSQL_DSN"},
	} {
		t.Run(tc.store, func(t *testing.T) {
			dsn := os.Getenv(tc.env)
			if dsn == "" {
				t.Skipf("%s is not set: skipping -store %s", tc.env, tc.store)
			}
			n, err := rand.Int(rand.Reader, big.NewInt(1e7))
			require.NoError(t, err)
			key := convo.Key{From: fmt.Sprintf("+1999%07d", n.Int64()), To: "+15005550006"}
			t.Cleanup(func() { deleteKey(t, tc.d, dsn, key) })

			webhook, _ := startCounter(t, nil, "-store", tc.store, "-dsn", dsn)
			for i := 1; i <= 2; i++ {
				form := url.Values{"From": {key.From}, "To": {key.To}, "Body": {"hi"}, "MessageSid": {fmt.Sprint("SM", i)}}
				resp, err := (&http.Client{Timeout: 20 * time.Second}).PostForm(webhook, form)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
				assert.Contains(t, string(b), fmt.Sprintf("Friend has messaged %s %d times", key.To, i))
			}
		})
	}
}

// deleteKey removes the test's conversation from the shared server.
func deleteKey(t *testing.T, d sqlstore.Dialect, dsn string, key convo.Key) {
	db, err := sqlstore.Open(d, dsn)
	require.NoError(t, err)
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Options{CleanupInterval: -1})
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(t, s.Delete(ctx, key))
}
