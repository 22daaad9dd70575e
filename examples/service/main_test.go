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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/servetest"
)

const (
	authToken  = "service-test-token"
	adminToken = "staff-only"
	publicURL  = "https://shop.example.com"
	shopNumber = "+15005550006"
	customer   = "+14158675308"
)

// service is the program running on a free port.
type service struct {
	*servetest.Program
	base string // http://127.0.0.1:port
}

func startService(t *testing.T, env map[string]string, args ...string) *service {
	t.Helper()
	p := servetest.Start(t, run, env, args...)
	return &service{Program: p, base: p.URL}
}

// fullEnv is the environment of a service with every route on, behind
// PUBLIC_URL.
var fullEnv = map[string]string{"TWILIO_AUTH_TOKEN": authToken, "PUBLIC_URL": publicURL, "ADMIN_TOKEN": adminToken}

// twilio returns a fake Twilio configured with the public webhook URL,
// signing with token; its requests reach the local address.
func (s *service) twilio(t *testing.T, token string) *convotest.Twilio {
	t.Helper()
	tw, err := convotest.NewTwilioURL(s.base+WebhookPath, convotest.TwilioOptions{AuthToken: token, URL: publicURL + WebhookPath})
	require.NoError(t, err)
	return tw
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
	s := startService(t, fullEnv)
	assert.Contains(t, s.Stdout(), "(Twilio webhook: POST "+s.base+"/twilio/sms)", "the first line names the webhook")
	assert.Contains(t, s.Logs.String(), `msg=listening addr=`+s.base+` webhook="POST `+s.base+`/twilio/sms"`)

	p := s.twilio(t, authToken).Phone(customer, shopNumber)
	assert.Equal(t, `You said "hello" (message 1). Text HOURS or MENU.`, say(t, p, "hello"))
	assert.Equal(t, Hours, say(t, p, "hours"))
	assert.Equal(t, "Today: espresso $2.50, flat white $3.80, croissant $2.90.", say(t, p, " Menu "))
	assert.Equal(t, `You said "one flat white please" (message 4). Text HOURS or MENU.`, say(t, p, "one flat white please"))

	r, err := s.twilio(t, "wrong").Phone(customer, shopNumber).Send(context.Background(), "hi")
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
	conv := conversation(t, s, customer)
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

	logs := s.Logs.String()
	assert.Contains(t, logs, `route="POST /twilio/sms" status=200`)
	assert.Contains(t, logs, `route="POST /twilio/sms" status=403`)
	assert.Contains(t, logs, `route="GET /api/conversations/{from}/{to}" status=401`)
	assert.Contains(t, logs, `route="DELETE /api/conversations/{from}/{to}" status=204`)
	assert.NotContains(t, logs, customer, "full phone numbers stay out of the log")
	assert.NotContains(t, logs, authToken)
	assert.NotContains(t, logs, adminToken)
}

// conversation fetches a customer's conversation from the API.
func conversation(t *testing.T, s *service, from string) conversationJSON {
	t.Helper()
	status, body := s.do(t, "GET", "/api/conversations/"+from+"/"+shopNumber, adminToken)
	require.Equal(t, http.StatusOK, status, body)
	var conv conversationJSON
	require.NoError(t, json.Unmarshal([]byte(body), &conv))
	return conv
}

