package convo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/twilio/twilio-go/client"
)

// ReplyFunc answers one inbound message of a conversation. It may read and
// change c (its State, or End it); the Handler saves c after it returns,
// unless it returns an error, in which case nothing is saved and Twilio gets
// a 500.
//
// A ReplyFunc may run more than once for one message: when another server
// saved the same conversation between this turn's load and save, the
// Handler loads it again and re-runs the turn, so that no update is lost.
// Keep side effects that must not repeat (payments, outbound messages)
// idempotent, or key them on m.MessageSID.
type ReplyFunc func(ctx context.Context, c *Conversation, m *Message) (Reply, error)

// Defaults of [Config].
const (
	DefaultMaxBodyBytes    = 128 << 10 // far above Twilio's largest form (about 25 KiB)
	DefaultHistorySize     = 4
	DefaultRetryRecords    = 6
	DefaultTurnTimeout     = 10 * time.Second // Twilio gives up after 15 s
	DefaultReplyTimeout    = 5 * time.Second
	DefaultConflictRetries = 10
)

// Config configures a [Handler]. Store is required, and so is AuthToken
// unless InsecureSkipSignatureCheck is set; every other field has a default.
type Config struct {
	// Store keeps the conversations.
	Store Store

	// Reply answers each message; nil means Greeter(nil), the seed's
	// counter that calls everyone "Friend".
	Reply ReplyFunc

	// AuthToken is the Twilio auth token that signs the webhooks; requests
	// whose X-Twilio-Signature does not match are refused with 403.
	AuthToken string

	// InsecureSkipSignatureCheck accepts every request without checking its
	// signature: anyone who finds the URL can then write to any
	// conversation. Only for local development and tests.
	InsecureSkipSignatureCheck bool

	// PublicURL is the URL Twilio is configured with, when it differs
	// from the one the request arrives at (behind a tunnel, proxy or TLS
	// terminator). With only a scheme and host ("https://example.com"),
	// the request's path and query are appended; with a path, the request's
	// query alone is; with a query too, it is used as it is.
	PublicURL string

	// TrustForwardedHeaders makes the signature check use the scheme and
	// host in X-Forwarded-Proto and X-Forwarded-Host. Set it only behind a
	// proxy that sets (not forwards) them. PublicURL, when set, wins.
	TrustForwardedHeaders bool

	// MaxBodyBytes caps the request body; larger ones get 413.
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// HistorySize is how many recent turns a conversation keeps;
	// 0 means DefaultHistorySize, negative means none.
	HistorySize int

	// RetryRecords is how many recent message ids, with their replies, a
	// conversation keeps to answer Twilio's retries without handling them
	// again; negative means none (and retries are then handled as new
	// messages). 0 means the Store's own default when it has a method
	// DefaultRetryRecords() int (cookiestore keeps 1, as older records
	// can never match a retry there), and DefaultRetryRecords otherwise.
	RetryRecords int

	// TurnTimeout bounds one whole turn: waiting for the conversation,
	// store calls and the reply function. When it passes, the turn is
	// abandoned with 503 and nothing saved. 0 means DefaultTurnTimeout.
	TurnTimeout time.Duration

	// ReplyTimeout bounds one call of the reply function. A reply function
	// still running when it passes is abandoned: whatever it changes is
	// discarded, nothing is saved, its context is cancelled, the pair's
	// next message may start, and Twilio is answered at once with Fallback.
	// Its context carries the turn's deadline and is cancelled when the
	// request ends, so a well-behaved reply function stops then.
	// 0 means DefaultReplyTimeout; it is capped at TurnTimeout. Negative
	// gives no protection against a reply function that ignores its
	// context.
	//
	// Over HTTP/1, with a ResponseWriter that flushes (net/http's, and
	// middleware that implements Flush or Unwrap), the reply function runs
	// in the request's goroutine and a timer answers for it: the fallback
	// is flushed whole, with its Content-Length and "Connection: close",
	// and ServeHTTP returns only when the reply function does
	// (http.Server.Shutdown waits for it). Middleware that rewrites the
	// body (compression) drops that Content-Length, and Twilio then gets
	// the fallback only when the reply function returns. Otherwise the
	// reply function runs in a goroutine of its own and ServeHTTP returns
	// at once.
	ReplyTimeout time.Duration

	// Fallback is answered (with 200) when the reply function runs out of
	// time; the zero Reply sends nothing back.
	Fallback Reply

	// ConflictRetries is how many times a turn is re-run when another
	// server saved the conversation first; after that the answer is 503.
	// 0 means DefaultConflictRetries.
	ConflictRetries int

	// Now is the clock, nil meaning time.Now; tests inject one.
	Now func() time.Time

	// Logger receives a line for every refused or failed request; nil
	// means slog.Default(). Lines never hold the auth token, message
	// text or full phone numbers.
	Logger *slog.Logger
}

