package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
)

const (
	authToken  = "service-test-token"
	adminToken = "staff-only"
	publicURL  = "https://shop.example.com"
	shopNumber = "+15005550006"
	customer   = "+14158675308"
)

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// service is the program running on a free port.
type service struct {
	base string // http://127.0.0.1:port
	logs *lockedWriter
	stop context.CancelFunc
	done chan error
}

func startService(t *testing.T, env map[string]string, args ...string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &service{logs: &lockedWriter{}, stop: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw,
			slog.New(slog.NewTextHandler(s.logs, nil)))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		t.Fatalf("the service printed nothing: %v", <-s.done)
	}
	line := sc.Text()
	go io.Copy(io.Discard, pr)
	i := strings.Index(line, "http://")
	require.GreaterOrEqual(t, i, 0, line)
	s.base, _, _ = strings.Cut(line[i:], ";")
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("the service did not shut down")
		}
	})
	return s
}

func (s *service) do(t *testing.T, method, path, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func say(t *testing.T, p *convotest.Phone, body string) string {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	return r.String()
}

func TestServiceExample(t *testing.T) {
	s := startService(t, map[string]string{"TWILIO_AUTH_TOKEN": authToken, "PUBLIC_URL": publicURL, "ADMIN_TOKEN": adminToken})

	// Twilio is configured with the public URL and signs that; the
	// requests reach the local address.
	tw, err := convotest.NewTwilioURL(s.base+"/twilio/sms", convotest.TwilioOptions{AuthToken: authToken, URL: publicURL + "/twilio/sms"})
	require.NoError(t, err)
	p := tw.Phone(customer, shopNumber)
	assert.Equal(t, `You said "hello" (message 1). Text HOURS or MENU.`, say(t, p, "hello"))
	assert.Equal(t, Hours, say(t, p, "hours"))
	assert.Equal(t, "Today: espresso $2.50, flat white $3.80, croissant $2.90.", say(t, p, " Menu "))
	assert.Equal(t, `You said "one flat white please" (message 4). Text HOURS or MENU.`, say(t, p, "one flat white please"))

	forged, err := convotest.NewTwilioURL(s.base+"/twilio/sms", convotest.TwilioOptions{AuthToken: "wrong", URL: publicURL + "/twilio/sms"})
	require.NoError(t, err)
	r, err := forged.Phone(customer, shopNumber).Send(context.Background(), "hi")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status)

	status, body := s.do(t, "GET", "/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	status, body = s.do(t, "GET", "/api/menu", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `[{"name":"espresso","cents":250},{"name":"flat white","cents":380},{"name":"croissant","cents":290}]`, body)
	status, _ = s.do(t, "POST", "/healthz", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	status, _ = s.do(t, "GET", "/twilio/sms", "")
	assert.Equal(t, http.StatusMethodNotAllowed, status)

	// The conversation API.
	convPath := "/api/conversations/" + customer + "/" + shopNumber
	status, _ = s.do(t, "GET", convPath, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = s.do(t, "GET", convPath, "not-the-token")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body = s.do(t, "GET", convPath, adminToken)
	require.Equal(t, http.StatusOK, status, body)
	var conv conversationJSON
	require.NoError(t, json.Unmarshal([]byte(body), &conv))
	assert.Equal(t, customer, conv.From)
	assert.Equal(t, shopNumber, conv.To)
	assert.Equal(t, 4, conv.Count)
	require.Len(t, conv.History, 4)
	assert.Equal(t, "hours", conv.History[1].In)
	assert.Equal(t, Hours, conv.History[1].Out)
	assert.False(t, conv.LastActive.IsZero())

	status, _ = s.do(t, "GET", "/api/conversations/+19995550000/"+shopNumber, adminToken)
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = s.do(t, "DELETE", convPath, adminToken)
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = s.do(t, "GET", convPath, adminToken)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, `You said "back" (message 1). Text HOURS or MENU.`, say(t, p, "back"), "a deleted conversation starts over")

	logs := s.logs.String()
	assert.Contains(t, logs, `route="POST /twilio/sms" status=200`)
	assert.Contains(t, logs, `route="POST /twilio/sms" status=403`)
	assert.Contains(t, logs, `route="GET /api/conversations/{from}/{to}" status=401`)
	assert.Contains(t, logs, `route="DELETE /api/conversations/{from}/{to}" status=204`)
	assert.NotContains(t, logs, customer, "full phone numbers stay out of the log")
	assert.NotContains(t, logs, authToken)
	assert.NotContains(t, logs, adminToken)
}

func TestServiceWithoutAdminTokenHasNoAPI(t *testing.T) {
	s := startService(t, map[string]string{"TWILIO_AUTH_TOKEN": authToken})
	status, _ := s.do(t, "GET", "/api/conversations/"+customer+"/"+shopNumber, "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, s.logs.String(), "conversation API is off")
	assert.Contains(t, s.logs.String(), "(no route)")
}

func TestServiceNeedsAuthToken(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	assert.ErrorContains(t, err, "TWILIO_AUTH_TOKEN is not set")
}

func TestServiceInsecure(t *testing.T) {
	s := startService(t, nil, "-insecure")
	tw, err := convotest.NewTwilioURL(s.base+"/twilio/sms", convotest.TwilioOptions{})
	require.NoError(t, err)
	assert.Equal(t, `You said "hi" (message 1). Text HOURS or MENU.`, say(t, tw.Phone(customer, shopNumber), "hi"))
	assert.Contains(t, s.logs.String(), "signatures are NOT checked")
}

// SIGTERM shuts the service down gracefully: run returns nil.
func TestServiceStopsOnSIGTERM(t *testing.T) {
	s := startService(t, map[string]string{"TWILIO_AUTH_TOKEN": authToken})
	status, _ := s.do(t, "GET", "/healthz", "")
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-s.done:
		require.NoError(t, err)
		s.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the service")
	}
	assert.Contains(t, s.logs.String(), "shutting down")
	assert.Contains(t, s.logs.String(), "stopped")
	_, err := http.Get(s.base + "/healthz")
	assert.Error(t, err, "the listener is closed")
}

func TestRecoverPanics(t *testing.T) {
	var logs lockedWriter
	log := slog.New(slog.NewTextHandler(&logs, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h := logRequests(log, recoverPanics(log, mux))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, logs.String(), "panic serving a request")
	assert.Contains(t, logs.String(), "kaboom")
	assert.Contains(t, logs.String(), "main_test.go", "the stack is logged")
	assert.Contains(t, logs.String(), `route="GET /boom" status=500`)

	assert.PanicsWithError(t, http.ErrAbortHandler.Error(), func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
	}, "net/http's deliberate abort passes through")
}

func TestStatusWriterUnwraps(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	assert.NoError(t, http.NewResponseController(sw).Flush())
	assert.True(t, rec.Flushed)
	var target interface{ Unwrap() http.ResponseWriter } = sw
	assert.Same(t, rec, target.Unwrap())
}

// A request in flight when shutdown begins is answered before run returns.
func TestServiceFinishesRequestsInFlight(t *testing.T) {
	s := startService(t, nil, "-insecure")
	form := "From=%2B14158675308&To=%2B15005550006&MessageSid=SM1&Body=HOURS"
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	// The head and half the body: the request has begun.
	_, err = fmt.Fprintf(conn, "POST /twilio/sms HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(form), form[:20])
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond) // let the server read the head

	s.stop()
	require.Eventually(t, func() bool { return strings.Contains(s.logs.String(), "shutting down") }, 5*time.Second, 5*time.Millisecond)
	select {
	case <-s.done:
		t.Fatal("run returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	_, err = io.WriteString(conn, form[20:])
	require.NoError(t, err)

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), Hours)
	select {
	case err := <-s.done:
		assert.NoError(t, err)
		s.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the last request")
	}
}
