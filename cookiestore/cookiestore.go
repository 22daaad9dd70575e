package cookiestore

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/smsconvo/convo"
)

// Limits of the cookie.
const (
	// DefaultCookieName is the cookie's name unless Options say otherwise.
	DefaultCookieName = "convo"

	// MaxLine is the most bytes the whole Set-Cookie header line
	// ("Set-Cookie: " included) may take: the 4096 bytes cookies are held to.
	MaxLine = 4096

	// MaxAge is the longest Max-Age the store sets: Twilio keeps a
	// messaging cookie at most four hours after it was last set.
	MaxAge = 4 * time.Hour

	// maxPlain bounds a record inflated from a compressed cookie.
	maxPlain = 64 << 10
)

// Options configure a Store. Keys is required.
type Options struct {
	// Keys sign and encrypt the cookie, newest first: cookies are written
	// with Keys[0] and read with any of them. See ParseKeys.
	Keys []KeyPair

	// CookieName is the cookie's name; "" means DefaultCookieName.
	CookieName string

	// Path is the cookie's Path attribute; "" means "/".
	Path string

	// Insecure leaves out the Secure attribute, for a webhook served over
	// plain HTTP during local development. Twilio's docs trust a cookie
	// only over HTTPS.
	Insecure bool

	// Logger receives a debug line for every cookie refused (tampered,
	// truncated, another pair's, signed with a retired key, of an unknown
	// format); nil means slog.Default(). Lines never hold the cookie or
	// phone numbers.
	Logger *slog.Logger
}

// Store keeps each conversation's record in the webhook's cookie. Create it
// with New; it is safe for concurrent use and needs no Close.
type Store struct {
	codecs []*securecookie.SecureCookie
	seed   maphash.Seed
	seen   [256]atomic.Pointer[seen] // see recent
	name   string
	attrs  string // after Max-Age
	log    *slog.Logger
}

// New returns a Store. It fails when opts has no keys or a key of the wrong
// length, or a CookieName or Path a cookie cannot carry.
func New(opts Options) (*Store, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("cookiestore: Options.Keys is required (see GenerateKeyPair, ParseKeys)")
	}
	s := &Store{name: cmp(opts.CookieName, DefaultCookieName), log: opts.Logger, seed: maphash.MakeSeed()}
	for i, p := range opts.Keys {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w (key pair %d)", err, i+1)
		}
		s.codecs = append(s.codecs, securecookie.New(p.Hash, p.Block).
			SetSerializer(securecookie.NopEncoder{}).
			MaxAge(0).    // expiry is inside the value
			MaxLength(0)) // the store checks lengths against MaxLine
	}
	path := cmp(opts.Path, "/")
	if err := (&http.Cookie{Name: s.name, Value: "x", Path: path}).Valid(); err != nil ||
		strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 || r == ';' || r >= 0x7f }) {
		return nil, fmt.Errorf("cookiestore: cookie name %q or path %q cannot be used", s.name, path)
	}
	s.attrs = "; Path=" + path + "; HttpOnly"
	if !opts.Insecure {
		s.attrs += "; Secure"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// HeldByClient marks the store as convo.ClientHeld: it keeps records in
// Twilio's cookie, so a convo.Handler keeps one retry record in them.
func (s *Store) HeldByClient() {}

// The plaintext of a cookie is a header and the record:
//
//	byte     format (1)
//	byte     flags: 1 = the record is DEFLATE-compressed
//	uint64   version, big-endian
//	int64    expiry, Unix milliseconds
//	...      the record
const (
	format     = 1
	headerLen  = 18
	compressed = 1
)

// cookie is a verified, unexpired cookie value of the request.
type cookie struct {
	version uint64
	expires int64 // Unix milliseconds
	record  []byte
}

// Load returns the record in the request's cookie for key. A missing,
// expired, tampered, truncated or other pair's cookie, or one signed with a
// key no longer in Options.Keys, gives nil, 0 and no error: a webhook never
// fails for what a client sends. It fails only when ctx is done or carries
// no exchange (convo.ErrNoExchange).
func (s *Store) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	x, err := exchange(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	c := s.read(ctx, x.Request, key)
	return c.record, c.version, nil
}

// Save sets the answer's cookie to data, replacing any Set-Cookie of this
// store's cookie already in the answer, if prev is the version of the
// request's cookie (0 when it has none usable); otherwise it returns an
// error wrapping convo.ErrConflict. This catches a record saved with
// another request than it was loaded with, but not saves answered to other
// requests (see convo.ClientHeld). The cookie's Max-Age is ttl, at most
// MaxAge. A record that makes the Set-Cookie line longer than MaxLine even
// compressed gives a *TooLargeError and sets nothing.
func (s *Store) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	x, err := exchange(ctx, key)
	if err != nil {
		return err
	}
	if c := s.read(ctx, x.Request, key); c.version != prev {
		return fmt.Errorf("cookiestore: saving %s at version %d, the request's cookie holds %d: %w", key.Redacted(), prev, c.version, convo.ErrConflict)
	}
	ttl = min(ttl, MaxAge)
	attrs := "; Max-Age=" + strconv.FormatInt(int64((ttl+time.Second-1)/time.Second), 10) + s.attrs
	room := MaxLine - len("Set-Cookie: ") - len(s.name) - 1 - len(attrs)

	plain := make([]byte, headerLen, headerLen+len(data))
	plain[0] = format
	binary.BigEndian.PutUint64(plain[2:], next)
	expires := time.Now().Add(ttl).UnixMilli()
	binary.BigEndian.PutUint64(plain[10:], uint64(expires))
	plain = append(plain, data...)
	if valueLen(len(plain)) > room && len(data) <= maxPlain {
		plain[1] = compressed
		plain = deflate(plain[:headerLen], data)
	}
	if n := valueLen(len(plain)); n > room {
		return &TooLargeError{Key: key, Size: n + MaxLine - room, Limit: MaxLine}
	}
	value, err := s.codecs[0].Encode(s.macName(key), plain)
	if err != nil {
		return fmt.Errorf("cookiestore: saving %s: %w", key.Redacted(), err)
	}
	s.setLine(x.Header, s.name+"="+value+attrs)
	s.remember(key, value, cookie{version: next, expires: expires, record: data})
	return nil
}