// The bot's replies ask Twilio for delivery statuses at the public
// webhook; the status callbacks Twilio posts there are recorded, shown in
// the conversation and in /api/deliveries, and run no turn.
func TestServiceRecordsDeliveryStatuses(t *testing.T) {
	s := startService(t, fullEnv)
	p := s.twilio(t, authToken).Phone(customer, shopNumber)
	r, err := p.Send(context.Background(), "hours")
	require.NoError(t, err)
	require.Len(t, r.Messages, 1)
	assert.Equal(t, publicURL+WebhookPath, r.Messages[0].StatusCallback, "the reply asks for its delivery statuses")

	ctx := context.Background()
	for _, st := range []convotest.StatusCallback{{MessageSID: "SMout1", Status: "sent"}, {MessageSID: "SMout1", Status: "delivered"}, {MessageSID: "SMout2", Status: "undelivered"}} {
		r, err := p.SendStatus(ctx, st)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Empty(t, r.Body, "a status callback gets an empty answer")
	}
	r, err = s.twilio(t, "wrong").Phone(customer, shopNumber).SendStatus(ctx, convotest.StatusCallback{Status: "delivered"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, r.Status, "status callbacks are signed too")

	conv := conversation(t, s, customer)
	assert.Equal(t, 1, conv.Count, "status callbacks run no turn")
	require.Len(t, conv.Deliveries, 3)
	assert.Equal(t, Delivery{MessageSID: "SMout2", Status: "undelivered", ErrorCode: "30003", From: customer, To: shopNumber, At: conv.Deliveries[0].At}, conv.Deliveries[0])
	assert.Equal(t, "delivered", conv.Deliveries[1].Status)
	assert.Equal(t, "sent", conv.Deliveries[2].Status)

	say(t, s.twilio(t, authToken).Phone("+12349013030", shopNumber), "hi")
	_, err = s.twilio(t, authToken).Phone("+12349013030", shopNumber).SendStatus(ctx, convotest.StatusCallback{MessageSID: "SMfinn", Status: "read"})
	require.NoError(t, err)
	assert.Len(t, conversation(t, s, customer).Deliveries, 3, "a conversation shows its own deliveries only")

	status, body := s.do(t, "GET", "/api/deliveries", adminToken)
	require.Equal(t, http.StatusOK, status, body)
	var all []Delivery
	require.NoError(t, json.Unmarshal([]byte(body), &all))
	require.Len(t, all, 4)
	assert.Equal(t, "SMfinn", all[0].MessageSID, "newest first")
	status, _ = s.do(t, "GET", "/api/deliveries", "")
	assert.Equal(t, http.StatusUnauthorized, status)

	assert.Contains(t, s.Logs.String(), `msg="message not delivered" conversation=…5308/…0006 message_sid=SMout2 status=undelivered error_code=30003`)
}

// GET /debug/metrics shows the webhook's OpenTelemetry metrics, recorded
// by otelconvo through the SDK: requests by outcome, durations.
func TestServiceMetrics(t *testing.T) {
	s := startService(t, fullEnv)
	tw := s.twilio(t, authToken)
	p := tw.Phone(customer, shopNumber)
	say(t, p, "hello")
	say(t, p, "menu")
	_, err := p.Retry(context.Background())
	require.NoError(t, err)
	_, err = p.SendStatus(context.Background(), convotest.StatusCallback{Status: "delivered"})
	require.NoError(t, err)
	_, err = s.twilio(t, "wrong").Phone(customer, shopNumber).Send(context.Background(), "hi")
	require.NoError(t, err)

	status, body := s.do(t, "GET", "/debug/metrics", adminToken)
	require.Equal(t, http.StatusOK, status, body)
	for _, want := range []string{
		`convo.webhook.requests{convo.channel="sms",convo.outcome="answered",http.response.status_code="200"} 2`,
		`convo.webhook.requests{convo.channel="sms",convo.outcome="replayed",http.response.status_code="200"} 1`,
		`convo.webhook.requests{convo.outcome="status_callback",http.response.status_code="200"} 1`,
		`convo.webhook.requests{convo.outcome="refused",http.response.status_code="403"} 1`,
		`convo.webhook.duration{convo.outcome="answered"} count=2 sum=`,
		`convo.store.duration{convo.store.operation="save"} count=2 sum=`,
		`convo.reply.duration count=2 sum=`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, customer, "no phone number in the metrics")
	status, _ = s.do(t, "GET", "/debug/metrics", "")
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestStatusCallbackURL(t *testing.T) {
	assert.Equal(t, "", statusCallbackURL(""))
	assert.Equal(t, "https://shop.example.com/twilio/sms", statusCallbackURL("https://shop.example.com"))
	assert.Equal(t, "https://shop.example.com/twilio/sms", statusCallbackURL("https://shop.example.com/"))
	assert.Equal(t, "https://tunnel.example/hook?x=1", statusCallbackURL("https://tunnel.example/hook?x=1"))
}

func TestServiceWithoutAdminTokenHasNoAPI(t *testing.T) {
	s := startService(t, map[string]string{"TWILIO_AUTH_TOKEN": authToken})
	for _, path := range []string{"/api/conversations/" + customer + "/" + shopNumber, "/api/deliveries", "/debug/metrics"} {
		status, _ := s.do(t, "GET", path, "")
		assert.Equal(t, http.StatusNotFound, status, path)
	}
	assert.Contains(t, s.Logs.String(), "the conversation, delivery and metrics routes are off")
	assert.Contains(t, s.Logs.String(), "(no route)")

	// Without PUBLIC_URL the replies ask for no status callback.
	tw, err := convotest.NewTwilioURL(s.base+WebhookPath, convotest.TwilioOptions{AuthToken: authToken})
	require.NoError(t, err)
	r, err := tw.Phone(customer, shopNumber).Send(context.Background(), "hours")
	require.NoError(t, err)
	require.Len(t, r.Messages, 1)
	assert.Empty(t, r.Messages[0].StatusCallback)
}

func TestServiceNeedsAuthToken(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, "TWILIO_AUTH_TOKEN is not set")
}

func TestServiceInsecure(t *testing.T) {
	s := startService(t, nil, "-insecure")
	tw, err := convotest.NewTwilioURL(s.base+WebhookPath, convotest.TwilioOptions{})
	require.NoError(t, err)
	assert.Equal(t, `You said "hi" (message 1). Text HOURS or MENU.`, say(t, tw.Phone(customer, shopNumber), "hi"))
	assert.Contains(t, s.Logs.String(), "signatures are NOT checked")
}

// SIGTERM shuts the service down gracefully: run returns nil.
func TestServiceStopsOnSIGTERM(t *testing.T) {
	s := startService(t, map[string]string{"TWILIO_AUTH_TOKEN": authToken})
	status, _ := s.do(t, "GET", "/healthz", "")
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case <-s.Done():
		require.NoError(t, s.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the service")
	}
	assert.Contains(t, s.Logs.String(), "shutting down")
	assert.Contains(t, s.Logs.String(), "stopped")
	_, err := http.Get(s.base + "/healthz")
	assert.Error(t, err, "the listener is closed")
}

func TestRecoverPanics(t *testing.T) {
	logs, log := convotest.NewLogs()
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

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	require.Eventually(t, func() bool { return strings.Contains(s.Logs.String(), "shutting down") }, 5*time.Second, 5*time.Millisecond)
	select {
	case <-s.Done():
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
	case err := <-stopped:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the last request")
	}
}
