package main

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
)

// Limits of what the page may ask for.
const (
	maxBodyChars  = 1600 // Twilio's own cap on a message's Body
	maxAddrBytes  = 64   // longer than any phone number or whatsapp: address
	maxURLBytes   = 2048
	maxBurst      = 100
	maxJump       = 30 * 24 * time.Hour
	maxEntries    = 500 // per thread; the oldest are dropped beyond it
	maxPairs      = 1000
	maxAPIBody    = 64 << 10
	cookieLimit   = 4096 // the bytes a cookie is held to, Set-Cookie line included
	maxValueShown = 160  // characters of a cookie's value the panel shows
)

// DefaultTo is the To the page starts with: Twilio's magic test number.
const DefaultTo = "+15005550006"

//go:embed static
var staticFiles embed.FS

// Clock is the dev phone's clock: it ages the cookies Twilio holds, and
// the page's jump buttons move it. convotest.Clock implements it.
type Clock interface {
	Now() time.Time
	Advance(d time.Duration)
}

// offsetClock is the system clock, moved forward by the jumps.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Options configure the dev phone's server.
type Options struct {
	// Webhook is the URL the messages are POSTed to. Ignored when Handler
	// is set.
	Webhook string

	// Handler, when set, answers the messages in process instead of
	// Webhook (the -counter mode); they are signed for PublicURL, or
	// convotest.DefaultWebhookURL.
	Handler http.Handler

	// PublicURL is the URL signed, when the webhook is configured with
	// another one than Webhook (see convo.Config.PublicURL).
	PublicURL string

	// AuthToken signs every request, as Twilio does; empty sends none.
	AuthToken string

	// Clock ages the cookies; nil means the system clock, moved by jumps.
	Clock Clock

	// Client sends the requests to Webhook; nil means one that waits 15
	// seconds for the answer, as Twilio does, and follows no redirect.
	Client *http.Client

	// Logger receives a line for every failed message; nil means
	// slog.Default().
	Logger *slog.Logger

	// LoopbackOnly refuses requests whose Host is not a loopback address
	// or localhost: set when the page is served on a loopback address, so
	// that a web page whose name an attacker points at 127.0.0.1 (DNS
	// rebinding) cannot drive the dev phone.
	LoopbackOnly bool
}

// server is the dev phone: the page, its JSON API, and the fake Twilio
// that texts the webhook.
type server struct {
	tw       *convotest.Twilio
	clock    Clock
	log      *slog.Logger
	webhook  string // shown on the page
	signed   bool
	loopback bool
	mux      *http.ServeMux

	mu     sync.Mutex
	pairs  map[convo.Key]*pair
	order  []convo.Key // pairs in the order first texted
	nextID int
}

// pair is one From/To pair: Twilio's scope for a cookie, and a thread.
type pair struct {
	phone   *convotest.Phone
	entries []Entry
	sent    int            // messages sent, retries and bursts included
	lines   map[string]int // cookie name → bytes of its latest Set-Cookie line
}

func newServer(opts Options) (*server, error) {
	if opts.Clock == nil {
		opts.Clock = &offsetClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	topts := convotest.TwilioOptions{AuthToken: opts.AuthToken, URL: opts.PublicURL, Now: opts.Clock.Now, Client: opts.Client}
	s := &server{clock: opts.Clock, log: opts.Logger, signed: opts.AuthToken != "", loopback: opts.LoopbackOnly, pairs: make(map[convo.Key]*pair)}
	if opts.Handler != nil {
		s.tw = convotest.NewTwilio(opts.Handler, topts)
		s.webhook = s.tw.URL() + " (in process)"
	} else {
		tw, err := convotest.NewTwilioURL(opts.Webhook, topts)
		if err != nil {
			return nil, err
		}
		s.tw = tw
		s.webhook = opts.Webhook
	}

	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for pattern, name := range map[string]string{"GET /{$}": "index.html", "GET /app.js": "app.js", "GET /style.css": "style.css"} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, static, name)
		})
	}
	mux.HandleFunc("GET /api/config", s.handleConfig)
	mux.HandleFunc("GET /api/pairs", s.handlePairs)
	mux.HandleFunc("GET /api/thread", s.handleThread)
	mux.HandleFunc("POST /api/send", s.handleSend)
	mux.HandleFunc("POST /api/retry", s.handleRetry)
	mux.HandleFunc("POST /api/burst", s.handleBurst)
	mux.HandleFunc("POST /api/clock", s.handleClock)
	s.mux = mux
	return s, nil
}