// Delete expires the pair's cookie in the answer.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	x, err := exchange(ctx, key)
	if err != nil {
		return err
	}
	s.setLine(x.Header, s.name+"=; Max-Age=0"+s.attrs)
	return nil
}

func exchange(ctx context.Context, key convo.Key) (*convo.Exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cookiestore: %s: %w", key.Redacted(), err)
	}
	x, ok := convo.ExchangeFrom(ctx)
	if !ok || x.Request == nil {
		return nil, fmt.Errorf("cookiestore: %s: %w", key.Redacted(), convo.ErrNoExchange)
	}
	return x, nil
}

// macName is the name securecookie signs a value under: the cookie name
// and the conversation key (injectively: From's length comes first), so a
// cookie moved to another From/To pair fails its MAC as if tampered.
func (s *Store) macName(key convo.Key) string {
	return s.name + "|" + strconv.Itoa(len(key.From)) + "|" + key.From + key.To
}

// read returns the request's first valid, unexpired cookie for key, or the
// zero cookie. Twilio sends one; of more, only the first three are tried.
// The Cookie header is split here, not by net/http, which checks every
// byte of the values, as the signature does again.
func (s *Store) read(ctx context.Context, r *http.Request, key convo.Key) cookie {
	var reason error
	tries := 0
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name != s.name || tries == 3 {
				continue
			}
			tries++
			got, err := s.decode(key, strings.Trim(value, `"`))
			if err == nil {
				return got
			}
			reason = err
		}
	}
	if reason != nil {
		s.log.LogAttrs(ctx, slog.LevelDebug, "cookiestore: cookie refused, starting a fresh conversation",
			slog.String("conversation", key.Redacted()), slog.String("reason", reason.Error()))
	}
	return cookie{}
}

var errExpired = errors.New("cookie expired")

// decode checks, decrypts and reads one cookie value.
func (s *Store) decode(key convo.Key, value string) (cookie, error) {
	c, err := s.open(key, value)
	if err == nil && time.Now().UnixMilli() >= c.expires {
		err = errExpired
	}
	return c, err
}

