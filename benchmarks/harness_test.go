package benchmarks

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/smsconvo/convo/benchmarks/internal/systems"
	"github.com/smsconvo/convo/convotest"
)

// pairs is how many From/To pairs the benchmarks rotate through.
const pairs = 1000

// warmup is how many messages each pair sends before timing starts: a
// convo conversation reaches its steady size after 4 (it keeps 4 turns of
// history, and the 2 or 3 retry records of the 2-minute retry window at
// the paced clock's one message a minute), and so does a cookie that
// holds one.
const warmup = 8

const (
	hookURL = "https://bench.example/sms"
	toAddr  = "+15005550006"
)

// sidPlaceholder marks where a request body holds its MessageSid (three
// times: MessageSid, SmsSid, SmsMessageSid); each message writes its own
// SID over it in place.
const sidPlaceholder = "SM00000000000000000000000000000000"

// webhookForm is a realistic inbound SMS webhook of 19 parameters, as
// Twilio sends it, from pair's number (pair 0 is Rey, so the name lookup
// hits as well as misses).
func webhookForm(pair int, sid string) url.Values {
	from := fmt.Sprintf("+1415555%04d", pair)
	if pair == 0 {
		from = "+14158675308"
	}
	return url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {"0"},
		"ToCity": {"SAN FRANCISCO"}, "FromZip": {"94105"}, "SmsSid": {sid}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {"Hello there"},
		"FromCountry": {"US"}, "To": {toAddr}, "ToZip": {"94105"}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {"AC" + fmt.Sprintf("%032x", 42)},
		"From": {from}, "ApiVersion": {"2010-04-01"},
	}
}

// responseWriter keeps the status, header and body of one answer,
// reusing its memory, so that the benchmarks measure the handlers rather
// than httptest. Like net/http's, it is an http.Flusher (a no-op here).
type responseWriter struct {
	h    http.Header
	code int
	body []byte
}

func (w *responseWriter) Header() http.Header { return w.h }
func (w *responseWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *responseWriter) Flush() {}
func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, p...)
	return len(p), nil
}

// pairState is one pair's request template and the cookie Twilio holds
// for it.
type pairState struct {
	key    convo.Key
	tmpl   http.Request
	body   []byte
	sids   []int             // offsets of the SID placeholders in body
	cookie []string          // the Cookie header, when the pair holds cookies
	jar    map[string]string // name: "name=value" as set
	seq    int               // messages sent
}

// runner sends messages of pairs in rotation to one handler, each with a
// fresh MessageSid, carrying cookies from each answer to the pair's next
// message under Twilio's rules (see setCookies). It allocates nothing
// itself, beyond the copy of the request a server makes too.
type runner struct {
	h      http.Handler
	pairs  []pairState
	w      responseWriter
	reader bytes.Reader
	next   int

	// check, when set, receives every answer's cookies too, and step
	// fails when the cookies sent differ from the ones it holds.
	check *convotest.CookieJar
	// verify makes step check the count of every answer.
	verify bool
}

