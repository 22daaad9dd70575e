package cookiestore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/smsconvo/convo"
)

// Defaults and limits.
const (
	// DefaultCookieName is the cookie's name unless Options say otherwise.
	DefaultCookieName = "convo"

	// MaxLine is the most bytes the whole Set-Cookie header line
	// ("Set-Cookie: " included) may take: the 4096 bytes cookies are held to.
	MaxLine = 4096

	// MaxAge is the longest Max-Age the store sets: Twilio keeps a
	// messaging cookie at most four hours after it was last set.
	MaxAge = 4 * time.Hour

	// DefaultEndedRetention is how long the cookie of an ended conversation
	// keeps the retry records unless Options say otherwise.
	DefaultEndedRetention = 2 * time.Minute
)

// Options configure a Store. Keys is required.
type Options struct {
	// Keys sign and encrypt the cookie, newest first: cookies are written
	// with Keys[0] and read with any of them, so a new pair is rolled out
	// by putting it first and an old one retired by removing it (its
	// cookies then start fresh conversations). See ParseKeys for their
	// text form.
	Keys []KeyPair

	// Expiry says when conversations expire, by default after 4 idle
	// hours. It is judged from the times inside the cookie with
	// Expiry.Now, and the cookie's Max-Age follows it, capped at MaxAge:
	// an Idle longer than 4 hours cannot work, as Twilio drops the cookie.
	Expiry convo.Expiry

	// CookieName is the cookie's name; "" means DefaultCookieName.
	CookieName string

	// Path is the cookie's Path attribute; "" means "/".
	Path string

	// Insecure leaves out the Secure attribute, for a webhook served over
	// plain HTTP during local development. Twilio's docs trust a cookie
	// only over HTTPS.
	Insecure bool

	// EndedRetention is how long the cookie of an ended conversation
	// keeps its retry records, so that Twilio's retries of the ending
	// message get the same answer; 0 means DefaultEndedRetention,
	// negative expires the cookie at once.
	EndedRetention time.Duration

	// Logger receives a debug line for every cookie that is refused
	// (tampered, truncated, expired, another pair's, signed with a
	// retired key, of an unknown format) and for trimmed history; nil
	// means slog.Default(). Lines never hold the cookie or phone numbers.
	Logger *slog.Logger
}

// Store keeps each conversation in the webhook's cookie. Create it with
// New; it is safe for concurrent use. It keeps no conversation of its own:
// it only remembers the last cookie values it signed or verified, to skip
// decrypting them again (see the package doc), and needs no Close.
type Store struct {
	codecs         []*securecookie.SecureCookie
	seed           maphash.Seed
	verified       [verifiedSlots]atomic.Pointer[verifiedCookie]
	lastAttrs      atomic.Pointer[attrs]
	expiry         convo.Expiry
	name           string
	path           string
	secure         bool
	endedRetention time.Duration
	log            *slog.Logger
}

// New returns a Store. It fails when opts has no keys or a key of the
// wrong length, or a CookieName or Path a cookie cannot carry.
func New(opts Options) (*Store, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("cookiestore: Options.Keys is required (see GenerateKeyPair, ParseKeys)")
	}
	s := &Store{
		expiry:         opts.Expiry,
		name:           opts.CookieName,
		path:           opts.Path,
		secure:         !opts.Insecure,
		endedRetention: opts.EndedRetention,
		log:            opts.Logger,
		seed:           maphash.MakeSeed(),
	}
	for i, p := range opts.Keys {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w (key pair %d)", err, i+1)
		}
		sc := securecookie.New(p.Hash, p.Block).
			SetSerializer(securecookie.NopEncoder{}).
			MaxAge(0).   // expiry is judged from the times inside the value, on Expiry's clock
			MaxLength(0) // the store checks lengths itself, against MaxLine
		s.codecs = append(s.codecs, sc)
	}
	if s.name == "" {
		s.name = DefaultCookieName
	}
	if s.path == "" {
		s.path = "/"
	}
	if s.endedRetention == 0 {
		s.endedRetention = DefaultEndedRetention
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	probe := &http.Cookie{Name: s.name, Value: "x", Path: s.path}
	if err := probe.Valid(); err != nil || strings.ContainsFunc(s.path, func(r rune) bool { return r < 0x20 || r == ';' || r >= 0x7f }) {
		return nil, fmt.Errorf("cookiestore: cookie name %q or path %q cannot be used", s.name, s.path)
	}
	return s, nil
}