// open checks and decrypts one cookie value, or finds it among those
// recently seen.
func (s *Store) open(key convo.Key, value string) (cookie, error) {
	if len(value) > MaxLine {
		return cookie{}, errors.New("cookie longer than a cookie can be")
	}
	if c, ok := s.recent(key, value); ok {
		return c, nil
	}
	var plain []byte
	var err error
	for _, codec := range s.codecs {
		if err = codec.Decode(s.macName(key), value, &plain); err == nil {
			break
		}
	}
	switch {
	case err != nil:
		return cookie{}, fmt.Errorf("cookie fails its signature: tampered, truncated, another pair's, or signed with a retired key (%w)", err)
	case len(plain) < headerLen || plain[0] != format || plain[1]&^compressed != 0:
		return cookie{}, errors.New("cookie of an unknown format")
	}
	c := cookie{version: binary.BigEndian.Uint64(plain[2:]), expires: int64(binary.BigEndian.Uint64(plain[10:])), record: plain[headerLen:]}
	if plain[1] == compressed {
		r := flate.NewReader(bytes.NewReader(c.record))
		if c.record, err = io.ReadAll(io.LimitReader(r, maxPlain+1)); err != nil || len(c.record) > maxPlain {
			return cookie{}, errors.New("cookie's record does not inflate")
		}
	}
	s.remember(key, value, c)
	return c, nil
}

// seen is a cookie value the store decrypted or signed lately, with what it
// holds. Save then finds the cookie Load has just read, and Load the one
// this server set for the pair's previous message, without decrypting
// them again. A value is found only when it is the very same string, for
// the same pair, so it proves what decrypting would.
type seen struct {
	key   convo.Key
	value string
	c     cookie
}

// recent returns what value holds if the store has seen it lately.
func (s *Store) recent(key convo.Key, value string) (cookie, bool) {
	if v := s.slot(value).Load(); v != nil && v.key == key && v.value == value {
		return v.c, true
	}
	return cookie{}, false
}

func (s *Store) remember(key convo.Key, value string, c cookie) {
	s.slot(value).Store(&seen{key: key, value: value, c: c})
}

// slot is where value is remembered: chosen by the end of the value, the
// base64 of its MAC, as good as random.
func (s *Store) slot(value string) *atomic.Pointer[seen] {
	return &s.seen[maphash.String(s.seed, value[max(len(value)-32, 0):])%uint64(len(s.seen))]
}

// deflate appends data, compressed, to dst.
func deflate(dst, data []byte) []byte {
	b := bytes.NewBuffer(dst)
	w, _ := flate.NewWriter(b, flate.BestCompression)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

// valueLen returns the length of the cookie value securecookie makes of an
// n-byte plaintext: base64(date "|" base64(iv + ciphertext) "|" mac), the
// date being Unix seconds in 10 digits (until the year 2286).
func valueLen(n int) int {
	b64 := func(n int) int { return (n + 2) / 3 * 4 }
	return b64(10 + 1 + b64(16+n) + 1 + 32)
}

// setLine sets line as the only Set-Cookie of this store's cookie in h,
// keeping those of other cookies.
func (s *Store) setLine(h http.Header, line string) {
	kept := h["Set-Cookie"][:0]
	for _, l := range h["Set-Cookie"] {
		if !strings.HasPrefix(l, s.name+"=") {
			kept = append(kept, l)
		}
	}
	h["Set-Cookie"] = append(kept, line)
}

// TooLargeError is returned by Save when the record cannot fit in the
// cookie even compressed. It matches convo.ErrTooLarge with errors.Is, so
// the Handler drops history turns and saves again. Nothing was written.
type TooLargeError struct {
	Key   convo.Key // the conversation
	Size  int       // the bytes the Set-Cookie line would take
	Limit int       // MaxLine
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("cookiestore: conversation %s needs a %d-byte Set-Cookie line, over the %d-byte limit: %v",
		e.Key.Redacted(), e.Size, e.Limit, convo.ErrTooLarge)
}

// Unwrap returns convo.ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return convo.ErrTooLarge }
