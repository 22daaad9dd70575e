package convo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"
)

// ReplyFunc answers one inbound message of a conversation. It may read and
// change c (its State, or End it); the Handler saves c after it returns. When
// it returns an error, panics or outlives the reply timeout, nothing is saved
// and Twilio gets the Config's Fallback.
//
// ctx is the request's context, with the turn's deadline. A ReplyFunc may
// run more than once for one message: when another server saved the same
// conversation between this turn's load and save, the Handler loads it
// again and re-runs the turn, so that no update is lost. Keep side effects
// that must not repeat (payments, outbound messages) idempotent, or key
// them on m.MessageSID. It must not keep c once it returns.
type ReplyFunc func(ctx context.Context, c *Conversation, m *Message) (Reply, error)

// Defaults of [Config].
const (
	DefaultIdle         = 4 * time.Hour // Twilio's cookie lifetime
	DefaultHistorySize  = 4
	DefaultRetryWindow  = 2 * time.Minute  // Twilio's retries of a webhook end within 15 s
	DefaultTurnTimeout  = 10 * time.Second // Twilio gives up after 15 s
	DefaultReplyTimeout = 5 * time.Second
	DefaultMaxBodyBytes = 128 << 10 // far above Twilio's largest form (about 25 KiB)
)

// Config configures a [Handler]. Store and Reply are required, and so is
// AuthToken (or SharedKeySecret) unless InsecureSkipSignatureCheck is set;
// every other field has a default.
type Config struct {
	// Store keeps the conversations.
	Store Store

	// Reply answers each message. Greeter is the seed's counter.
	Reply ReplyFunc

	// AuthToken is the Twilio auth token that signs webhooks in
	// X-Twilio-Signature (HMAC-SHA1).
	AuthToken string

	// SharedKeySecret is the secret of a Webhooks Rule's SharedKey: it
	// checks the signature of webhooks carrying
	// X-Twilio-Webhooks-Signature-Settings, with the algorithm that header
	// names (HMAC_SHA1 or HMAC_SHA256; others are refused).
	SharedKeySecret string

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

	// Idle is how long a conversation lives after its last message; 0
	// means DefaultIdle. Lifetime, when positive, ends it that long after
	// its first message however busy it is.
	Idle, Lifetime time.Duration

	// HistorySize is how many recent turns a conversation keeps;
	// 0 means DefaultHistorySize, negative means none.
	HistorySize int

	// RetryWindow is how long a conversation remembers each message it
	// answered, with the TwiML it answered, so that a retry of it gets the
	// same bytes and changes nothing, however many messages came between;
	// 0 means DefaultRetryWindow. At most 64 messages are remembered, and
	// 64 KiB of their TwiML; past that the oldest are forgotten and a
	// retry of one would be handled anew. A ClientHeld store remembers
	// only the newest (see ClientHeld).
	RetryWindow time.Duration

	// TurnTimeout bounds a turn: waiting for the conversation's previous
	// turn, store calls, the reply function and re-runs after conflicts.
	// When it passes, the answer is 503 and nothing is saved.
	// 0 means DefaultTurnTimeout.
	TurnTimeout time.Duration

	// ReplyTimeout bounds the reply function, which runs in a goroutine of
	// its own. One still running when it passes is abandoned: its context
	// is cancelled, its changes are dropped, the pair's next message may
	// start, and Twilio gets the Fallback at once. 0 means
	// DefaultReplyTimeout; it is capped at TurnTimeout.
	ReplyTimeout time.Duration

	// Fallback is answered, with 200, when the reply function returns an
	// error, panics, outlives ReplyTimeout or (with RefuseLongReplies)
	// replies too long; nothing is saved. The zero Reply sends nothing
	// back, as an error answer would, but keeps Twilio's retry from
	// running the turn again.
	Fallback Reply

	// LongReplies says what happens to a reply message over Twilio's 1,600
	// characters; the default is SplitLongReplies.
	LongReplies LongReplies

	// OnStatus receives the status callbacks posted to the Handler (see
	// Status). They are answered 200 with an empty body, and never run a
	// turn. nil ignores them.
	OnStatus func(ctx context.Context, s *Status)

	// Observer receives an Event for every request; nil means none.
	Observer Observer

	// MaxBodyBytes caps the request body; larger ones get 413.
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// Now is the clock, nil meaning time.Now; tests move one by hand.
	Now func() time.Time

	// Logger receives a line for every refused or failed request; nil
	// means slog.Default(). Lines never hold the auth token, message
	// text or full phone numbers.
	Logger *slog.Logger
}