// macName is the name securecookie signs a value under: the cookie name
// and the conversation key (injectively: From's length comes first), so a
// cookie moved to another From/To pair fails its MAC as if tampered.
func (s *Store) macName(key convo.Key) string {
	return s.name + "|" + strconv.Itoa(len(key.From)) + "|" + key.From + key.To
}

// exchange returns the HTTP exchange in ctx, after checking ctx.
func exchange(ctx context.Context, op string, key convo.Key) (*convo.Exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cookiestore: %s %s: %w", op, key.Redacted(), err)
	}
	x, ok := convo.ExchangeFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("cookiestore: %s %s: %w", op, key.Redacted(), convo.ErrNoExchange)
	}
	return x, nil
}

// read finds the request's cookie for key and returns its decrypted
// record, when one is valid and unexpired. With logging off it says
// nothing (Save reads what Load already logged).
func (s *Store) read(ctx context.Context, x *convo.Exchange, key convo.Key, now time.Time, logging bool) *verifiedCookie {
	if x.Request == nil {
		return nil
	}
	var reason error
	tries := 0
	for _, line := range x.Request.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != s.name {
				continue
			}
			if tries++; tries > maxTries {
				break // a client sending more is not Twilio: spend no more on it
			}
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			v, err := s.decode(key, value, now)
			if err == nil {
				return v
			}
			reason = err
		}
	}
	if reason != nil && logging {
		s.log.LogAttrs(ctx, slog.LevelDebug, "cookiestore: cookie refused, starting a fresh conversation",
			slog.String("conversation", key.Redacted()), slog.String("reason", reason.Error()))
	}
	return nil
}

var (
	errTooLong   = errors.New("cookie longer than a cookie can be")
	errForged    = errors.New("cookie fails its signature: tampered, truncated, another pair's, or signed with a retired key")
	errExpired   = errors.New("conversation expired")
	errNotBase64 = errors.New("cookie is not base64: truncated or tampered")
)

// maxTries is how many cookies of the store's name a request may carry that
// are checked; Twilio sends one.
const maxTries = 3

// verifiedSlots is the size of the cache of recently verified cookies.
const verifiedSlots = 256

// verifiedCookie is a cookie value that passed its MAC for key (or that
// this store has just signed for key), with its decrypted record. Save
// reads the cookie Load has just verified, and the next message of a pair
// usually brings back the value the last answer set; the cache spares both
// a decryption. A hit needs the very same value and key, so it proves what
// a verification would. Entries are replaced, never expired: expiry is
// checked on every use. An entry is never changed once stored, so the
// requests that find it share it.
type verifiedCookie struct {
	value string
	key   convo.Key
	mac   string // the name the value is signed under: s.macName(key)
	h     header
	body  []byte
}

// decode checks, decrypts and parses the header of one cookie value, and
// checks that it has not expired.
func (s *Store) decode(key convo.Key, value string, now time.Time) (*verifiedCookie, error) {
	v, err := s.verify(key, value)
	if err != nil {
		return nil, err
	}
	h := &v.h
	if !now.Before(h.expiresAt) || (!h.lastActive.IsZero() &&
		!now.Before(s.expiry.ExpiresAt(&convo.Conversation{Started: h.started, LastActive: h.lastActive}))) {
		return nil, errExpired
	}
	return v, nil
}

// verify checks and decrypts one cookie value and parses its header.
func (s *Store) verify(key convo.Key, value string) (*verifiedCookie, error) {
	if len(value) > MaxLine {
		return nil, errTooLong
	}
	slot := s.slot(value)
	if v := slot.Load(); v != nil && v.key == key && sameValue(v.value, value) {
		return v, nil
	}
	// The plaintext is decoded into the entry this value will be cached as.
	v := &verifiedCookie{value: value, key: key, mac: s.macName(key)}
	var err error
	for _, codec := range s.codecs {
		if err = codec.Decode(v.mac, value, &v.body); err == nil {
			break
		}
	}
	if err != nil {
		var se securecookie.Error
		if errors.As(err, &se) && se.Cause() != nil {
			return nil, errNotBase64
		}
		return nil, errForged
	}
	if v.h, v.body, err = parseHeader(v.body); err != nil {
		return nil, err
	}
	slot.Store(v)
	return v, nil
}

