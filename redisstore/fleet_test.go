package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/redisstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var countRE = regexp.MustCompile(`messaged \S+ (\d+) times`)

// webhookServer serves a convo.Handler on store, as one server of a fleet.
func webhookServer(t *testing.T, store convo.Store, turnTimeout time.Duration) *httptest.Server {
	t.Helper()
	h, err := convo.NewHandler(convo.Config{
		Store:                      store,
		Reply:                      convo.Greeter(nil),
		InsecureSkipSignatureCheck: true,
		TurnTimeout:                turnTimeout,
		Logger:                     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// post sends one webhook of rey's conversation and returns the status and
// body of the answer.
func post(t *testing.T, srv *httptest.Server, sid, body string) (int, string) {
	t.Helper()
	resp, err := srv.Client().PostForm(srv.URL+"/sms", url.Values{
		"MessageSid": {sid}, "From": {rey.From}, "To": {rey.To}, "Body": {body},
	})
	if err != nil {
		t.Errorf("posting %s: %v", sid, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("reading the answer to %s: %v", sid, err)
	}
	return resp.StatusCode, string(b)
}

func countIn(t *testing.T, twiml string) int {
	t.Helper()
	m := countRE.FindStringSubmatch(twiml)
	require.NotNil(t, m, "no count in %q", twiml)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// TestFleet runs two webhook servers, each with its own Redis client as two
// processes would have, on one store prefix, and sends them one burst of 60
// messages of one conversation at once, split between them: every message
// must be counted exactly once.
func TestFleet(t *testing.T) {
	const burst = 60
	prefix := newPrefix(t)
	var servers [2]*httptest.Server
	var stores [2]*redisstore.Store
	for i := range servers {
		stores[i] = redisstore.New(newClient(t, nil), redisstore.Options{Prefix: prefix})
		servers[i] = webhookServer(t, stores[i], 0)
	}

	var wg sync.WaitGroup
	counts := make([]int, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := post(t, servers[i%2], fmt.Sprintf("SM%032d", i), "burst")
			if status != http.StatusOK {
				t.Errorf("message %d: status %d: %s", i, status, body)
				return
			}
			if m := countRE.FindStringSubmatch(body); m != nil {
				counts[i], _ = strconv.Atoi(m[1])
			} else {
				t.Errorf("message %d: no count in %q", i, body)
			}
		}()
	}
	wg.Wait()

	seen := make(map[int]int)
	for _, n := range counts {
		seen[n]++
	}
	for n := 1; n <= burst; n++ {
		assert.Equal(t, 1, seen[n], "count %d answered %d times", n, seen[n])
	}
	c, err := stores[1].Load(context.Background(), rey)
	require.NoError(t, err)
	assert.Equal(t, burst, c.Count, "stored count")
}

// TestRedisOutage takes Redis away from a webhook server (connections
// refused, then a server that accepts and never answers) and brings it
// back: the webhook answers 503 within a bounded time while Redis is gone,
// and the conversation continues where it was once it is back.
func TestRedisOutage(t *testing.T) {
	addr := redisAddr(t)
	const turnTimeout = 400 * time.Millisecond
	const bound = 2 * time.Second // the turn timeout, with room for a loaded machine

	for _, client := range []struct {
		name string
		opts func(addr string) *redis.Options
	}{
		{"recommended", recommended},
		{"default options", func(addr string) *redis.Options { return &redis.Options{Addr: addr} }},
	} {
		t.Run(client.name, func(t *testing.T) {
			p := newProxy(t, addr)
			store := redisstore.New(newClient(t, client.opts(p.addr)), redisstore.Options{Prefix: newPrefix(t)})
			srv := webhookServer(t, store, turnTimeout)

			status, first := post(t, srv, "SM1", "one")
			require.Equal(t, http.StatusOK, status, first)
			require.Equal(t, 1, countIn(t, first))

			outage := func(what string) {
				start := time.Now()
				status, body := post(t, srv, "SM2", "two")
				elapsed := time.Since(start)
				assert.Equal(t, http.StatusServiceUnavailable, status, "%s: %s", what, body)
				assert.Less(t, elapsed, bound, "%s: the webhook took %v to give up", what, elapsed)
			}
			p.stop()
			outage("connections refused")
			p.start(true)
			outage("Redis hung")

			p.start(false)
			status, body := post(t, srv, "SM3", "three")
			require.Equal(t, http.StatusOK, status, body)
			assert.Equal(t, 2, countIn(t, body), "state lost or a failed turn counted")

			status, retry := post(t, srv, "SM3", "three")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, body, retry, "a retry must be answered byte for byte")
			status, replay := post(t, srv, "SM1", "one")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, first, replay, "a retry from before the outage must be answered byte for byte")

			// Twilio retries the message that got 503: it is counted now.
			status, body = post(t, srv, "SM2", "two")
			require.Equal(t, http.StatusOK, status, body)
			assert.Equal(t, 3, countIn(t, body))
		})
	}
}
