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
	"github.com/smsconvo/convo/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var countRe = regexp.MustCompile(`has messaged \S+ (\d+) times`)

// post sends one webhook of rey with the message id sid and returns the
// status and body of the answer.
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

// burst sends n messages of one pair at once, split over urls in turn,
// each with its own MessageSid, and checks that the n answers hold each
// count from 1 to n exactly once. It returns the id of the message
// answered with count n.
func burst(t *testing.T, urls []string, n int, sidPrefix string) (last string) {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	counts := make([]int, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := post(t, client, urls[i%len(urls)], fmt.Sprintf("%s%04d", sidPrefix, i))
			statuses[i] = status
			if m := countRe.FindStringSubmatch(body); m != nil {
				counts[i], _ = strconv.Atoi(m[1])
			}
		}()
	}
	wg.Wait()
	seen := make(map[int]int)
	for i := range n {
		assert.Equal(t, http.StatusOK, statuses[i], "message %d", i)
		seen[counts[i]]++
		if counts[i] == n {
			last = fmt.Sprintf("%s%04d", sidPrefix, i)
		}
	}
	for c := 1; c <= n; c++ {
		assert.Equal(t, 1, seen[c], "count %d answered %d times", c, seen[c])
	}
	return last
}

func newFleetHandler(t *testing.T, s convo.Store, log *slog.Logger) *httptest.Server {
	t.Helper()
	h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true, Logger: log})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestFleet runs two Handlers on two servers sharing one database (for
// SQLite, one file opened by two *sql.DB) and sends a burst of 60 messages
// of one pair across both: every count is answered once, none lost.
func TestFleet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect, dsn string, db *sql.DB, table string) {
		db2 := openDB(t, d, dsn)
		s1 := newStore(t, db, table, sqlstore.Options{})
		s2 := newStore(t, db2, table, sqlstore.Options{})
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		a := newFleetHandler(t, s1, log)
		b := newFleetHandler(t, s2, log)

		const n = 60
		last := burst(t, []string{a.URL, b.URL}, n, "SMfleet")
		c, err := s1.Load(context.Background(), rey)
		require.NoError(t, err)
		assert.Equal(t, n, c.Count, "stored count")

		// A retry of the last message, on both servers, is not counted again.
		for _, u := range []string{a.URL, b.URL} {
			status, body := post(t, http.DefaultClient, u, last)
			assert.Equal(t, http.StatusOK, status)
			assert.Contains(t, body, fmt.Sprintf(" %d times", n))
		}
		c, err = s2.Load(context.Background(), rey)
		require.NoError(t, err)
		assert.Equal(t, n, c.Count, "a retry was counted")
	})
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
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

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
	defer p.wg.Done()
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
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDatabaseDown cuts the database off in the middle of a conversation
// (PostgreSQL and MySQL behind a proxy that stops answering; SQLite by
// closing its *sql.DB): the webhook answers 503 well within Twilio's 15 s,
// logs why, and once the database is back the conversation goes on from
// where it was.
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
				proxied = strings.Replace(dsn, host, p.addr(), 1)
			}
			db := openDB(t, d.name, proxied)
			table := uniqueTable(t, openDB(t, d.name, dsn))
			s := newStore(t, db, table, sqlstore.Options{})
			logs := &syncBuffer{}
			h, err := convo.NewHandler(convo.Config{Store: s, InsecureSkipSignatureCheck: true, TurnTimeout: turnTimeout,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
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
			// The first turn finds its connection cut; the second dials
			// a server that never answers and runs into the turn timeout.
			for range 2 {
				start := time.Now()
				status, _ := post(t, srv.Client(), srv.URL, "SMdown")
				took := time.Since(start)
				t.Logf("answered %d after %v", status, took.Round(time.Millisecond))
				assert.Equal(t, http.StatusServiceUnavailable, status)
				assert.Less(t, took, turnTimeout+2*time.Second, "the answer took %v", took)
			}
			assert.Contains(t, logs.String(), "turn failed")
			assert.Contains(t, logs.String(), "status=503")
			assert.NotContains(t, logs.String(), rey.From, "a full phone number was logged")

			if p != nil {
				p.setDown(false)
			} else {
				db = openDB(t, d.name, dsn)
				s = newStore(t, db, table, sqlstore.Options{})
				h, err = convo.NewHandler(convo.Config{Store: s, InsecureSkipSignatureCheck: true, TurnTimeout: turnTimeout})
				require.NoError(t, err)
				srv.Config.Handler = h
			}
			// Twilio retries the failed message: it is counted now, once.
			require.Eventually(t, func() bool {
				status, body := post(t, srv.Client(), srv.URL, "SMdown")
				return status == http.StatusOK && strings.Contains(body, " 4 times")
			}, 20*time.Second, 100*time.Millisecond, "the conversation did not go on after the database came back")
			c, err := s.Load(context.Background(), rey)
			require.NoError(t, err)
			assert.Equal(t, 4, c.Count)
		})
	}
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
		d   sqlstore.Dialect
		dsn string
	}{
		{sqlstore.PostgreSQL, "postgres://root@" + addr + "/test?sslmode=disable"},
		{sqlstore.MySQL, "root@tcp(" + addr + ")/test"},
	} {
		t.Run(string(tc.d), func(t *testing.T) {
			db, err := sqlstore.Open(tc.d, tc.dsn)
			require.NoError(t, err)
			defer db.Close()
			s, err := sqlstore.New(db, sqlstore.Options{})
			require.NoError(t, err)
			defer s.Close()
			h, err := convo.NewHandler(convo.Config{Store: s, InsecureSkipSignatureCheck: true, TurnTimeout: 2 * time.Second,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
