package redisstore_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/redisstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

var countRE = regexp.MustCompile(`^Friend has messaged \+15005550006 (\d+) times$`)

// TestFleet runs two webhook servers, each with its own client and Store
// on the same Redis and prefix, as two processes of a fleet: a burst of 40
// messages of one conversation to the first is counted 1 to 40, and
// Twilio's retry of each of them reaching the second server gets the
// first answer byte for byte, counting nothing.
func TestFleet(t *testing.T) {
	const burst = 40
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			first := b.client(t)
			prefix := newPrefix(t, first)
			var servers [2]*convotest.Twilio
			for i, rdb := range []redis.UniversalClient{first, b.client(t)} {
				h, err := convo.NewHandler(convo.Config{
					Store:                      newStore(t, rdb, redisstore.Options{Prefix: prefix}),
					Reply:                      convo.Greeter(nil),
					InsecureSkipSignatureCheck: true,
					Logger:                     discard,
				})
				require.NoError(t, err)
				servers[i] = convotest.NewTwilio(h, convotest.TwilioOptions{})
			}

			replies, err := servers[0].Phone(rey.From, rey.To).Burst(ctx, burst, nil)
			require.NoError(t, err)
			counts := map[int]bool{}
			for _, r := range replies {
				counts[count(t, r)] = true
			}
			for n := 1; n <= burst; n++ {
				assert.True(t, counts[n], "no message was counted %d", n)
			}

			var wg sync.WaitGroup
			for i, r := range replies {
				wg.Go(func() {
					retry, err := servers[1].Resend(ctx, r)
					if assert.NoError(t, err, "retry of message %d", i) {
						assert.True(t, bytes.Equal(r.Body, retry.Body), "retry of message %d answered %q, first %q", i, retry.Body, r.Body)
					}
				})
			}
			wg.Wait()

			next, err := servers[1].Phone(rey.From, rey.To).Send(ctx, "one more")
			require.NoError(t, err)
			assert.Equal(t, burst+1, count(t, next), "the retries counted")
		})
	}
}

// count returns the count the Greeter answered r with.
func count(t *testing.T, r *convotest.Reply) int {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	m := countRE.FindStringSubmatch(r.String())
	require.NotNil(t, m, "no count in %q", r.Body)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}
