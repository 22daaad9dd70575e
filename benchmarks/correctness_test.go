package benchmarks

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/smsconvo/convo/benchmarks/internal/systems"
	"github.com/smsconvo/convo/convotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	burstSize = 40 // messages sent at once, between one before and one after
	burstRuns = 5  // bursts per system, each from a phone of its own
)

// A phone sends one pair's messages to a handler, in process or over
// loopback HTTP, keeping its cookies in a convotest.CookieJar, which
// follows Twilio's rules.
type phone struct {
	h      http.Handler // in process, when client is nil
	client *http.Client // over HTTP to url
	url    string
	jar    *convotest.CookieJar
	pair   int
	key    convo.Key
}

// answer is one reply to a message.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

var sids atomic.Uint64

func newSID() string { return fmt.Sprintf("SM%032x", 1<<48|sids.Add(1)) }

func newPhone(h http.Handler, pair int) *phone {
	f := webhookForm(pair, "")
	return &phone{h: h, jar: convotest.NewCookieJar(nil), pair: pair, key: convo.Key{From: f.Get("From"), To: f.Get("To")}}
}

// send sends message sid with the given cookies and returns the answer;
// the caller decides whether Twilio keeps its cookies.
func (p *phone) send(sid string, cookies []*http.Cookie) answer {
	body := strings.NewReader(webhookForm(p.pair, sid).Encode())
	var req *http.Request
	if p.client == nil {
		req = httptest.NewRequest(http.MethodPost, hookURL, body)
	} else {
		var err error
		if req, err = http.NewRequest(http.MethodPost, p.url, body); err != nil {
			return answer{body: []byte(err.Error())}
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	if p.client == nil {
		rec := httptest.NewRecorder()
		p.h.ServeHTTP(rec, req)
		return answer{rec.Code, rec.Header(), rec.Body.Bytes()}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return answer{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{body: []byte(err.Error())}
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// sendKeep sends a new message with the cookies Twilio holds, keeps the
// answer's cookies, and returns the count it answered.
func (p *phone) sendKeep() (int, error) {
	a := p.send(newSID(), p.jar.Cookies(p.key))
	p.jar.Update(p.key, a.header)
	return a.count()
}

func (a answer) count() (int, error) {
	if a.code != http.StatusOK {
		return 0, fmt.Errorf("status %d: %s", a.code, a.body)
	}
	return counter.Count(a.body)
}

// burst sends one message, then burstSize at once, all carrying the cookies
// Twilio holds after the first (it sends them before any is answered),
// keeping each answer's cookies as it arrives, then one more message. It
// returns the count that last message answered and how many of the burst
// failed.
func (p *phone) burst() (final, failed int, err error) {
	if _, err := p.sendKeep(); err != nil {
		return 0, 0, fmt.Errorf("first message: %w", err)
	}
	held := p.jar.Cookies(p.key)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var fails atomic.Int64
	for range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := p.send(newSID(), held)
			if a.code != http.StatusOK {
				fails.Add(1)
				return
			}
			p.jar.Update(p.key, a.header)
		}()
	}
	close(start)
	wg.Wait()
	final, err = p.sendKeep()
	if err != nil {
		return 0, int(fails.Load()), fmt.Errorf("last message: %w", err)
	}
	return final, int(fails.Load()), nil
}

// retry plays Twilio's retry: message 1 answered; message 2 handled but
// its answer lost (Twilio timed out), so Twilio keeps the cookies it held
// and sends message 2 again with the same MessageSid; then message 3. It
// returns the count message 3 answered (3 when the retry was recognised
// or its effect lost, 4 when it counted twice), whether the retry ran the
// system's counting logic again (calls counts it), and whether the retry
// got the same answer as the lost one.
func (p *phone) retry(calls *atomic.Int64) (final int, handledAgain, sameAnswer bool, err error) {
	if _, err := p.sendKeep(); err != nil {
		return 0, false, false, fmt.Errorf("message 1: %w", err)
	}
	held := p.jar.Cookies(p.key)
	sid := newSID()
	lost := p.send(sid, held)
	if _, err := lost.count(); err != nil {
		return 0, false, false, fmt.Errorf("message 2: %w", err)
	}
	before := calls.Load()
	again := p.send(sid, held)
	if _, err := again.count(); err != nil {
		return 0, false, false, fmt.Errorf("message 2 retried: %w", err)
	}
	handledAgain = calls.Load() > before
	sameAnswer = bytes.Equal(again.body, lost.body)
	p.jar.Update(p.key, again.header)
	final, err = p.sendKeep()
	if err != nil {
		return 0, false, false, fmt.Errorf("message 3: %w", err)
	}
	return final, handledAgain, sameAnswer, nil
}

// TestBurstAndRetry measures, for every system that counts, the counts a
// burst loses, in process and over loopback HTTP, and what a retried
// MessageSid does; it prints the table, and asserts that convo on its
// server-side stores (memstore, sqlstore on SQLite, PostgreSQL and MySQL,
// redisstore) loses nothing and never counts twice. The peers' (and
// cookiestore's) figures are reported, not asserted: they are what they
// are, and vary from run to run. Systems whose server is not configured
// are skipped and left out of the table.
func TestBurstAndRetry(t *testing.T) {
	var rows []string
	for _, s := range systems.All() {
		if !s.Counts {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			var calls atomic.Int64
			h := newSystem(t, s, func() { calls.Add(1) }, nil)
			srv := httptest.NewServer(h)
			defer srv.Close()
			var lost [2][]int // in process, over HTTP
			failed := 0
			for run := range burstRuns {
				for mode := range lost {
					p := newPhone(h, 100+2*run+mode)
					if mode == 1 {
						p.client, p.url = srv.Client(), srv.URL
					}
					final, f, err := p.burst()
					require.NoError(t, err)
					lost[mode] = append(lost[mode], burstSize+2-final)
					failed += f
				}
			}
			final, handledAgain, same, err := newPhone(h, 200).retry(&calls)
			require.NoError(t, err)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s |", s.Name, spread(lost[0]), spread(lost[1]), failed,
				yesNo(final == 4), yesNo(handledAgain), yesNo(same)))
			t.Logf("burst: lost %v in process, %v over HTTP, of %d (%d failed); retry: message 3 counted %d, handled again %v, same answer %v",
				lost[0], lost[1], burstSize, failed, final, handledAgain, same)
			if s.Convo && s.Name != "convo-cookiestore" {
				assert.Equal(t, [2][]int{make([]int, burstRuns), make([]int, burstRuns)}, lost, "a server-side store loses no count")
				assert.Zero(t, failed, "no message of the burst fails")
				assert.Equal(t, 3, final, "the retry is not counted twice")
				assert.False(t, handledAgain, "the retry is answered from its record")
				assert.True(t, same, "the retry gets the lost answer again")
			}
		})
	}
	t.Logf("one message, %d at once carrying the same cookie, one more (%d runs each way); then a retried MessageSid\n\n"+
		"| system | burst: counts lost, in process | burst: counts lost, loopback HTTP | burst: failed | retry counted twice | retry handled again | retry same answer |\n"+
		"|---|---|---|---|---|---|---|\n%s", burstSize, burstRuns, strings.Join(rows, "\n"))
}

func spread(v []int) string {
	lo, hi := slices.Min(v), slices.Max(v)
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// TestSystemsCount runs every system through the benchmarks' runner and
// checks each answer's count, and that the cookies the runner carries are
// the ones Twilio would (convotest.CookieJar).
func TestSystemsCount(t *testing.T) {
	for _, s := range systems.All() {
		t.Run(s.Name, func(t *testing.T) {
			r := newRunner(newSystem(t, s, nil, paced()), 50)
			r.check = convotest.NewCookieJar(nil)
			r.verify = s.Counts
			r.run(t, 50*4)
			if !s.Counts {
				assert.Equal(t, systems.FixedTwiML, r.w.body)
			}
		})
	}
}