// sameValue reports whether a and b are the same cookie value. The end of
// a value is the base64 of its MAC's last 18 bytes; it is compared in
// constant time first, so that timing reveals nothing of a cached value to
// whoever does not already hold its MAC.
func sameValue(a, b string) bool {
	const tail = 24
	if len(a) != len(b) || len(a) < tail {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a[len(a)-tail:]), []byte(b[len(b)-tail:])) == 1 && a == b
}

// slot returns the cache slot of a value. Only its end is hashed: that is
// the base64 of its MAC, as good as random.
func (s *Store) slot(value string) *atomic.Pointer[verifiedCookie] {
	return &s.verified[maphash.String(s.seed, value[max(0, len(value)-24):])%verifiedSlots]
}

// remember caches a value this store has just signed, with its record.
// The cache then holds at most verifiedSlots × 8 KiB (a 4 KiB value and at
// most as much plaintext, unless compressed).
func (s *Store) remember(value string, key convo.Key, mac string, h header, body []byte) {
	s.slot(value).Store(&verifiedCookie{value: value, key: key, mac: mac, h: h, body: body})
}

// retryRecords is what DefaultRetryRecords returns.
const retryRecords = 1

// DefaultRetryRecords returns 1: how many retry records a convo.Handler
// keeps with this store when its Config.RetryRecords is 0. A cookie comes
// back only after Twilio has taken the answer that set it, and Twilio
// retries only messages it got no answer for, so older messages' records
// in a cookie can never match a retry (see "What a client-held store
// cannot guarantee" in the package doc). The newest one still answers a
// message delivered again with its own answer's cookie (a duplicate, or a
// replay) with the same TwiML, counting nothing. Every further record
// costs its message id and reply in each cookie (about 45 bytes of the
// counter's Set-Cookie line) and the time to encrypt and decrypt them; set
// Config.RetryRecords to keep more. A Store wrapped in a type of your own
// (for metrics, say) hides this method from the Handler, which then keeps
// its own default of 6: set Config.RetryRecords to 1 there.
func (s *Store) DefaultRetryRecords() int { return retryRecords }

// Load returns the conversation in the request's cookie for key. A missing,
// expired, tampered, truncated, unreadable or other pair's cookie, or one
// signed with a key no longer in Options.Keys, gives a fresh conversation
// (Version 0) and no error; all but a missing one are logged at debug
// level. Load never returns convo.ErrCorrupt: a client-held record cannot
// be kept "as it is" for inspection, and a webhook must not fail for what a
// client sends. The cookie of an ended conversation loads as the fresh
// conversation that follows it, holding only the retry records. Load fails
// only when ctx is done or carries no exchange (convo.ErrNoExchange).
func (s *Store) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	x, err := exchange(ctx, "loading", key)
	if err != nil {
		return nil, err
	}
	v := s.read(ctx, x, key, s.expiry.Time(), true)
	if v == nil {
		return convo.NewConversation(key), nil
	}
	c, err := parseBody(&v.h, v.body, key)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "cookiestore: cookie refused, starting a fresh conversation",
			slog.String("conversation", key.Redacted()), slog.String("reason", err.Error()))
		// Fresh, but with the cookie's version: Save reads the same
		// header and must let this conversation replace it.
		c = convo.NewConversation(key)
		c.Version = v.h.version
	}
	return c, nil
}

