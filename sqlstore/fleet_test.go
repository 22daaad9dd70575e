package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const authToken = "fleet test token"

var countRe = regexp.MustCompile(`^Friend has messaged \S+ (\d+) times$`)

// count returns the N of the Greeter's answer "Friend has messaged … N times".
func count(t *testing.T, r *convotest.Reply) int {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	m := countRe.FindStringSubmatch(r.String())
	require.NotNil(t, m, "answer %q", r.String())
	n, _ := strconv.Atoi(m[1])
	return n
}

func newHandler(t *testing.T, s convo.Store) *convo.Handler {
	t.Helper()
	h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), AuthToken: authToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return h
}

// TestFleet runs two Handlers on one table, each on a *sql.DB of its own
// (for SQLite, one file opened twice). One phone sends 40 messages at once
// to server 1, and Twilio retries every one of them on server 2: the 40
// are counted once each, and each retry gets the first answer byte for
// byte. Then the phone sends bursts to both servers at once, which race
// for the conversation: still no count is lost or doubled.
func TestFleet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, dsn string, db *sql.DB, table string) {
		tw1 := convotest.NewTwilio(newHandler(t, newStore(t, db, table, sqlstore.Options{})), convotest.TwilioOptions{AuthToken: authToken})
		db2 := openDB(t, d, dsn)
		tw2 := convotest.NewTwilio(newHandler(t, newStore(t, db2, table, sqlstore.Options{})), convotest.TwilioOptions{AuthToken: authToken})
		ctx := context.Background()
		phone1, phone2 := tw1.Phone(rey.From, rey.To), tw2.Phone(rey.From, rey.To)

		replies, err := phone1.Burst(ctx, 40, nil)
		require.NoError(t, err)
		assertCounts(t, replies, 1, 40)

		retries := make([]*convotest.Reply, len(replies))
		errs := make([]error, len(replies))
		var wg sync.WaitGroup
		for i, r := range replies {
			wg.Go(func() { retries[i], errs[i] = tw2.Resend(ctx, r) })
		}
		wg.Wait()
		for i := range replies {
			require.NoError(t, errs[i])
			assert.Equal(t, string(replies[i].Body), string(retries[i].Body), "the retry of message %d on server 2", i)
		}

		r, err := phone2.Send(ctx, "one more")
		require.NoError(t, err)
		assert.Equal(t, 41, count(t, r), "the 41st message")

		var burst1, burst2 []*convotest.Reply
		var err1, err2 error
		wg.Go(func() { burst1, err1 = phone1.Burst(ctx, 20, nil) })
		wg.Go(func() { burst2, err2 = phone2.Burst(ctx, 20, nil) })
		wg.Wait()
		require.NoError(t, err1)
		require.NoError(t, err2)
		assertCounts(t, append(burst1, burst2...), 42, 81)
	})
}

// assertCounts checks that replies count each of from…to once.
func assertCounts(t *testing.T, replies []*convotest.Reply, from, to int) {
	t.Helper()
	seen := make(map[int]int)
	for _, r := range replies {
		seen[count(t, r)]++
	}
	for n := from; n <= to; n++ {
		assert.Equal(t, 1, seen[n], "count %d answered %d times", n, seen[n])
	}
}