// Handler is an http.Handler answering Twilio's messaging webhooks: see the
// package documentation for the path of one webhook through it.
//
// Answers: 200 with TwiML (or with an empty body, to a status callback);
// 405 for a method other than POST; 413 for a body over MaxBodyBytes; 415
// for a body that is not a url-encoded form; 400 for a malformed form or
// one without From or To; 403 for a missing or wrong signature; 500 when a
// stored conversation cannot be decoded or cannot be saved within the
// store's size; 503 when the store fails or the turn times out. Nothing is
// saved on any of these.
type Handler struct {
	cfg        Config // with every default filled in
	public     *url.URL
	fallback   []byte
	clientHeld bool // the store is ClientHeld
	locks      keyLocks
	recent     recentSaves
}

// NewHandler returns a Handler for cfg. It fails when cfg has no Store or
// Reply, no AuthToken or SharedKeySecret without InsecureSkipSignatureCheck,
// or a PublicURL that is not an absolute http or https URL.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("convo: Config.Store is required")
	case cfg.Reply == nil:
		return nil, errors.New("convo: Config.Reply is required (convo.Greeter is the seed's counter)")
	case cfg.AuthToken == "" && cfg.SharedKeySecret == "" && !cfg.InsecureSkipSignatureCheck:
		return nil, errors.New("convo: Config.AuthToken is required (or set InsecureSkipSignatureCheck, for local development only)")
	}
	h := &Handler{fallback: cfg.Fallback.TwiML()}
	h.recent.seed = maphash.MakeSeed()
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("convo: Config.PublicURL %q is not an absolute http(s) URL", cfg.PublicURL)
		}
		h.public = u
	}
	_, h.clientHeld = cfg.Store.(ClientHeld)
	cfg.fill()
	h.cfg = cfg
	return h, nil
}

// fill sets the fields of c left to their defaults.
func (c *Config) fill() {
	c.Idle = orDefault(c.Idle, DefaultIdle)
	switch {
	case c.HistorySize == 0:
		c.HistorySize = DefaultHistorySize
	case c.HistorySize < 0:
		c.HistorySize = 0 // none
	}
	c.RetryWindow = orDefault(c.RetryWindow, DefaultRetryWindow)
	c.TurnTimeout = orDefault(c.TurnTimeout, DefaultTurnTimeout)
	c.ReplyTimeout = min(orDefault(c.ReplyTimeout, DefaultReplyTimeout), c.TurnTimeout)
	c.MaxBodyBytes = orDefault(c.MaxBodyBytes, DefaultMaxBodyBytes)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// ServeHTTP answers one webhook; see [Handler] for the answers it gives.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev *Event
	if h.cfg.Observer != nil {
		ev = &Event{}
		start := time.Now()
		defer func() {
			ev.Total = time.Since(start)
			h.cfg.Observer.Observe(r.Context(), ev)
		}()
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, ev, http.StatusMethodNotAllowed, errors.New("method not allowed"))
		return
	}
	form, status, err := readForm(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		h.refuse(w, r, ev, status, err)
		return
	}
	if !h.cfg.InsecureSkipSignatureCheck {
		if err := h.verify(r, form); err != nil {
			h.refuse(w, r, ev, http.StatusForbidden, fmt.Errorf("invalid Twilio signature: %w", err))
			return
		}
	}
	if s, ok := parseStatus(form); ok {
		ev.set(StatusCallback, http.StatusOK, nil)
		if h.cfg.OnStatus != nil {
			h.cfg.OnStatus(r.Context(), s)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	m, err := ParseMessage(form)
	if err != nil {
		h.refuse(w, r, ev, http.StatusBadRequest, err)
		return
	}
	if ev != nil {
		ev.Channel, ev.OptOut = m.Channel, m.OptOut
	}
	id := m.MessageSID
	if id == "" {
		id = r.Header.Get("I-Twilio-Idempotency-Token")
	}
	out, err := h.answer(r, w.Header(), m, id, ev)
	if err != nil {
		h.fail(w, r, ev, m, id, err)
		return
	}
	w.Header()["Content-Type"] = textXML
	_, _ = w.Write(out)
}

// fail answers a turn that could not be run: 500 when the conversation
// cannot be read or saved as it is, 503 when the store failed or the turn
// ran out of time.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, ev *Event, m *Message, id string, err error) {
	status := http.StatusServiceUnavailable
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) {
		status = http.StatusInternalServerError
	}
	ev.set(Failed, status, err)
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "convo: turn failed", slog.Int("status", status),
		slog.String("conversation", m.Key().Redacted()), slog.String("message_sid", id), slog.String("error", err.Error()))
	http.Error(w, http.StatusText(status), status)
}