// ServeHTTP serves the page and the API. Every answer forbids framing and
// scripts from elsewhere; media in replies may come from anywhere.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src * data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if s.loopback && !loopbackHost(r.Host) {
		writeError(w, http.StatusMisdirectedRequest, errors.New("the dev phone answers only to localhost and loopback addresses"))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names this machine:
// localhost or a loopback IP, with any port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Entry is one event of a thread: a message sent and its answer, or a
// jump of the clock.
type Entry struct {
	ID   int       `json:"id"`
	Kind string    `json:"kind"` // "message", "retry", "burst" or "clock"
	At   time.Time `json:"at"`   // on the dev phone's clock

	// The message sent.
	Body       string   `json:"body,omitempty"`
	Media      []string `json:"media,omitempty"`
	MessageSID string   `json:"messageSid,omitempty"`
	Burst      string   `json:"burst,omitempty"` // "3/10" for the third of a burst of 10

	// Its answer: the HTTP status (0 when none came), what Twilio would
	// log when it failed, and the TwiML's messages and redirect.
	Status   int        `json:"status,omitempty"`
	Error    string     `json:"error,omitempty"`
	Replies  []Outgoing `json:"replies,omitempty"`
	Redirect *Redirect  `json:"redirect,omitempty"`
	Millis   int64      `json:"ms,omitempty"` // how long the answer took, in real time

	Note string `json:"note,omitempty"` // for a clock jump
}

// Outgoing is one <Message> of an answer: its text, media and the
// attributes Twilio defines (empty when absent).
type Outgoing struct {
	Body           string   `json:"body"`
	Media          []string `json:"media,omitempty"`
	To             string   `json:"to,omitempty"`
	From           string   `json:"from,omitempty"`
	Action         string   `json:"action,omitempty"`
	Method         string   `json:"method,omitempty"`
	StatusCallback string   `json:"statusCallback,omitempty"`
}

// Redirect is an answer's <Redirect>, which the dev phone shows and does
// not follow. Method is as the answer gave it; empty means Twilio's POST.
type Redirect struct {
	URL    string `json:"url"`
	Method string `json:"method,omitempty"`
}

