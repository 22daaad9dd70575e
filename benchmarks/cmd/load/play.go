package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/smsconvo/convo/convotest"
)

// maxAnswer is the most of an answer's body that is read.
const maxAnswer = 1 << 20

// phone is one From/To pair; one worker at a time sends its messages.
type phone struct {
	key      convo.Key
	sent     int // messages sent
	expected int // the count its next answer should hold
}

// result is what the workers measured.
type result struct {
	elapsed   time.Duration
	latencies []time.Duration // of every request that got an answer
	requests  int
	badStatus int // answers other than 200
	badCount  int // 200 answers without the expected count
	failed    int // requests without an answer (connection, timeout)
	examples  []string
}

func (r *result) wrong() int { return r.badStatus + r.badCount + r.failed }

func (r *result) merge(o *result) {
	r.latencies = append(r.latencies, o.latencies...)
	r.requests += o.requests
	r.badStatus += o.badStatus
	r.badCount += o.badCount
	r.failed += o.failed
	for _, e := range o.examples {
		if len(r.examples) < maxExamples {
			r.examples = append(r.examples, e)
		}
	}
}

// maxExamples is how many wrong replies the report describes.
const maxExamples = 5

func (r *result) note(format string, args ...any) {
	if len(r.examples) < maxExamples {
		r.examples = append(r.examples, fmt.Sprintf(format, args...))
	}
}

// play sends the phones' messages and measures the answers.
func play(ctx context.Context, cfg *config) (*result, error) {
	client := &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConns:        cfg.concurrency,
			MaxIdleConnsPerHost: cfg.concurrency,
			IdleConnTimeout:     90 * time.Second,
		},
		// Twilio does not follow redirects of a webhook: a 3xx is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()

	jar := convotest.NewCookieJar(nil)
	ready := make(chan *phone, cfg.phones)
	for i := range cfg.phones {
		ready <- &phone{key: convo.Key{From: fmt.Sprintf("+1555%07d", cfg.firstFrom+i), To: cfg.to}, expected: 1}
	}
	var (
		mu        sync.Mutex
		remaining = cfg.phones // phones not finished
	)
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if remaining--; remaining == 0 {
			close(ready)
		}
	}

	start := time.Now()
	var deadline time.Time
	if cfg.duration > 0 {
		deadline = start.Add(cfg.duration)
	}
	total := &result{}
	var wg sync.WaitGroup
	for range min(cfg.concurrency, cfg.phones) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &result{}
			for p := range ready {
				stop := ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline))
				if !stop {
					send(ctx, client, jar, cfg, p, res)
					stop = deadline.IsZero() && p.sent >= cfg.messages
				}
				if stop {
					finish()
				} else {
					ready <- p
				}
			}
			mu.Lock()
			total.merge(res)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	if total.requests == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return total, nil
}

// send sends p's next message and checks the answer.
func send(ctx context.Context, client *http.Client, jar *convotest.CookieJar, cfg *config, p *phone, res *result) {
	p.sent++
	res.requests++
	form := webhookForm(p.key, newSID(), "load test message "+strconv.Itoa(p.sent))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url, strings.NewReader(form.Encode()))
	if err != nil {
		res.failed++
		res.note("%s message %d: %v", p.key.Redacted(), p.sent, err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (convo load)")
	req.Header.Set("I-Twilio-Idempotency-Token", newToken())
	if cfg.token != "" {
		req.Header.Set("X-Twilio-Signature", signature(cfg.token, cfg.url, form))
	}
	jar.AddCookies(p.key, req)

	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res.failed++
		res.note("%s message %d: %v", p.key.Redacted(), p.sent, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if err != nil {
		res.failed++
		res.note("%s message %d: reading the answer: %v", p.key.Redacted(), p.sent, err)
		return
	}
	res.latencies = append(res.latencies, time.Since(began))
	jar.Update(p.key, resp.Header)
	if resp.StatusCode != http.StatusOK {
		res.badStatus++
		res.note("%s message %d: status %d: %.100q", p.key.Redacted(), p.sent, resp.StatusCode, body)
		return
	}
	if cfg.check != "counter" {
		return
	}
	n, err := counter.Count(body)
	switch {
	case err != nil:
		res.badCount++
		res.note("%s message %d: no count in %.200q", p.key.Redacted(), p.sent, body)
	case n != p.expected:
		res.badCount++
		res.note("%s message %d: counted %d, want %d", p.key.Redacted(), p.sent, n, p.expected)
		p.expected = n + 1 // judge the next answers from what the webhook now holds
	default:
		p.expected++
	}
}

// webhookForm is an inbound SMS as Twilio posts it.
func webhookForm(key convo.Key, sid, body string) url.Values {
	return url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {"0"},
		"ToCity": {"SAN FRANCISCO"}, "FromZip": {"94105"}, "SmsSid": {sid}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {body},
		"FromCountry": {"US"}, "To": {key.To}, "ToZip": {"94105"}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {"AC" + strings.Repeat("0", 30) + "42"},
		"From": {key.From}, "ApiVersion": {"2010-04-01"},
	}
}

func newSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "SM" + hex.EncodeToString(b[:])
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted d, by
// the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func (r *result) print(w io.Writer, cfg *config) {
	slices.Sort(r.latencies)
	signed := "unsigned"
	if cfg.token != "" {
		signed = "signed"
	}
	fmt.Fprintf(w, "target       %s (%s, check %s)\n", cfg.url, signed, cfg.check)
	fmt.Fprintf(w, "phones       %d, %d at once\n", cfg.phones, min(cfg.concurrency, cfg.phones))
	fmt.Fprintf(w, "requests     %d in %v\n", r.requests, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests/s   %.0f\n", float64(r.requests)/r.elapsed.Seconds())
	fmt.Fprintf(w, "latency      p50 %v  p99 %v  max %v\n", stats.Round(percentile(r.latencies, 50)),
		stats.Round(percentile(r.latencies, 99)), stats.Round(percentile(r.latencies, 100)))
	fmt.Fprintf(w, "wrong        %d (status not 200: %d, wrong count: %d, no answer: %d)\n", r.wrong(), r.badStatus, r.badCount, r.failed)
	for _, e := range r.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}
