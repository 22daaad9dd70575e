package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo/convotest"
)

// BenchmarkSend measures one message through the dev phone's API, answered
// by the counter in process, in the worst case: a thread at its cap of
// maxEntries entries, which every answer carries whole. It covers decoding
// the request, the fake Twilio, the handler and encoding the thread.
func BenchmarkSend(b *testing.B) {
	clock := convotest.NewClock(time.Time{})
	h, closer, err := counterHandler("", clock.Now, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer closer.Close()
	s, err := newServer(Options{Handler: h, Clock: clock, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	const body = `{"from":"+14158675308","to":"+15005550006","body":"hello"}`
	sendOne := func() {
		req := httptest.NewRequest(http.MethodPost, "/api/send", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
	for range maxEntries {
		sendOne()
	}
	b.ReportAllocs()
	for b.Loop() {
		sendOne()
	}
}
