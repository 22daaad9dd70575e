// Package systems holds the seed's counter webhook ("<Name> has messaged
// <To> <n> times") built on convo and on each of the peers, for the
// benchmarks, the burst and retry measurements, cmd/serve and cmd/shared.
package systems

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/smsconvo/convo/memstore"
)

// A System is one implementation of the seed's counter webhook.
type System struct {
	// Name names it in tables and flags.
	Name string

	// Counts is false for the floor, which answers a fixed text.
	Counts bool

	// Convo is true for the systems built on convo.
	Convo bool

	// Backend is the server the system keeps its state in ("" for none,
	// or SQLite, a file), which Options must name (see Backends).
	Backend Backend

	// Peer names the system this one is compared with on the same
	// backend: scs's store beside convo's, and back.
	Peer string

	// New builds a fresh one, without conversations. The caller calls
	// close when done with the handler: it drops the tables or keys the
	// system made.
	New func(o Options) (h http.Handler, close func() error, err error)
}

// Options are what a system is built with.
type Options struct {
	// Hook, when not nil, is called each time the system runs its
	// counting logic, so that a test can tell a message handled twice
	// from one answered from a record.
	Hook func()

	// Dir is a directory the system may keep files in.
	Dir string

	// Now is the clock of convo's Handler (Config.Now); nil means the
	// real one. The peers keep the real clock.
	Now func() time.Time

	// Backends are the servers of the shared-store systems.
	Backends Backends
}

// All returns the systems in the order of the tables.
func All() []System { return slices.Clone(all) }

var all = []System{
	{Name: "floor", New: newFloor},
	{Name: "mutexmap", Counts: true, New: newMutexMap},
	{Name: "convo-memstore", Counts: true, Convo: true, New: newConvoMemstore},
	{Name: "convo-cookiestore", Counts: true, Convo: true, New: newConvoCookiestore},
	{Name: "gorilla-sessions", Counts: true, New: newGorilla},
	{Name: "scs-memstore", Counts: true, New: newSCSMemstore},
}

// Named returns the system called name.
func Named(name string) (System, error) {
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	return System{}, fmt.Errorf("no system %q (have %s)", name, strings.Join(Names(), ", "))
}

// Names lists the systems' names.
func Names() []string {
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Name
	}
	return names
}

// Shared returns the systems that keep their state in a database or Redis
// (SQLite included), convo's first and then its peer, backend by backend.
func Shared() []System {
	var out []System
	for _, s := range all {
		if s.Backend != "" {
			out = append(out, s)
		}
	}
	return out
}

func noClose() error { return nil }

var seedNames = convo.SeedNames()

func nameOf(from string) string {
	if name, ok := seedNames[from]; ok {
		return name
	}
	return "Friend"
}

var (
	twimlHead = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>`)
	twimlTail = []byte(`</Message></Response>`)
	bufs      = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// writeTwiML answers text in a <Message>, escaped with encoding/xml, as a
// net/http user without convo would write it.
func writeTwiML(w http.ResponseWriter, text string) {
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	buf.Write(twimlHead)
	_ = xml.EscapeText(buf, []byte(text))
	buf.Write(twimlTail)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	bufs.Put(buf)
}

// FixedTwiML is what the floor answers to every message.
var FixedTwiML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Friend has messaged +15005550006 1 times</Message></Response>`)

// newFloor is the least a webhook does: parse the form and answer a fixed
// TwiML document. No state, no escaping.
func newFloor(Options) (http.Handler, func() error, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("From") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(FixedTwiML)
	}), noClose, nil
}

// pairOf parses a peer's webhook form and returns its From and To, then
// calls hook, if any. When either is missing it answers 400 and returns
// false.
func pairOf(w http.ResponseWriter, r *http.Request, hook func()) (from, to string, ok bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return "", "", false
	}
	from, to = r.PostForm.Get("From"), r.PostForm.Get("To")
	if from == "" || to == "" {
		http.Error(w, "bad form", http.StatusBadRequest)
		return "", "", false
	}
	if hook != nil {
		hook()
	}
	return from, to, true
}

// newMutexMap counts in one map keyed by the pair, behind one mutex: what
// a careful net/http user writes for a single server.
func newMutexMap(o Options) (http.Handler, func() error, error) {
	type pair struct{ from, to string }
	var (
		mu     sync.Mutex
		counts = make(map[pair]int)
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, o.Hook)
		if !ok {
			return
		}
		mu.Lock()
		counts[pair{from, to}]++
		n := counts[pair{from, to}]
		mu.Unlock()
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	}), noClose, nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// convoHandler is the counter on convo with the Handler's defaults,
// the clock of o and signature checking off.
func convoHandler(store convo.Store, o Options) (http.Handler, error) {
	reply := convo.Greeter(convo.SeedNames())
	if hook := o.Hook; hook != nil {
		greet := reply
		reply = func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			hook()
			return greet(ctx, c, m)
		}
	}
	return convo.NewHandler(convo.Config{Store: store, Reply: reply, Now: o.Now, InsecureSkipSignatureCheck: true, Logger: discard})
}

func newConvoMemstore(o Options) (http.Handler, func() error, error) {
	store := memstore.New(memstore.Options{})
	h, err := convoHandler(store, o)
	return h, store.Close, err
}

// newGorilla keeps the count in gorilla/sessions' CookieStore: gob, then
// AES-CTR and HMAC-SHA256 by securecookie, in the cookie Twilio carries.
func newGorilla(o Options) (http.Handler, func() error, error) {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	store.Options = &sessions.Options{Path: "/", MaxAge: 4 * 3600, HttpOnly: true, Secure: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, o.Hook)
		if !ok {
			return
		}
		sess, _ := store.Get(r, "counter") // a bad cookie gives a new session
		n, _ := sess.Values["count"].(int)
		n++
		sess.Values["count"] = n
		if err := sess.Save(r, w); err != nil {
			http.Error(w, "saving the session", http.StatusInternalServerError)
			return
		}
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	}), noClose, nil
}

// scsLifetime is how long an scs session lives: convo's default Idle,
// Twilio's cookie lifetime.
const scsLifetime = 4 * time.Hour

// scsHandler is the counter on an alexedwards/scs session in store: a
// token in the cookie, the session (gob) in the store, loaded and saved by
// the LoadAndSave middleware, Lifetime 4 h.
func scsHandler(store scs.Store, o Options) http.Handler {
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = scsLifetime
	sm.Cookie.Secure = true
	sm.ErrorFunc = func(w http.ResponseWriter, _ *http.Request, err error) {
		status := http.StatusInternalServerError
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, http.StatusText(status), status)
	}
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, o.Hook)
		if !ok {
			return
		}
		n := sm.GetInt(r.Context(), "count") + 1
		sm.Put(r.Context(), "count", n)
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	}))
}

// newSCSMemstore keeps the count in an scs session on scs's memstore.
func newSCSMemstore(o Options) (http.Handler, func() error, error) {
	// No cleanup goroutine: the benchmarks run far shorter than a session
	// lives, and scs's StopCleanup races with the goroutine's start.
	return scsHandler(scsmemstore.NewWithCleanupInterval(0), o), noClose, nil
}
