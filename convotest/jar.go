package convotest

import (
	"net/http"
	"sync"
	"time"

	"github.com/smsconvo/convo"
)

// TwilioCookieLifetime is the longest Twilio keeps a conversation's cookie
// after it was last set: four hours.
const TwilioCookieLifetime = 4 * time.Hour

// CookieJar keeps cookies the way Twilio does for messaging webhooks: one
// set per From/To pair, sent back with the next message of that pair. A
// cookie set without Max-Age or Expires lasts four hours; a longer expiry
// is capped to four hours, a shorter one honoured, and Max-Age <= 0 (or an
// Expires in the past) deletes it. Setting a cookie again restarts its
// lifetime. It is safe for concurrent use.
type CookieJar struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[convo.Key]map[string]jarCookie
}

type jarCookie struct {
	value     string
	expiresAt time.Time
}

// NewCookieJar returns an empty jar reading time from now (nil: time.Now).
func NewCookieJar(now func() time.Time) *CookieJar {
	if now == nil {
		now = time.Now
	}
	return &CookieJar{now: now, m: make(map[convo.Key]map[string]jarCookie)}
}

// Cookies returns the unexpired cookies held for key.
func (j *CookieJar) Cookies(key convo.Key) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	var out []*http.Cookie
	for name, c := range j.m[key] {
		if !now.Before(c.expiresAt) {
			delete(j.m[key], name)
			continue
		}
		out = append(out, &http.Cookie{Name: name, Value: c.value})
	}
	return out
}

// ExpiresAt returns when the named cookie of key expires, and whether it
// is held at all.
func (j *CookieJar) ExpiresAt(key convo.Key, name string) (time.Time, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c, ok := j.m[key][name]
	if !ok || !j.now().Before(c.expiresAt) {
		return time.Time{}, false
	}
	return c.expiresAt, true
}

// AddCookies adds key's cookies to req's Cookie header.
func (j *CookieJar) AddCookies(key convo.Key, req *http.Request) {
	for _, c := range j.Cookies(key) {
		req.AddCookie(c)
	}
}

// Update takes the Set-Cookie lines of an answer to a message of key.
func (j *CookieJar) Update(key convo.Key, h http.Header) {
	cookies := (&http.Response{Header: h}).Cookies()
	if len(cookies) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for _, c := range cookies {
		life := TwilioCookieLifetime
		switch {
		case c.MaxAge < 0:
			life = 0
		case c.MaxAge > 0:
			life = min(life, time.Duration(c.MaxAge)*time.Second)
		case !c.Expires.IsZero():
			life = min(life, c.Expires.Sub(now))
		}
		if j.m[key] == nil {
			j.m[key] = make(map[string]jarCookie)
		}
		if life <= 0 {
			delete(j.m[key], c.Name)
			continue
		}
		j.m[key][c.Name] = jarCookie{value: c.Value, expiresAt: now.Add(life)}
	}
}