func newRunner(h http.Handler, n int) *runner {
	u, _ := url.Parse(hookURL)
	r := &runner{h: h, pairs: make([]pairState, n), w: responseWriter{h: make(http.Header)}}
	for i := range r.pairs {
		p := &r.pairs[i]
		f := webhookForm(i, sidPlaceholder)
		p.key = convo.Key{From: f.Get("From"), To: f.Get("To")}
		p.body = []byte(f.Encode())
		for off := 0; ; {
			j := bytes.Index(p.body[off:], []byte(sidPlaceholder))
			if j < 0 {
				break
			}
			p.sids = append(p.sids, off+j)
			off += j + len(sidPlaceholder)
		}
		p.tmpl = http.Request{Method: http.MethodPost, URL: u, Host: u.Host, RequestURI: u.RequestURI(),
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Proto:  "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, TLS: &tls.ConnectionState{}, RemoteAddr: "192.0.2.1:40000"}
		p.cookie = make([]string, 1)
	}
	return r
}

const hexDigits = "0123456789abcdef"

// step sends the next message and returns an error for an answer that is
// not 200 (or, with verify, holds the wrong count).
func (r *runner) step() error {
	p := &r.pairs[r.next]
	pair := r.next
	r.next++
	if r.next == len(r.pairs) {
		r.next = 0
	}
	p.seq++
	id := uint64(pair)<<40 | uint64(p.seq)
	for _, off := range p.sids {
		d := p.body[off+len(sidPlaceholder)-16 : off+len(sidPlaceholder)]
		for i := 15; i >= 0; i-- {
			d[i] = hexDigits[id>>(4*(15-i))&0xf]
		}
	}
	req := p.tmpl // a shallow copy, as each request is a new value for a server
	r.reader.Reset(p.body)
	req.Body = io.NopCloser(&r.reader)
	req.ContentLength = int64(len(p.body))
	if r.check != nil {
		if err := r.compareJar(p); err != nil {
			return err
		}
	}
	clear(r.w.h)
	r.w.code, r.w.body = 0, r.w.body[:0]
	r.h.ServeHTTP(&r.w, &req)
	if r.w.code != http.StatusOK {
		return fmt.Errorf("pair %d message %d: status %d: %s", pair, p.seq, r.w.code, r.w.body)
	}
	if lines := r.w.h["Set-Cookie"]; len(lines) > 0 {
		p.setCookies(lines, time.Now)
		if r.check != nil {
			r.check.Update(p.key, r.w.h)
		}
	}
	if r.verify {
		n, err := counter.Count(r.w.body)
		if err != nil || n != p.seq {
			return fmt.Errorf("pair %d message %d: answered %q, want count %d", pair, p.seq, r.w.body, p.seq)
		}
	}
	return nil
}

// setCookies takes Set-Cookie lines as Twilio does (convotest.CookieJar
// holds the rules): a cookie is kept until it expires, a Max-Age <= 0 or
// an Expires in the past deletes it. The benchmarks run for seconds, far
// below the four hours Twilio keeps a cookie, so a positive lifetime
// never ends within a run. Unlike the CookieJar it allocates nothing for
// one cookie per pair.
func (p *pairState) setCookies(lines []string, now func() time.Time) {
	for _, line := range lines {
		nv, attrs, _ := strings.Cut(line, ";")
		nv = strings.TrimSpace(nv)
		name, _, ok := strings.Cut(nv, "=")
		if !ok || name == "" {
			continue
		}
		if deletes(attrs, now) {
			delete(p.jar, name)
		} else {
			if p.jar == nil {
				p.jar = make(map[string]string, 1)
			}
			p.jar[name] = nv
		}
	}
	switch len(p.jar) {
	case 0:
		delete(p.tmpl.Header, "Cookie")
		return
	case 1:
		for _, nv := range p.jar {
			p.cookie[0] = nv
		}
	default:
		var b strings.Builder
		for _, nv := range p.jar {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(nv)
		}
		p.cookie[0] = b.String()
	}
	p.tmpl.Header["Cookie"] = p.cookie
}

// deletes reports whether a Set-Cookie line's attributes delete the
// cookie: Max-Age <= 0, or, without Max-Age, an Expires not after now.
func deletes(attrs string, now func() time.Time) bool {
	var expires string
	for attrs != "" {
		var a string
		a, attrs, _ = strings.Cut(attrs, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
		switch {
		case strings.EqualFold(k, "Max-Age"):
			n, err := strconv.Atoi(v)
			return err == nil && n <= 0
		case strings.EqualFold(k, "Expires"):
			expires = v
		}
	}
	if expires == "" {
		return false
	}
	t, err := http.ParseTime(expires)
	return err == nil && !t.After(now())
}

// compareJar fails when the Cookie header p is about to send differs from
// what Twilio (convotest.CookieJar) would send.
func (r *runner) compareJar(p *pairState) error {
	want := map[string]string{}
	for _, c := range r.check.Cookies(p.key) {
		want[c.Name] = c.Value
	}
	got := map[string]string{}
	for _, c := range (&http.Request{Header: p.tmpl.Header}).Cookies() {
		got[c.Name] = c.Value
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("pair %s message %d: sending cookies %v, Twilio would send %v", p.key.Redacted(), p.seq, got, want)
	}
	return nil
}

// run sends n messages, failing tb at the first bad answer.
func (r *runner) run(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		if err := r.step(); err != nil {
			tb.Fatal(err)
		}
	}
}

// newSystem builds a fresh s for one test or benchmark, whose convo
// Handler reads the clock now (nil: the real one). A system whose server
// is not configured skips tb, saying which variable to set; one whose
// server does not answer fails it.
func newSystem(tb testing.TB, s systems.System, hook func(), now func() time.Time) http.Handler {
	tb.Helper()
	h, closeFn, err := s.New(systems.Options{Hook: hook, Dir: tb.TempDir(), Now: now, Backends: systems.BackendsFromEnv()})
	if errors.Is(err, systems.ErrNoBackend) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := closeFn(); err != nil {
			tb.Errorf("closing %s: %v", s.Name, err)
		}
	})
	return h
}

// paced returns a clock for a convo Handler that moves 60 ms at each
// reading (the Handler reads it once a turn): with the benchmarks' 1,000
// pairs in rotation, a pair texts once a minute, as a phone does, and its
// conversation keeps the 2 or 3 retry records such a pace gives in the
// 2-minute retry window, where the real clock would put every message of
// a benchmark in the window and keep 64. The root package's bench_test.go
// paces its Handler the same way.
func paced() func() time.Time {
	var n atomic.Int64
	start := time.Now()
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Minute / pairs) }
}

func systemNamed(tb testing.TB, name string) systems.System {
	tb.Helper()
	s, err := systems.Named(name)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
