package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo/benchmarks/internal/systems"
	"github.com/smsconvo/convo/convotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var listening = regexp.MustCompile(`listening on (http://\S+/sms)`)

// Every system serves the counter over loopback HTTP and shuts down when
// the context ends.
func TestServeEverySystem(t *testing.T) {
	for _, s := range systems.All() {
		t.Run(s.Name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var out convotest.Logs
			done := make(chan error, 1)
			if err := systems.BackendsFromEnv().Check(s.Backend); err != nil {
				t.Skip(err)
			}
			go func() { done <- run(ctx, []string{"-system", s.Name, "-addr", "127.0.0.1:0"}, &out) }()
			var hook string
			require.Eventually(t, func() bool {
				m := listening.FindStringSubmatch(out.String())
				if m != nil {
					hook = m[1]
				}
				return m != nil
			}, 10*time.Second, 10*time.Millisecond)
			form := url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {"SM" + strings.Repeat("1", 32)}}
			resp, err := http.PostForm(hook, form)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			if s.Counts {
				assert.Contains(t, string(body), "Rey has messaged +15005550006 1 times")
			}
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(15 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
	}
}

func TestServeUnknownSystem(t *testing.T) {
	err := run(context.Background(), []string{"-system", "nope"}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "convo-memstore")
}

func TestServeList(t *testing.T) {
	var local, shared strings.Builder
	require.NoError(t, run(context.Background(), []string{"-list"}, &local))
	require.NoError(t, run(context.Background(), []string{"-list-shared"}, &shared))
	assert.Equal(t, "floor\nmutexmap\nconvo-memstore\nconvo-cookiestore\ngorilla-sessions\nscs-memstore\n", local.String())
	assert.Equal(t, strings.Join(systems.Names(), "\n")+"\n", local.String()+shared.String())
	assert.True(t, strings.HasPrefix(shared.String(), "convo-sqlstore\nscs-sqlite3store\n"), shared.String())
}