var textXML = []string{"text/xml"}

const formType = "application/x-www-form-urlencoded"

// readForm reads and parses r's url-encoded body, at most max bytes, and
// sets r.PostForm, without merging the URL's query into it: the signature
// covers only the body's parameters. A form a middleware parsed already is
// taken as it is. On error it returns the status to answer.
func readForm(w http.ResponseWriter, r *http.Request, max int64) (url.Values, int, error) {
	if r.PostForm != nil {
		return r.PostForm, 0, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != formType {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != formType {
			return nil, http.StatusUnsupportedMediaType, errors.New("not a url-encoded form")
		}
	}
	if r.ContentLength > max {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", max)
	}
	body, err := readBody(w, r, max)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", max)
	}
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err)
	}
	form, err := parseForm(body)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("malformed form: %w", err)
	}
	r.PostForm = form
	return form, 0, nil
}

// readBody reads r's body, at most max bytes: in one read of its length
// when it is known, as Twilio's always is.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if n := r.ContentLength; n > 0 {
		body := make([]byte, n)
		_, err := io.ReadFull(r.Body, body)
		return body, err
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, max))
}

// maxParams bounds the parameters of a form; Twilio sends a few dozen.
const maxParams = 1000

// parseForm parses a url-encoded body as url.ParseQuery does, but fails on
// the first error (FuzzParseForm compares them). It decodes body in place
// and cuts every name and value from one string, and the first value of
// every name from one array: a handful of allocations where ParseQuery
// takes two per parameter, and half its time.
func parseForm(body []byte) (url.Values, error) {
	n := bytes.Count(body, []byte("&")) + 1
	if n > maxParams {
		return nil, fmt.Errorf("more than %d parameters", maxParams)
	}
	ends := make([]int, 0, 2*n) // where each name, then each value, ends in the decoded text
	decoded := body[:0]
	for rest := body; len(rest) > 0; {
		var pair []byte
		pair, rest, _ = bytes.Cut(rest, []byte("&"))
		if bytes.IndexByte(pair, ';') >= 0 {
			return nil, errors.New("invalid semicolon separator in query")
		}
		if len(pair) == 0 {
			continue
		}
		name, value, _ := bytes.Cut(pair, []byte("="))
		var err error
		if decoded, err = unescape(decoded, name); err == nil {
			ends = append(ends, len(decoded))
			decoded, err = unescape(decoded, value)
			ends = append(ends, len(decoded))
		}
		if err != nil {
			return nil, err
		}
	}
	text := string(decoded)
	form, values := make(url.Values, n), make([]string, 0, n)
	for i, start := 0, 0; i < len(ends); i, start = i+2, ends[i+1] {
		name, value := text[start:ends[i]], text[ends[i]:ends[i+1]]
		if vs, ok := form[name]; ok {
			form[name] = append(vs, value)
			continue
		}
		values = append(values, value)
		form[name] = values[len(values)-1 : len(values) : len(values)] // capped: an append copies
	}
	return form, nil
}

// unescape appends s decoded as a query component to dst: '+' is a space,
// %XX a byte. dst may be s's array up to s's start, as decoding never
// lengthens. Its errors are url.QueryUnescape's.
func unescape(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c != '%':
			dst = append(dst, c)
		case i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			return dst, url.EscapeError(s[i:min(i+3, len(s))])
		}
	}
	return dst, nil
}

func isHex(c byte) bool { return unhex(c) < 16 }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 16
}

// answer runs the turn of m within the turn timeout and returns the TwiML
// to answer.
func (h *Handler) answer(r *http.Request, header http.Header, m *Message, id string, ev *Event) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.TurnTimeout)
	defer cancel()
	storeCtx := ctx
	if h.clientHeld {
		storeCtx = WithExchange(ctx, &Exchange{Request: r, Header: header})
	}
	var out []byte
	err := h.locked(ctx, m.Key(), ev, func() (err error) {
		out, err = h.turn(ctx, storeCtx, m, id, ev)
		return err
	})
	return out, err
}

// locked runs attempt while holding key's lock in this process, and again
// after each conflict (another server saved first: its state is then
// loaded afresh), waiting up to 1, 2, 4 … 50 ms before each, until attempt
// does not conflict or ctx ends.
func (h *Handler) locked(ctx context.Context, key Key, ev *Event, attempt func() error) error {
	lock, err := h.locks.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("waiting for the conversation's previous turn: %w", err)
	}
	defer h.locks.unlock(key, lock)
	for n := 0; ; n++ {
		err := attempt()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if ev != nil {
			ev.Conflicts++
		}
		wait := time.NewTimer(rand.N(min(time.Millisecond<<min(n, 6), 50*time.Millisecond)))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return fmt.Errorf("%w, and ran out of time: %w", err, ctx.Err())
		}
	}
}

