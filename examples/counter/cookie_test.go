package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With -store cookie the count lives in the cookie the client carries.
func TestCounterExampleCookieStore(t *testing.T) {
	t.Setenv("CONVO_COOKIE_KEYS", "")
	hook, logs := startCounter(t, nil, "-store", "cookie", "-dsn", "insecure")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	post := func(c *http.Client, sid string) string {
		resp, err := c.PostForm(hook, url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {sid}})
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	for i, want := range []string{"1 times", "2 times", "3 times"} {
		assert.Contains(t, post(client, "SM"+string(rune('a'+i))), want)
	}
	assert.Contains(t, post(client, "SMc"), "3 times", "a retry must not count")
	assert.Contains(t, post(http.DefaultClient, "SMd"), "1 times", "without the cookie, a fresh conversation")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	assert.Contains(t, logs.w.String(), "CONVO_COOKIE_KEYS is not set")
}