// Handler is an http.Handler answering Twilio's messaging webhooks. For each
// POST it checks the signature, parses the message, loads the conversation
// of its From/To pair, calls the reply function, saves the conversation and
// answers the reply as TwiML.
//
// Turns of one conversation run one at a time within a Handler (others
// wait, up to the turn timeout), and across servers sharing a store a
// conflicting save re-runs the turn on fresh state, so no count is lost. A
// message whose id the conversation has already answered gets the same
// TwiML again, byte for byte, and changes nothing.
//
// Answers: 200 with TwiML; 405 for a method other than POST; 413 for a body
// over MaxBodyBytes; 415 for a body that is not a url-encoded form; 400 for
// a malformed form or one without From or To;
// 403 for a missing or wrong signature; 500 when the reply function fails or
// panics; 503 when the store fails or the turn times out. Nothing is saved
// on any of these. A reply function that outlives ReplyTimeout gets 200
// with the Fallback reply, and nothing is saved either.
type Handler struct {
	store           Store
	reply           ReplyFunc
	validator       *client.RequestValidator
	public          *url.URL
	trustForwarded  bool
	maxBody         int64
	historySize     int
	retryRecords    int
	turnTimeout     time.Duration
	replyTimeout    time.Duration
	fallback        []byte
	conflictRetries int
	now             func() time.Time
	log             *slog.Logger
	locks           *keyLocks
}

// NewHandler returns a Handler for cfg. It fails when cfg has no Store, or
// no AuthToken without InsecureSkipSignatureCheck, or a PublicURL that is not
// an absolute http or https URL.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("convo: Config.Store is required")
	}
	h := &Handler{
		store:           cfg.Store,
		reply:           cfg.Reply,
		trustForwarded:  cfg.TrustForwardedHeaders,
		maxBody:         orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		historySize:     limit(cfg.HistorySize, DefaultHistorySize),
		retryRecords:    limit(cfg.RetryRecords, defaultRetryRecords(cfg.Store)),
		turnTimeout:     orDefault(cfg.TurnTimeout, DefaultTurnTimeout),
		fallback:        cfg.Fallback.TwiML(),
		conflictRetries: orDefault(cfg.ConflictRetries, DefaultConflictRetries),
		now:             cfg.Now,
		log:             cfg.Logger,
		locks:           newKeyLocks(),
	}
	switch {
	case cfg.AuthToken != "":
		v := client.NewRequestValidator(cfg.AuthToken)
		h.validator = &v
	case !cfg.InsecureSkipSignatureCheck:
		return nil, errors.New("convo: Config.AuthToken is required (or set InsecureSkipSignatureCheck, for local development only)")
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("convo: Config.PublicURL %q is not an absolute http(s) URL", cfg.PublicURL)
		}
		h.public = u
	}
	h.replyTimeout = min(orDefault(cfg.ReplyTimeout, DefaultReplyTimeout), h.turnTimeout)
	if cfg.ReplyTimeout < 0 {
		h.replyTimeout = -1
	}
	if h.reply == nil {
		h.reply = Greeter(nil)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// defaultRetryRecords returns the store's choice of how many retry records
// to keep, or DefaultRetryRecords.
func defaultRetryRecords(s Store) int {
	if d, ok := s.(interface{ DefaultRetryRecords() int }); ok {
		return max(d.DefaultRetryRecords(), 0) // below 0: none
	}
	return DefaultRetryRecords
}

func limit(v, def int) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		return def
	}
	return v
}

var (
	textXML   = []string{"text/xml"}
	allowPOST = []string{http.MethodPost}
)