// Conversation returns the conversation of key as the pair's next message
// would find it: a fresh one (Count 0) when nothing is stored, or only a
// conversation that expired or ended. It fails with the store's error, an
// error wrapping ErrCorrupt, or, from a ClientHeld store, which keeps
// conversations only in webhooks, ErrNoExchange.
func (h *Handler) Conversation(ctx context.Context, key Key) (*Conversation, error) {
	c, _, err := h.load(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	if c.ended || h.expired(c, h.cfg.Now()) {
		c = &Conversation{Key: key}
	}
	return c, nil
}

// Update changes the conversation of key outside a webhook (to record a
// message sent later through Twilio's REST API, say) as a turn would: it
// waits for the pair's turn in this process, loads the conversation (fresh
// when it expired or ended), calls fn and saves, unless another server
// saved in between: then it loads again and calls fn again, until ctx ends.
// It counts no message and leaves LastActive as fn leaves it, so the
// conversation expires when it would have; one Update makes starts now. When fn returns an error,
// nothing is saved and Update returns it. fn must not keep c. Update fails
// as Conversation does.
func (h *Handler) Update(ctx context.Context, key Key, fn func(c *Conversation) error) error {
	return h.locked(ctx, key, nil, func() error {
		c, version, err := h.load(ctx, key, nil)
		if err != nil {
			return err
		}
		now := h.cfg.Now()
		if c.ended || h.expired(c, now) {
			c = &Conversation{Key: key, retries: c.retries}
		}
		if err := fn(c); err != nil {
			return err
		}
		if c.LastActive.IsZero() { // a conversation Update makes starts now
			c.Started, c.LastActive = cmp.Or(c.Started, now), now
		}
		return h.save(ctx, c, h.ttl(c, now), version)
	})
}

// turn loads the conversation, answers a retry from its record or runs the
// reply function, and saves. ctx is the reply function's; storeCtx carries
// the exchange too.
func (h *Handler) turn(ctx, storeCtx context.Context, m *Message, id string, ev *Event) ([]byte, error) {
	c, version, err := h.load(storeCtx, m.Key(), ev)
	if err != nil {
		return nil, err
	}
	if out, ok := c.replayed(id); ok {
		ev.set(Replayed, http.StatusOK, nil)
		return out, nil
	}
	now := h.cfg.Now()
	if c.ended || m.OptOut == OptOutStart || h.expired(c, now) {
		c = &Conversation{Key: c.Key, retries: c.retries} // a fresh start; retries still count
	}
	c.Count++
	if c.Started.IsZero() {
		c.Started = now
	}
	c.LastActive = now

	start := ev.clock()
	reply, err := h.callReply(ctx, c, m)
	if ev != nil {
		ev.Reply += time.Since(start)
	}
	if err == nil {
		reply, err = reply.split(h.cfg.LongReplies == RefuseLongReplies)
	}
	if err != nil {
		ev.set(Fallback, http.StatusOK, err)
		h.cfg.Logger.LogAttrs(ctx, slog.LevelError, "convo: answered with the fallback, nothing saved",
			slog.String("conversation", c.Key.Redacted()), slog.String("message_sid", id), slog.String("error", err.Error()))
		return h.fallback, nil
	}
	out, ttl := h.record(c, m, reply, id, now)
	start = ev.clock()
	err = h.save(storeCtx, c, ttl, version)
	if ev != nil {
		ev.Save += time.Since(start)
	}
	if err != nil {
		return nil, err
	}
	ev.set(Answered, http.StatusOK, nil)
	return out, nil
}

// load returns the conversation stored under key and its version.
func (h *Handler) load(ctx context.Context, key Key, ev *Event) (*Conversation, uint64, error) {
	start := ev.clock()
	data, version, err := h.cfg.Store.Load(ctx, key)
	if ev != nil {
		ev.Load += time.Since(start)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("loading: %w", err)
	}
	if data == nil {
		return &Conversation{Key: key}, version, nil
	}
	if c, ok := h.recent.find(key, version); ok {
		return c, version, nil
	}
	c, err := decodeRecord(key, data)
	if err != nil {
		return nil, 0, fmt.Errorf("loading: %w", err)
	}
	return c, version, nil
}

// record ends the turn of m answered with reply: it keeps the turn in
// History and the TwiML as a retry record, and ends the conversation on an
// opt-out. It returns the TwiML and how long the conversation is to live.
func (h *Handler) record(c *Conversation, m *Message, reply Reply, id string, now time.Time) ([]byte, time.Duration) {
	if m.OptOut == OptOutStop {
		// Twilio blocks messages to the phone and confirms itself.
		reply = Reply{}
		c.End()
	}
	out := reply.TwiML()
	if h.cfg.HistorySize > 0 {
		c.History = append(c.History, Turn{At: now, In: m.Body, Out: reply.String()})
		c.History = c.History[max(len(c.History)-h.cfg.HistorySize, 0):]
	} else {
		c.History = nil
	}
	keep := maxRetryRecords
	if h.clientHeld {
		keep = 1 // a retry can match only the record of the cookie Twilio sends
	}
	c.remember(retryRecord{ID: id, At: now, Response: string(out[len(xmlHeader):])}, h.cfg.RetryWindow, keep)
	if c.ended {
		// Only the retry records outlive an ended conversation.
		*c = Conversation{Key: c.Key, ended: true, retries: c.retries}
		return out, h.cfg.RetryWindow
	}
	return out, h.ttl(c, now)
}

// ttl returns how long c is to live from now: until its LastActive (now,
// when it has none) and the idle time, or its Started and the Lifetime,
// whichever comes first; at least a millisecond.
func (h *Handler) ttl(c *Conversation, now time.Time) time.Duration {
	last := c.LastActive
	if last.IsZero() {
		last = now
	}
	ttl := last.Add(h.cfg.Idle).Sub(now)
	if h.cfg.Lifetime > 0 && !c.Started.IsZero() {
		ttl = min(ttl, c.Started.Add(h.cfg.Lifetime).Sub(now))
	}
	return max(ttl, time.Millisecond)
}

// expired reports whether c's time is up at now.
func (h *Handler) expired(c *Conversation, now time.Time) bool {
	return !now.Before(c.LastActive.Add(h.cfg.Idle)) || (h.cfg.Lifetime > 0 && !now.Before(c.Started.Add(h.cfg.Lifetime)))
}

// save stores c's record in place of version prev. When the store finds it
// too large, the oldest History turns are dropped, from c too, until it
// fits or no turn is left.
func (h *Handler) save(ctx context.Context, c *Conversation, ttl time.Duration, prev uint64) error {
	for {
		data, err := encodeRecord(c)
		if err != nil {
			return fmt.Errorf("saving: %w", err)
		}
		next := newVersion(prev)
		err = h.cfg.Store.Save(ctx, c.Key, data, ttl, prev, next)
		if err == nil {
			h.recent.remember(c, next)
			return nil
		}
		if !errors.Is(err, ErrTooLarge) || len(c.History) == 0 {
			return fmt.Errorf("saving: %w", err)
		}
		c.History = c.History[1:]
	}
}

// newVersion returns a random version in [1, 2^63) other than prev: a
// version is then never given twice to one key, not even after its record
// was deleted and made again, so a save from before cannot succeed by
// chance (1 in 2^63).
func newVersion(prev uint64) uint64 {
	for {
		if v := rand.Uint64() >> 1; v != 0 && v != prev {
			return v
		}
	}
}

var errReplyTimeout = errors.New("the reply function ran out of time")

// callReply runs the reply function in a goroutine of its own and waits
// for it until the reply timeout or the end of ctx. A reply function still
// running then is abandoned: it keeps its goroutine until it returns, and
// c, which only it holds from then on, is dropped. A panic becomes an error
// carrying the stack.
func (h *Handler) callReply(ctx context.Context, c *Conversation, m *Message) (Reply, error) {
	type result struct {
		reply Reply
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.err = fmt.Errorf("the reply function panicked: %v\n%s", p, debug.Stack())
			}
			done <- res
		}()
		res.reply, res.err = h.cfg.Reply(ctx, c, m)
		if res.err != nil {
			res.err = fmt.Errorf("the reply function failed: %w", res.err)
		}
	}()
	timer := time.NewTimer(h.cfg.ReplyTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.reply, res.err
	case <-timer.C:
		return Reply{}, fmt.Errorf("%w (%v)", errReplyTimeout, h.cfg.ReplyTimeout)
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("%w: %w", errReplyTimeout, ctx.Err())
	}
}

// refuse answers a request the caller got wrong.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, ev *Event, status int, err error) {
	ev.set(Refused, status, err)
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "convo: refused webhook", slog.Int("status", status),
		slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
	http.Error(w, http.StatusText(status), status)
}
