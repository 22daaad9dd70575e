package convo_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/twilio/twilio-go/twiml"
)

// The benchmarks compare a full webhook on convo with the floor: a bare
// net/http handler that parses the same form and writes a fixed TwiML
// reply. Run them together:
//
//	go test -run '^$' -bench 'Webhook' -benchmem .

const benchPairs = 1000

// webhookForm is a realistic inbound SMS webhook, as Twilio sends it.
func webhookForm(pair, seq int) url.Values {
	sid := fmt.Sprintf("SM%032x", pair*1_000_000+seq)
	return url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {"0"},
		"ToCity": {"SAN FRANCISCO"}, "FromZip": {"94105"}, "SmsSid": {sid}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {"Hello there"},
		"FromCountry": {"US"}, "To": {"+15005550006"}, "ToZip": {"94105"}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {"AC" + fmt.Sprintf("%032x", 42)},
		"From": {fmt.Sprintf("+1415555%04d", pair)}, "ApiVersion": {"2010-04-01"},
	}
}

// discardWriter is the cheapest ResponseWriter, so that the benchmark
// measures the handlers rather than httptest.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }

// requests builds one signed request template per pair and message; each
// iteration sends a shallow copy with a fresh body, as a server would.
type requests struct {
	tmpl   []http.Request
	bodies [][]byte
}

func newRequests(b *testing.B, perPair int, token string) *requests {
	rs := &requests{}
	u, _ := url.Parse(hookURL)
	for seq := range perPair {
		for pair := range benchPairs {
			f := webhookForm(pair, seq)
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if token != "" {
				h.Set("X-Twilio-Signature", convotest.Signature(token, hookURL, f))
			}
			rs.tmpl = append(rs.tmpl, http.Request{Method: http.MethodPost, URL: u, Host: u.Host, RequestURI: "/sms", Header: h,
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, TLS: &tls.ConnectionState{}})
			rs.bodies = append(rs.bodies, []byte(f.Encode()))
		}
	}
	return rs
}

func (rs *requests) serve(b *testing.B, h http.Handler) {
	b.Helper()
	w := &discardWriter{h: make(http.Header)}
	body := &bytes.Reader{}
	for i := 0; b.Loop(); i++ {
		n := i % len(rs.tmpl)
		req := rs.tmpl[n] // a shallow copy: ParseForm fills in this copy only
		body.Reset(rs.bodies[n])
		req.Body = io.NopCloser(body)
		req.ContentLength = int64(len(rs.bodies[n]))
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, &req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

var fixedTwiML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Friend has messaged +15005550006 1 times</Message></Response>`)

func BenchmarkWebhookFloor(b *testing.B) {
	floor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("From") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		w.Write(fixedTwiML)
	})
	newRequests(b, 64, "").serve(b, floor)
}

func benchHandler(b *testing.B, token string) {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	cfg := convo.Config{Store: store, Reply: convo.Greeter(convo.SeedNames()), Now: paced(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if token == "" {
		cfg.InsecureSkipSignatureCheck = true
	} else {
		cfg.AuthToken = token
	}
	h, err := convo.NewHandler(cfg)
	if err != nil {
		b.Fatal(err)
	}
	newRequests(b, 64, token).serve(b, h)
}

// paced returns a clock for a Handler that moves 60 ms at each reading:
// with benchPairs pairs in rotation, a pair texts once a minute, and its
// conversation keeps the two or three retry records such a pace gives in
// the retry window (all 64 when every message falls in it).
func paced() func() time.Time {
	var n atomic.Int64
	start := time.Now()
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * time.Minute / benchPairs) }
}

// BenchmarkWebhookMemstore is a full webhook: parse, load, count, reply,
// render, save, with signature checking off as in the floor.
func BenchmarkWebhookMemstore(b *testing.B) { benchHandler(b, "") }

// BenchmarkWebhookMemstoreSigned adds X-Twilio-Signature checking.
func BenchmarkWebhookMemstoreSigned(b *testing.B) { benchHandler(b, token) }

// BenchmarkMemstoreBytesPerConversation reports the heap that live
// conversations of the counter hold in memstore, retry records included,
// after each pair has sent 8 messages, so that its history and retry
// records are full.
func BenchmarkMemstoreBytesPerConversation(b *testing.B) {
	const pairs = 10_000
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		store := memstore.New(memstore.Options{SweepInterval: -1})
		h, _ := convo.NewHandler(convo.Config{Store: store, InsecureSkipSignatureCheck: true, Reply: convo.Greeter(nil), Now: paced()})
		w := &discardWriter{h: make(http.Header)}
		b.StartTimer()
		for seq := range 8 {
			for pair := range pairs {
				f := webhookForm(pair, seq)
				req, _ := http.NewRequest(http.MethodPost, hookURL, bytes.NewReader([]byte(f.Encode())))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if store.Len() != pairs {
			b.Fatalf("store holds %d conversations, want %d", store.Len(), pairs)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/pairs, "B/conversation")
		runtime.KeepAlive(h)
		store.Close()
		b.StartTimer()
	}
}

var benchReply = convo.Text("Rey has messaged +15005550006 3 times")

func BenchmarkTwiML(b *testing.B) {
	b.Run("convo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = benchReply.TwiML()
		}
	})
	b.Run("twilio-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = twiml.Messages([]twiml.Element{twiml.MessagingMessage{Body: benchReply.Messages[0].Body}})
		}
	})
}
