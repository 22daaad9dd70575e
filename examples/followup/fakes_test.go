package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// restCall is one request the fake REST API received.
type restCall struct {
	Method, Host, Path string
	User, Password     string
	Form               url.Values
}

// fakeREST is a local stand-in for Twilio's REST API: it answers
// POST /2010-04-01/Accounts/{sid}/Messages.json as Twilio does (201 and the
// message as JSON), or with an error when told to.
type fakeREST struct {
	mu    sync.Mutex
	calls []restCall
	fail  int // when not 0, the status of a Twilio error answer
	srv   *httptest.Server
}

func newFakeREST(t *testing.T) *fakeREST {
	f := &fakeREST{}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, _ := r.BasicAuth()
	_ = r.ParseForm()
	f.mu.Lock()
	f.calls = append(f.calls, restCall{Method: r.Method, Host: r.Header.Get("X-Original-Host"), Path: r.URL.Path, User: user, Password: pass, Form: r.PostForm})
	fail := f.fail
	n := len(f.calls)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fail != 0 {
		w.WriteHeader(fail)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"code": 21211, "status": fail, "more_info": "https://www.twilio.com/docs/errors/21211",
			"message": "The 'To' number " + r.PostForm.Get("To") + " is not a valid phone number.",
		})
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code":20404,"status":404,"message":"not found"}`))
		return
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": "SM" + strings.Repeat("0", 31) + string(rune('0'+n%10)), "status": "queued",
		"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body"),
	})
}

func (f *fakeREST) Calls() []restCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]restCall(nil), f.calls...)
}

// client returns an http.Client whose Transport sends every request to the
// fake instead of the host twilio-go names, keeping that host in
// X-Original-Host.
func (f *fakeREST) client() *http.Client {
	target, _ := url.Parse(f.srv.URL)
	return &http.Client{Timeout: 5 * time.Second, Transport: rewrite{target: target, base: f.srv.Client().Transport}}
}

type rewrite struct {
	target *url.URL
	base   http.RoundTripper
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Original-Host", r.URL.Host)
	r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, ""
	return rw.base.RoundTrip(r)
}

// fakeTimers are timers the test fires by hand.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d                time.Duration
	f                func()
	stopped, started bool
}

func (ft *fakeTimers) AfterFunc(d time.Duration, f func()) func() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	ft.timers = append(ft.timers, t)
	return func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		if t.stopped || t.started {
			return false
		}
		t.stopped = true
		return true
	}
}

// Waiting returns the delays of the timers neither fired nor stopped.
func (ft *fakeTimers) Waiting() []time.Duration {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var ds []time.Duration
	for _, t := range ft.timers {
		if !t.stopped && !t.started {
			ds = append(ds, t.d)
		}
	}
	return ds
}

// FireAll runs every waiting timer's function, in the caller's goroutine,
// and returns how many ran.
func (ft *fakeTimers) FireAll() int {
	ft.mu.Lock()
	var due []*fakeTimer
	for _, t := range ft.timers {
		if !t.stopped && !t.started {
			t.started = true
			due = append(due, t)
		}
	}
	ft.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}