// ServeHTTP answers one webhook; see [Handler] for the answers it gives.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = allowPOST
		h.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed", slog.String("method", r.Method))
		return
	}
	form, err := readForm(w, r, h.maxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "request body too large", slog.Int64("limit", mbe.Limit))
		case errors.Is(err, errUnsupportedMediaType):
			h.refuse(w, r, http.StatusUnsupportedMediaType, "not a form", slog.String("content_type", r.Header.Get("Content-Type")))
		default:
			h.refuse(w, r, http.StatusBadRequest, "malformed form", slog.String("error", err.Error()))
		}
		return
	}
	if h.validator != nil && !h.signatureOK(r) {
		u, _, _ := strings.Cut(h.validationURL(r), "?")
		h.refuse(w, r, http.StatusForbidden, "invalid Twilio signature", slog.String("url", u))
		return
	}
	m, err := ParseMessage(form)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, "malformed webhook", slog.String("error", err.Error()))
		return
	}
	id := m.MessageSID
	if id == "" {
		id = r.Header.Get("I-Twilio-Idempotency-Token")
	}

	key := m.Key()
	tc := newTurnContext(r.Context(), h.turnTimeout)
	defer tc.cancel()
	tc.x = Exchange{Request: r, Header: w.Header()}
	tc.rq.w, tc.rq.r, tc.rq.key, tc.rq.id = w, r, key, id
	ctx := context.Context(tc)
	if err := h.locks.lock(ctx, key); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "waiting for the conversation's previous turn", key, id, err)
		return
	}
	locked := true
	defer func() {
		if locked {
			h.locks.unlock(key)
		}
	}()
	rq := &tc.rq
	if h.replyTimeout < 0 || !canWatch(w, r) {
		rq = nil // the reply function runs inline or in a goroutine: no watchdog
	}
	for attempt := 0; ; attempt++ {
		out, status, err := h.turn(ctx, key, id, m, rq)
		switch {
		case errors.Is(err, errAnswered):
			locked = false // the watchdog answered and released the lock
			return
		case err == nil || errors.Is(err, errReplyTimeout):
			if err != nil {
				h.log.LogAttrs(r.Context(), slog.LevelWarn, "convo: answered with the fallback, nothing saved",
					slog.String("conversation", key.Redacted()), slog.String("message_sid", id), slog.String("error", err.Error()))
			}
			w.Header()["Content-Type"] = textXML
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
			return
		case errors.Is(err, ErrConflict) && attempt < h.conflictRetries:
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				h.fail(w, r, http.StatusServiceUnavailable, "turn timed out after conflicts", key, id, err)
				return
			}
		default:
			h.fail(w, r, status, "turn failed", key, id, err)
			return
		}
	}
}