// post sends one webhook of rey with the message id sid, unsigned, and
// returns the status and body of the answer.
func post(t testing.TB, client *http.Client, url_, sid string) (int, string) {
	t.Helper()
	form := url.Values{"From": {rey.From}, "To": {rey.To}, "Body": {"hi"}, "MessageSid": {sid}}
	resp, err := client.PostForm(url_, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// proxy is a TCP proxy to a database server that a test can cut off: while
// down it closes the connections it carries and holds new ones open
// without answering, as a server behind a dead network does.
type proxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

// cut closes every connection the proxy holds.
func (p *proxy) cut() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *proxy) setDown(down bool) {
	p.down.Store(down)
	if down {
		p.cut()
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		if p.down.Load() {
			continue // held open, never answered, closed by the next cut
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(up)
		p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
	}
}

// TestDatabaseDown cuts the database off in the middle of a conversation
// (PostgreSQL and MySQL behind a proxy that stops answering; SQLite by
// closing its *sql.DB): the webhook answers 503 within the turn timeout,
// logs why without the phone number, and once the database is back the
// retried message is counted, once.
func TestDatabaseDown(t *testing.T) {
	const turnTimeout = 2 * time.Second
	for _, d := range dialects {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := dsnFor(t, d.name, d.env)
			var p *proxy
			proxied := dsn
			if d.name != sqlstore.SQLite {
				host := hostOf(t, d.name, dsn)
				p = newProxy(t, host)
				proxied = strings.Replace(dsn, host, p.ln.Addr().String(), 1)
			}
			db := openDB(t, d.name, proxied)
			table := uniqueTable(t, openDB(t, d.name, dsn))
			logs := &convotest.Logs{}
			cfg := convo.Config{Store: newStore(t, db, table, sqlstore.Options{}), Reply: convo.Greeter(nil),
				InsecureSkipSignatureCheck: true, TurnTimeout: turnTimeout, Logger: slog.New(slog.NewTextHandler(logs, nil))}
			h, err := convo.NewHandler(cfg)
			require.NoError(t, err)
			srv := httptest.NewServer(h)
			defer srv.Close()

			for i := range 3 {
				status, body := post(t, srv.Client(), srv.URL, fmt.Sprint("SMup", i))
				require.Equal(t, http.StatusOK, status)
				assert.Contains(t, body, fmt.Sprintf(" %d times", i+1))
			}
			if p != nil {
				p.setDown(true)
			} else {
				require.NoError(t, db.Close())
			}
			assertDown(t, srv, logs, turnTimeout)

			if p != nil {
				p.setDown(false)
			} else {
				cfg.Store = newStore(t, openDB(t, d.name, dsn), table, sqlstore.Options{})
				h, err = convo.NewHandler(cfg)
				require.NoError(t, err)
				srv.Config.Handler = h
			}
			require.Eventually(t, func() bool {
				status, body := post(t, srv.Client(), srv.URL, "SMdown")
				return status == http.StatusOK && strings.Contains(body, " 4 times")
			}, 20*time.Second, 100*time.Millisecond, "the conversation did not go on after the database came back")
			status, body := post(t, srv.Client(), srv.URL, "SMnext")
			assert.Equal(t, http.StatusOK, status)
			assert.Contains(t, body, " 5 times", "the retried message was counted twice")
		})
	}
}

// assertDown checks that, with the database cut off, the webhook answers
// 503 within the turn timeout, twice: the first turn finds its connection
// cut; the second dials a server that never answers and runs into the
// turn timeout. Both are logged without the phone number.
func assertDown(t *testing.T, srv *httptest.Server, logs *convotest.Logs, turnTimeout time.Duration) {
	t.Helper()
	for range 2 {
		start := time.Now()
		status, _ := post(t, srv.Client(), srv.URL, "SMdown")
		took := time.Since(start)
		t.Logf("answered %d after %v", status, took.Round(time.Millisecond))
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Less(t, took, turnTimeout+2*time.Second, "the answer took %v", took)
	}
	assert.Contains(t, logs.String(), "status=503")
	assert.NotContains(t, logs.String(), "4158675308", "a full phone number was logged")
}

// hostOf returns the host:port of a PostgreSQL URL or MySQL DSN.
func hostOf(t *testing.T, d sqlstore.Dialect, dsn string) string {
	t.Helper()
	if d == sqlstore.PostgreSQL {
		u, err := url.Parse(dsn)
		require.NoError(t, err, "the PostgreSQL test DSN must be a postgres:// URL")
		return u.Host
	}
	m := regexp.MustCompile(`@tcp\(([^)]+)\)`).FindStringSubmatch(dsn)
	require.NotNil(t, m, "the MySQL test DSN must name a tcp(host:port) address")
	return m[1]
}

// TestUnreachableServer opens a store on a port where nothing listens: the
// webhook answers 503 at once.
func TestUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		driver, dsn string
	}{
		{"pgx", "postgres://root@" + addr + "/test?sslmode=disable"},
		{"mysql", "root@tcp(" + addr + ")/test"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			db, err := sql.Open(tc.driver, tc.dsn)
			require.NoError(t, err)
			defer db.Close()
			s, err := sqlstore.New(db, sqlstore.Options{})
			require.NoError(t, err)
			defer s.Close()
			h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true,
				TurnTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			require.NoError(t, err)
			srv := httptest.NewServer(h)
			defer srv.Close()
			start := time.Now()
			status, _ := post(t, srv.Client(), srv.URL, "SM1")
			assert.Equal(t, http.StatusServiceUnavailable, status)
			assert.Less(t, time.Since(start), 4*time.Second)
		})
	}
}
