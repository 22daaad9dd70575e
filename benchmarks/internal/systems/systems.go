// Package systems holds the seed's counter webhook ("<Name> has messaged
// <To> <n> times") built on convo and on each of the peers, for the
// benchmarks, the burst and retry measurements and cmd/serve.
package systems

import (
	"bytes"
	"context"
	"encoding/xml"
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

	// New builds a fresh one, without conversations. hook, when not nil,
	// is called each time the system runs its counting logic, so that a
	// test can tell a message handled twice from one answered from a
	// record. dir is a directory it may keep files in. The caller calls
	// close when done with the handler.
	New func(hook func(), dir string) (h http.Handler, close func() error, err error)
}

// All returns the systems in the order of the tables.
func All() []System { return slices.Clone(all) }

var all = []System{
	{Name: "floor", New: newFloor},
	{Name: "mutexmap", Counts: true, New: newMutexMap},
	{Name: "convo-memstore", Counts: true, New: newConvoMemstore},
	{Name: "convo-memstore-inline", Counts: true, New: newConvoMemstoreInline},
	{Name: "gorilla-sessions", Counts: true, New: newGorilla},
	{Name: "scs-memstore", Counts: true, New: newSCS},
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
func newFloor(func(), string) (http.Handler, func() error, error) {
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
func newMutexMap(hook func(), _ string) (http.Handler, func() error, error) {
	type pair struct{ from, to string }
	var (
		mu     sync.Mutex
		counts = make(map[pair]int)
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, hook)
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

// convoHandler is the counter on convo with the Handler's defaults and
// signature checking off.
func convoHandler(store convo.Store, hook func()) (http.Handler, error) {
	return convoHandlerConfig(convo.Config{Store: store}, hook)
}

// convoHandlerConfig is the counter on convo with cfg, signature checking
// off.
func convoHandlerConfig(cfg convo.Config, hook func()) (http.Handler, error) {
	reply := convo.Greeter(convo.SeedNames())
	if hook != nil {
		greet := reply
		reply = func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			hook()
			return greet(ctx, c, m)
		}
	}
	cfg.Reply, cfg.InsecureSkipSignatureCheck, cfg.Logger = reply, true, discard
	return convo.NewHandler(cfg)
}

func newConvoMemstore(hook func(), _ string) (http.Handler, func() error, error) {
	store := memstore.New(memstore.Options{})
	h, err := convoHandler(store, hook)
	return h, store.Close, err
}

// newConvoMemstoreInline runs the reply function without a reply timeout
// (ReplyTimeout < 0), so without the watchdog that guards it: what that
// guard costs.
func newConvoMemstoreInline(hook func(), _ string) (http.Handler, func() error, error) {
	store := memstore.New(memstore.Options{})
	h, err := convoHandlerConfig(convo.Config{Store: store, ReplyTimeout: -1}, hook)
	return h, store.Close, err
}

// newGorilla keeps the count in gorilla/sessions' CookieStore: gob, then
// AES-CTR and HMAC-SHA256 by securecookie, in the cookie Twilio carries.
func newGorilla(hook func(), _ string) (http.Handler, func() error, error) {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	store.Options = &sessions.Options{Path: "/", MaxAge: 4 * 3600, HttpOnly: true, Secure: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, hook)
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

// newSCS keeps the count in an alexedwards/scs session on its memstore:
// a token in the cookie, the session (gob) in memory, loaded and saved by
// the LoadAndSave middleware.
func newSCS(hook func(), _ string) (http.Handler, func() error, error) {
	// No cleanup goroutine: the benchmarks run far shorter than a session
	// lives, and scs's StopCleanup races with the goroutine's start.
	store := scsmemstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = 4 * time.Hour
	sm.Cookie.Secure = true
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, ok := pairOf(w, r, hook)
		if !ok {
			return
		}
		n := sm.GetInt(r.Context(), "count") + 1
		sm.Put(r.Context(), "count", n)
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	})), noClose, nil
}