// Save sets the answer's cookie to c, replacing any Set-Cookie of this
// store's cookie already in the answer's header, so the answer carries
// exactly one. It saves only if c.Version equals the version of the
// request's cookie (0 when Load found none usable), and otherwise returns
// an error wrapping convo.ErrConflict, writing nothing: this catches a
// conversation saved with another request than it was loaded with, but
// cannot see saves answered to other requests (see the package doc).
//
// The cookie's Max-Age is the time until c expires (convo.Expiry), at most
// MaxAge. When the cookie would make the Set-Cookie line longer than
// MaxLine, Save first compresses the record, then drops the oldest History
// turns (from c too) until it fits; when the rest alone cannot fit it
// returns a *TooLargeError (matching convo.ErrTooLarge) and writes nothing.
//
// An ended conversation (c.Ended) keeps only its retry records, for
// Options.EndedRetention; without retry records, with a negative
// EndedRetention, or when the records alone do not fit, its cookie is
// expired at once.
func (s *Store) Save(ctx context.Context, c *convo.Conversation) error {
	x, err := exchange(ctx, "saving", c.Key)
	if err != nil {
		return err
	}
	now := s.expiry.Time()
	var current uint64
	var mac string
	if v := s.read(ctx, x, c.Key, now, false); v != nil {
		current, mac = v.h.version, v.mac
	} else {
		mac = s.macName(c.Key)
	}
	if current != c.Version {
		return fmt.Errorf("cookiestore: saving %s at version %d, the request's cookie holds %d: %w",
			c.Key.Redacted(), c.Version, current, convo.ErrConflict)
	}
	version := rand.Uint64()
	for version == 0 || version == current {
		version = rand.Uint64()
	}
	rec := c
	if c.Ended {
		if s.endedRetention < 0 || len(c.Handled) == 0 {
			s.setLine(x.Header, s.expired())
			c.Version = version
			return nil
		}
		// Only the retry records outlive the conversation; the next Load
		// gets them in a fresh conversation.
		rec = &convo.Conversation{Key: c.Key, Handled: c.Handled}
	}
	h := header{version: version, savedAt: now, expiresAt: s.expiry.ExpiresAt(rec), started: rec.Started, lastActive: rec.LastActive}
	if c.Ended {
		h.flags |= flagEnded
		h.expiresAt = minTime(h.expiresAt, now.Add(s.endedRetention))
	}
	maxAge := int((min(h.expiresAt.Sub(now), MaxAge) + time.Second - 1) / time.Second) // rounded up
	if maxAge <= 0 {
		maxAge = -1 // expired already: nothing to keep
	}
	attrs := s.attributes(maxAge)
	overhead := len("Set-Cookie: ") + len(s.name) + 1 + len(attrs)

	buf := plainBufs.Get().(*[]byte)
	plain, dropped, err := s.fit(&h, rec, MaxLine-overhead, (*buf)[:0])
	if err != nil {
		if c.Ended { // the retry records do not fit: let them go with the conversation
			s.setLine(x.Header, s.expired())
			c.Version = version
			return nil
		}
		var tl *TooLargeError
		if errors.As(err, &tl) {
			tl.Key = c.Key
			tl.Size += overhead
		}
		return err
	}
	vh, body, _ := parseHeader(plain)
	body = bytes.Clone(body) // Encode encrypts plain in place
	value, err := s.codecs[0].Encode(mac, plain)
	if cap(plain) <= 4<<10 {
		*buf = plain[:0]
		plainBufs.Put(buf) // Encode keeps no reference to it
	}
	if err != nil {
		return fmt.Errorf("cookiestore: saving %s: %w", c.Key.Redacted(), err)
	}
	if n := overhead + len(value); n > MaxLine { // fit predicts the length exactly; this is a guard
		return &TooLargeError{Key: c.Key, Size: n, Limit: MaxLine, State: len(c.State), Retry: retrySize(c)}
	}
	// The value is base64 and the name and path were checked by New, so
	// the line is built directly rather than through http.Cookie, which
	// would scan the whole value again.
	line := s.name + "=" + value + attrs
	if dropped > 0 { // never for an ended conversation: rec has no history
		c.History = c.History[dropped:]
		s.log.LogAttrs(ctx, slog.LevelDebug, "cookiestore: dropped the oldest history turns to fit the cookie",
			slog.String("conversation", c.Key.Redacted()), slog.Int("dropped", dropped))
	}
	s.setLine(x.Header, line)
	c.Version = version
	// The pair's next message most likely carries this value back: know it.
	s.remember(value, c.Key, mac, vh, body)
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// fit encodes c into the smallest plaintext whose cookie value takes at most
// limit bytes: uncompressed if it fits, else compressed, else without the
// oldest History turns, as few dropped as will do. It returns the
// plaintext (in buf when it fits there uncompressed and whole) and how
// many turns it dropped.
func (s *Store) fit(h *header, c *convo.Conversation, limit int, buf []byte) ([]byte, int, error) {
	ref := h.savedAt.UnixMilli()
	try := func(drop int, buf []byte) ([]byte, bool) {
		if historyText(c.History[drop:]) > maxBody { // Load would refuse it
			return buf, false
		}
		hh := *h
		buf = appendHeader(buf, &hh)
		n := len(buf)
		buf = appendBody(buf, c, c.History[drop:], ref)
		if valueLen(len(buf)) <= limit {
			return buf, true
		}
		if len(buf)-n > maxBody { // Load would refuse to inflate it
			return buf, false
		}
		hh.flags |= flagCompressed
		z := appendHeader(make([]byte, 0, 256+len(buf)/2), &hh)
		z = deflate(z, buf[n:])
		return z, valueLen(len(z)) <= limit
	}
	if b, ok := try(0, buf); ok {
		return b, 0, nil
	}
	// Binary search for the fewest dropped turns that fit.
	lo, hi := 1, len(c.History)
	var best []byte
	bestDrop := -1
	for lo <= hi {
		mid := (lo + hi) / 2
		if b, ok := try(mid, nil); ok {
			best, bestDrop, hi = b, mid, mid-1
		} else {
			lo = mid + 1
		}
	}
	if bestDrop >= 0 {
		return best, bestDrop, nil
	}
	b, _ := try(len(c.History), nil)
	return nil, 0, &TooLargeError{Size: valueLen(len(b)), Limit: MaxLine, State: len(c.State), Retry: retrySize(c)}
}

// plainBufs holds buffers for plaintexts, which live only until encrypted.
var plainBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// valueLen returns the length of the cookie value securecookie makes of an
// n-byte plaintext: base64(date "|" base64(iv + ciphertext) "|" mac), the
// date being Unix seconds in 10 digits (until the year 2286; Save checks
// the real length too).
func valueLen(n int) int {
	b64 := func(n int) int { return (n + 2) / 3 * 4 }
	return b64(10 + 1 + b64(16+n) + 1 + 32)
}

func historyText(h []convo.Turn) int {
	n := 0
	for _, t := range h {
		n += len(t.In) + len(t.Out)
	}
	return n
}

func retrySize(c *convo.Conversation) int {
	n := 0
	for _, h := range c.Handled {
		n += len(h.ID) + len(h.Reply)
	}
	return n
}

// Delete expires the pair's cookie. It always succeeds when ctx carries an
// exchange: a missing cookie is no error.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	x, err := exchange(ctx, "deleting", key)
	if err != nil {
		return err
	}
	s.setLine(x.Header, s.expired())
	return nil
}