// turn runs one attempt at handling m: load, reply, save. It returns the
// TwiML to answer, or the status to answer with and why.
//
// With rq set, the reply function runs under a watchdog (see watchdog),
// which may answer the request itself: then turn returns errAnswered.
func (h *Handler) turn(ctx context.Context, key Key, id string, m *Message, rq *request) ([]byte, int, error) {
	c, err := h.store.Load(ctx, key)
	if err != nil {
		return nil, http.StatusServiceUnavailable, fmt.Errorf("loading: %w", err)
	}
	if out, ok := c.Replayed(id); ok {
		return out, 0, nil
	}
	now := h.now()
	c.beginTurn(now)
	var reply Reply
	if rq != nil {
		reply, err = h.callReplyWatched(ctx, c, m, rq)
	} else {
		reply, err = h.callReply(ctx, c, m)
	}
	if errors.Is(err, errAnswered) {
		return nil, 0, err
	}
	if errors.Is(err, errReplyTimeout) {
		return h.fallback, 0, err
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	out := reply.TwiML()
	c.finishTurn(Turn{At: now, In: m.Body, Out: reply.String()}, Handled{ID: id, Reply: out}, h.historySize, h.retryRecords)
	if c.Ended {
		c = c.restart()
	}
	if err := h.store.Save(ctx, c); err != nil {
		return nil, http.StatusServiceUnavailable, fmt.Errorf("saving: %w", err)
	}
	return out, 0, nil
}

var errReplyTimeout = errors.New("reply function ran out of time")

type replyResult struct {
	reply Reply
	err   error
}

// callReply runs the reply function in its own goroutine, where no
// watchdog can answer for it (see canWatch), so that a slow
// one cannot hold Twilio's answer past the reply timeout. A panic becomes an
// error carrying the stack. When the timeout passes first, it returns
// errReplyTimeout and the reply function is left to finish alone; c must
// then be discarded, as the reply function may still change it.
func (h *Handler) callReply(ctx context.Context, c *Conversation, m *Message) (Reply, error) {
	if h.replyTimeout < 0 {
		return h.callReplyInline(ctx, c, m)
	}
	done := make(chan replyResult, 1)
	go func() {
		var res replyResult
		defer func() {
			if p := recover(); p != nil {
				res = replyResult{err: fmt.Errorf("reply function panicked: %v\n%s", p, debug.Stack())}
			}
			done <- res
		}()
		res.reply, res.err = h.reply(ctx, c, m)
		if res.err != nil {
			res.err = fmt.Errorf("reply function: %w", res.err)
		}
	}()
	t := timerPool.Get().(*time.Timer)
	t.Reset(h.replyTimeout)
	defer func() {
		t.Stop()
		timerPool.Put(t)
	}()
	select {
	case res := <-done:
		return res.reply, res.err
	case <-t.C:
		return Reply{}, fmt.Errorf("%w (%v)", errReplyTimeout, h.replyTimeout)
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("%w: %w", errReplyTimeout, context.Cause(ctx))
	}
}

// callReplyInline runs the reply function in the caller's goroutine.
func (h *Handler) callReplyInline(ctx context.Context, c *Conversation, m *Message) (reply Reply, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reply function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	reply, err = h.reply(ctx, c, m)
	if err != nil {
		err = fmt.Errorf("reply function: %w", err)
	}
	return reply, err
}

// timerPool recycles the reply timers. Since Go 1.23 a stopped timer's
// channel is drained by Stop, so a pooled timer never fires stale.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func (h *Handler) signatureOK(r *http.Request) bool {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return false
	}
	params := make(map[string]string, len(r.PostForm))
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	return h.validator.Validate(h.validationURL(r), params, sig)
}

// validationURL returns the URL Twilio signed the request for: the public
// URL when configured, else the one the request arrived at.
func (h *Handler) validationURL(r *http.Request) string {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	if p := h.public; p != nil {
		switch {
		case p.RawQuery != "":
			return p.Scheme + "://" + p.Host + p.EscapedPath() + "?" + p.RawQuery
		case p.Path != "" && p.Path != "/":
			_, query, _ := strings.Cut(uri, "?")
			if query != "" {
				return p.Scheme + "://" + p.Host + p.EscapedPath() + "?" + query
			}
			return p.Scheme + "://" + p.Host + p.EscapedPath()
		default:
			return p.Scheme + "://" + p.Host + uri
		}
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if h.trustForwarded {
		if v := firstValue(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstValue(r.Header.Get("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	return scheme + "://" + host + uri
}

func firstValue(s string) string {
	s, _, _ = strings.Cut(s, ",")
	return strings.TrimSpace(s)
}

// refuse answers a request the caller got wrong.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, msg string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.Int("status", status), slog.String("remote", r.RemoteAddr))
	h.log.LogAttrs(r.Context(), slog.LevelWarn, "convo: refused webhook: "+msg, attrs...)
	http.Error(w, msg, status)
}

// fail answers a request that was fine but could not be handled.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string, key Key, id string, err error) {
	h.log.LogAttrs(r.Context(), slog.LevelError, "convo: "+msg,
		slog.Int("status", status), slog.String("conversation", key.Redacted()),
		slog.String("message_sid", id), slog.String("error", err.Error()))
	http.Error(w, http.StatusText(status), status)
}

// backoff returns a random wait before conflict retry attempt+1: up to
// 1 ms, 2 ms, 4 ms, … capped at 50 ms.
func backoff(attempt int) time.Duration {
	ceiling := time.Millisecond << min(attempt, 6)
	return time.Duration(rand.Int64N(int64(min(ceiling, 50*time.Millisecond)))) + time.Millisecond/4
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