// CookieView is what the side panel shows of one cookie of a pair.
type CookieView struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`     // at most maxValueShown characters
	Truncated bool      `json:"truncated"` // Value was cut
	Bytes     int       `json:"bytes"`     // name=value, as sent back in Cookie
	LineBytes int       `json:"lineBytes"` // its latest "Set-Cookie: …" line, 0 if unknown
	Limit     int       `json:"limit"`     // 4096
	ExpiresAt time.Time `json:"expiresAt"`
	ExpiresIn string    `json:"expiresIn"` // on the dev phone's clock, such as "3h59m"
}

// Thread is a pair's thread and cookie, as the page shows them.
type Thread struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Now     time.Time    `json:"now"`
	Entries []Entry      `json:"entries"`
	Cookies []CookieView `json:"cookies"`
	// Gone names the cookies the webhook set that Twilio no longer holds:
	// expired or deleted.
	Gone []string `json:"gone,omitempty"`
}

// PairView is one line of the list of threads.
type PairView struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Name  string `json:"name,omitempty"`
	Sent  int    `json:"sent"`
	Label string `json:"label"`
}

// Preset is a phone the page offers.
type Preset struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// presets are the seed's people, in the guide's order.
var presets = []Preset{{"Rey", "+14158675308"}, {"Finn", "+12349013030"}, {"Chewy", "+12348134522"}}

func presetName(number string) string {
	for _, p := range presets {
		if p.Number == number {
			return p.Name
		}
	}
	return ""
}

// Config is what the page needs to start.
type Config struct {
	Webhook   string    `json:"webhook"`
	Signed    bool      `json:"signed"`
	Presets   []Preset  `json:"presets"`
	DefaultTo string    `json:"defaultTo"`
	Now       time.Time `json:"now"`
	MaxBurst  int       `json:"maxBurst"`
	Limit     int       `json:"cookieLimit"`
}

func (s *server) handleConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Config{
		Webhook: s.webhook, Signed: s.signed, Presets: presets, DefaultTo: DefaultTo,
		Now: s.clock.Now(), MaxBurst: maxBurst, Limit: cookieLimit,
	})
}

func (s *server) handlePairs(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]PairView, 0, len(s.order))
	for _, k := range s.order {
		name := presetName(k.From)
		label := k.From
		if name != "" {
			label = name + " " + k.From
		}
		out = append(out, PairView{From: k.From, To: k.To, Name: name, Sent: s.pairs[k].sent, Label: label + " → " + k.To})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *server) handleThread(w http.ResponseWriter, r *http.Request) {
	key, err := parseKey(r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, s.thread(key))
}

// SendRequest asks for one message.
type SendRequest struct {
	From  string   `json:"from"`
	To    string   `json:"to"`
	Body  string   `json:"body"`
	Media []string `json:"media"`
}

// BurstRequest asks for N messages at once; message i's text is Body
// followed by " (i/N)".
type BurstRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
	N    int    `json:"n"`
}

// PairRequest names a pair (retry).
type PairRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ClockRequest jumps the clock by Advance, a Go duration such as "4h".
type ClockRequest struct {
	Advance string `json:"advance"`
	// From and To, when set, name the pair whose thread is answered.
	From string `json:"from"`
	To   string `json:"to"`
}

func (s *server) handleSend(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	if !readJSON(w, r, &req) {
		return
	}
	key, m, err := req.parse()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p, err := s.pair(key)
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	start := time.Now()
	reply, err := p.phone.SendMessage(r.Context(), m)
	e := Entry{Kind: "message", Body: m.Body}
	for _, md := range m.Media {
		e.Media = append(e.Media, md.URL)
	}
	s.record(key, []Entry{s.answer(e, key, reply, err, time.Since(start))})
	writeJSON(w, http.StatusOK, s.thread(key))
}

func (s *server) handleRetry(w http.ResponseWriter, r *http.Request) {
	var req PairRequest
	if !readJSON(w, r, &req) {
		return
	}
	key, err := parseKey(req.From, req.To)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	s.mu.Lock()
	p := s.pairs[key]
	s.mu.Unlock()
	if p == nil {
		writeError(w, http.StatusConflict, convotest.ErrNoMessage)
		return
	}
	start := time.Now()
	reply, err := p.phone.Retry(r.Context())
	if errors.Is(err, convotest.ErrNoMessage) {
		writeError(w, http.StatusConflict, err)
		return
	}
	e := Entry{Kind: "retry"}
	if reply != nil {
		e.Body = reply.Form.Get("Body")
		e.Media = mediaOf(reply.Form)
	}
	s.record(key, []Entry{s.answer(e, key, reply, err, time.Since(start))})
	writeJSON(w, http.StatusOK, s.thread(key))
}

func (s *server) handleBurst(w http.ResponseWriter, r *http.Request) {
	var req BurstRequest
	if !readJSON(w, r, &req) {
		return
	}
	key, err := req.parse()
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p, err := s.pair(key)
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	text := func(i int) string { return burstText(req.Body, i, req.N) }
	replies, err := p.phone.Burst(r.Context(), req.N, text)
	// Burst joins the errors of its messages; split them back by index.
	errs := make([]error, req.N)
	if err != nil {
		for i := range errs {
			errs[i] = burstError(err, i)
		}
	}
	entries := make([]Entry, req.N)
	for i, rep := range replies {
		e := Entry{Kind: "burst", Body: text(i), Burst: strconv.Itoa(i+1) + "/" + strconv.Itoa(req.N)}
		entries[i] = s.answer(e, key, rep, errs[i], 0) // no time of its own: they overlap
	}
	s.record(key, entries)
	writeJSON(w, http.StatusOK, s.thread(key))
}

// burstError finds message i's error among the joined errors of a burst.
func burstError(err error, i int) error {
	prefix := fmt.Sprintf("burst message %d: ", i)
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			if e != nil && strings.HasPrefix(e.Error(), prefix) {
				return e
			}
		}
	}
	return nil
}

func burstText(body string, i, n int) string {
	if body == "" {
		return fmt.Sprintf("burst %d/%d", i+1, n)
	}
	return fmt.Sprintf("%s (%d/%d)", body, i+1, n)
}

func (s *server) handleClock(w http.ResponseWriter, r *http.Request) {
	var req ClockRequest
	if !readJSON(w, r, &req) {
		return
	}
	d, err := parseJump(req.Advance)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var key convo.Key
	if req.From != "" || req.To != "" {
		if key, err = parseKey(req.From, req.To); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	s.clock.Advance(d)
	now := s.clock.Now()
	note := fmt.Sprintf("Clock jumped %s, to %s. Twilio's cookies age with it: each expires 4 hours at most after it was last set.", formatDuration(d), now.Format("Mon 15:04 MST"))
	s.mu.Lock()
	for _, k := range s.order {
		s.appendLocked(k, Entry{Kind: "clock", At: now, Note: note})
	}
	s.mu.Unlock()
	if key == (convo.Key{}) {
		writeJSON(w, http.StatusOK, map[string]any{"now": now})
		return
	}
	writeJSON(w, http.StatusOK, s.thread(key))
}

// answer fills e with the answer to one message and logs a failure.
func (s *server) answer(e Entry, key convo.Key, reply *convotest.Reply, err error, took time.Duration) Entry {
	e.Millis = took.Milliseconds()
	if reply != nil {
		e.MessageSID = reply.Form.Get("MessageSid")
		e.Status = reply.Status
		for _, m := range reply.Messages {
			e.Replies = append(e.Replies, Outgoing{Body: m.Body, Media: m.Media, To: m.To, From: m.From,
				Action: m.Action, Method: m.Method, StatusCallback: m.StatusCallback})
		}
		if rd := reply.Redirect; rd != nil {
			e.Redirect = &Redirect{URL: rd.URL, Method: rd.Method}
		}
		s.noteCookies(key, reply.Header)
	}
	switch {
	case reply == nil && err != nil:
		e.Error = "no answer (Twilio error 11200): " + err.Error()
	case err != nil:
		e.Error = "HTTP " + strconv.Itoa(reply.Status) + " but not valid TwiML (Twilio error 12100): " + err.Error()
	case reply.Status < 200 || reply.Status > 299:
		e.Error = "HTTP " + strconv.Itoa(reply.Status) + " " + http.StatusText(reply.Status) + " (Twilio error 11200)"
		if line := firstLine(reply.Body); line != "" {
			e.Error += ": " + line
		}
	}
	if e.Error != "" {
		s.log.Warn("webhook failed", "pair", key.Redacted(), "status", e.Status, "error", redactError(e.Error, key))
	}
	return e
}

// redactError keeps full phone numbers out of a log line.
func redactError(msg string, key convo.Key) string {
	for _, a := range []string{key.From, key.To} {
		if a != "" {
			msg = strings.ReplaceAll(msg, a, convo.Redact(a))
		}
	}
	return msg
}

// noteCookies remembers the size of each Set-Cookie line of an answer.
func (s *server) noteCookies(key convo.Key, h http.Header) {
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pairs[key]
	for _, line := range lines {
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		p.lines[strings.TrimSpace(name)] = len("Set-Cookie: ") + len(line)
	}
}

// pair returns key's pair, creating it unless there are maxPairs already.
func (s *server) pair(key convo.Key) (*pair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pairs[key]
	if p == nil {
		if len(s.pairs) >= maxPairs {
			return nil, fmt.Errorf("the dev phone holds at most %d threads; restart it to start over", maxPairs)
		}
		p = &pair{phone: s.tw.Phone(key.From, key.To), lines: make(map[string]int)}
		s.pairs[key] = p
		s.order = append(s.order, key)
	}
	return p, nil
}

// record appends the entries of messages sent to key's thread.
func (s *server) record(key convo.Key, entries []Entry) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		e.At = now
		s.pairs[key].sent++
		s.appendLocked(key, e)
	}
}

func (s *server) appendLocked(key convo.Key, e Entry) {
	p := s.pairs[key]
	s.nextID++
	e.ID = s.nextID
	p.entries = append(p.entries, e)
	if n := len(p.entries); n > maxEntries {
		p.entries = append(p.entries[:0:0], p.entries[n-maxEntries:]...)
	}
}

// thread returns key's thread and the cookies Twilio holds for it.
func (s *server) thread(key convo.Key) Thread {
	now := s.clock.Now()
	t := Thread{From: key.From, To: key.To, Now: now, Entries: []Entry{}, Cookies: []CookieView{}}
	s.mu.Lock()
	p := s.pairs[key]
	var lines map[string]int
	if p != nil {
		t.Entries = append(t.Entries, p.entries...)
		lines = make(map[string]int, len(p.lines))
		for k, v := range p.lines {
			lines[k] = v
		}
	}
	s.mu.Unlock()
	held := make(map[string]bool)
	for _, c := range s.tw.Jar().Cookies(key) {
		exp, ok := s.tw.Jar().ExpiresAt(key, c.Name)
		if !ok {
			continue
		}
		held[c.Name] = true
		v := CookieView{Name: c.Name, Value: c.Value, Bytes: len(c.Name) + 1 + len(c.Value), LineBytes: lines[c.Name],
			Limit: cookieLimit, ExpiresAt: exp, ExpiresIn: formatDuration(exp.Sub(now))}
		if utf8.RuneCountInString(v.Value) > maxValueShown {
			v.Value, v.Truncated = string([]rune(v.Value)[:maxValueShown]), true
		}
		t.Cookies = append(t.Cookies, v)
	}
	for name := range lines {
		if !held[name] {
			t.Gone = append(t.Gone, name)
		}
	}
	return t
}

// parse checks a send request and builds its message.
func (req SendRequest) parse() (convo.Key, convotest.Message, error) {
	key, err := parseKey(req.From, req.To)
	if err != nil {
		return key, convotest.Message{}, err
	}
	if err := checkBody(req.Body); err != nil {
		return key, convotest.Message{}, err
	}
	m := convotest.Message{Body: req.Body}
	if len(req.Media) > convo.MaxMedia {
		return key, m, fmt.Errorf("%d media URLs; Twilio sends at most %d with a message", len(req.Media), convo.MaxMedia)
	}
	for _, raw := range req.Media {
		u := strings.TrimSpace(raw)
		if err := checkMediaURL(u); err != nil {
			return key, m, err
		}
		m.Media = append(m.Media, convo.Media{URL: u})
	}
	if m.Body == "" && len(m.Media) == 0 {
		return key, m, errors.New("nothing to send: write a text or give a media URL")
	}
	return key, m, nil
}

func (req BurstRequest) parse() (convo.Key, error) {
	key, err := parseKey(req.From, req.To)
	if err != nil {
		return key, err
	}
	if req.N < 1 || req.N > maxBurst {
		return key, fmt.Errorf("a burst is 1 to %d messages, not %d", maxBurst, req.N)
	}
	return key, checkBody(burstText(req.Body, req.N-1, req.N))
}

func checkBody(body string) error {
	if !utf8.ValidString(body) {
		return errors.New("the text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(body); n > maxBodyChars {
		return fmt.Errorf("the text has %d characters; Twilio caps a message at %d", n, maxBodyChars)
	}
	return nil
}

func checkMediaURL(u string) error {
	if len(u) > maxURLBytes {
		return fmt.Errorf("a media URL is %d bytes; at most %d", len(u), maxURLBytes)
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Errorf("media URL %q is not an absolute http(s) URL", u)
	}
	return nil
}

// parseKey checks a From and a To: phone numbers or channel addresses such
// as whatsapp:+14158675308, without spaces or control characters.
func parseKey(from, to string) (convo.Key, error) {
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	for _, a := range []struct{ name, v string }{{"From", from}, {"To", to}} {
		if a.v == "" {
			return convo.Key{}, fmt.Errorf("%s is empty: give a number such as +14158675308", a.name)
		}
		if len(a.v) > maxAddrBytes {
			return convo.Key{}, fmt.Errorf("%s is %d bytes long; at most %d", a.name, len(a.v), maxAddrBytes)
		}
		if !utf8.ValidString(a.v) || strings.IndexFunc(a.v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return convo.Key{}, fmt.Errorf("%s holds spaces or control characters", a.name)
		}
	}
	return convo.Key{From: from, To: to}, nil
}

// parseJump reads a jump of the clock: a positive Go duration of at most
// 30 days.
func parseJump(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 || d > maxJump {
		return 0, fmt.Errorf("jump by a positive duration up to %s, such as 1h or 4h, not %q", formatDuration(maxJump), s)
	}
	return d, nil
}

// formatDuration writes d without trailing zero units: 4h, 3h59m, 45s.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func mediaOf(f url.Values) []string {
	n, _ := strconv.Atoi(f.Get("NumMedia"))
	var out []string
	for i := range min(n, convo.MaxMedia) {
		out = append(out, f.Get("MediaUrl"+strconv.Itoa(i)))
	}
	return out
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// readJSON decodes the request's JSON body into v, answering 415 or 400
// and returning false when it cannot. It insists on application/json, which
// a page of another site cannot send without the browser asking first, and
// refuses requests a browser marks as cross-site.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		writeError(w, http.StatusForbidden, errors.New("cross-site requests are refused"))
		return false
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Errorf("send application/json, not %q", ct))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, fmt.Errorf("bad JSON: %w", err))
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, errors.New("bad JSON: more than one value"))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// APIError is the body of every API answer other than 200.
type APIError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, APIError{Error: err.Error()})
}