// attributes returns the cookie's attributes as they follow its value in
// the Set-Cookie line; a negative maxAge expires the cookie.
func (s *Store) attributes(maxAge int) string {
	if maxAge < 0 {
		maxAge = 0 // "Max-Age=0": expire now
	}
	if a := s.lastAttrs.Load(); a != nil && a.maxAge == maxAge {
		return a.s // most answers repeat the last one's Max-Age
	}
	a := "; Path=" + s.path + "; Max-Age=" + strconv.Itoa(maxAge) + "; HttpOnly"
	if s.secure {
		a += "; Secure"
	}
	s.lastAttrs.Store(&attrs{maxAge, a})
	return a
}

type attrs struct {
	maxAge int
	s      string
}

// expired returns the Set-Cookie line that removes the cookie.
func (s *Store) expired() string { return s.name + "=" + s.attributes(-1) }

// setLine sets line as the only Set-Cookie of this store's cookie in h,
// keeping those of other cookies.
func (s *Store) setLine(h http.Header, line string) {
	old := h["Set-Cookie"]
	kept := old[:0]
	for _, l := range old {
		if !strings.HasPrefix(l, s.name+"=") {
			kept = append(kept, l)
		}
	}
	h["Set-Cookie"] = append(kept, line)
}

// TooLargeError is returned by Save when the conversation cannot fit in
// the cookie even without any History: its State and retry records alone
// make the Set-Cookie line longer than Limit. It matches convo.ErrTooLarge
// with errors.Is. Nothing was written.
type TooLargeError struct {
	Key   convo.Key // the conversation
	Size  int       // the bytes the Set-Cookie line would take without History
	Limit int       // MaxLine
	State int       // bytes of application state
	Retry int       // bytes of retry records (ids and TwiML)
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("cookiestore: conversation %s needs a %d-byte Set-Cookie line even without history, over the %d-byte limit (state %d bytes, retry records %d bytes): %v",
		e.Key.Redacted(), e.Size, e.Limit, e.State, e.Retry, convo.ErrTooLarge)
}

// Unwrap returns convo.ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return convo.ErrTooLarge }
