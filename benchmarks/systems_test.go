package benchmarks

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	scsmemstore "github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/smsconvo/convo/memstore"
)

// A system is one implementation of the seed's counter webhook. new builds
// a fresh one (no conversations yet); hook, when not nil, is called each
// time the system runs its counting logic, so that the retry test can tell
// a message handled twice from one answered from a record.
type system struct {
	name   string
	counts bool // false for the floor, which answers a fixed text
	new    func(tb testing.TB, hook func()) http.Handler
}

// The systems in the order of the tables. stores_test.go adds convo on
// cookiestore and sqlstore after convo on memstore.
var systems = []system{
	{name: "floor", new: newFloor},
	{name: "mutexmap", counts: true, new: newMutexMap},
	{name: "convo-memstore", counts: true, new: newConvoMemstore},
	{name: "gorilla-sessions", counts: true, new: newGorilla},
	{name: "scs-memstore", counts: true, new: newSCS},
}

func systemNamed(tb testing.TB, name string) system {
	for _, s := range systems {
		if s.name == name {
			return s
		}
	}
	tb.Fatalf("no system %q", name)
	return system{}
}

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

var fixedTwiML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Friend has messaged +15005550006 1 times</Message></Response>`)

// newFloor is the least a webhook does: parse the form and answer a fixed
// TwiML document. No state, no escaping.
func newFloor(testing.TB, func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("From") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(fixedTwiML)
	})
}

// newMutexMap counts in one map keyed by the pair, behind one mutex: what
// a careful net/http user writes for a single server.
func newMutexMap(_ testing.TB, hook func()) http.Handler {
	type pair struct{ from, to string }
	var (
		mu     sync.Mutex
		counts = make(map[pair]int)
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		from, to := r.PostForm.Get("From"), r.PostForm.Get("To")
		if from == "" || to == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if hook != nil {
			hook()
		}
		mu.Lock()
		counts[pair{from, to}]++
		n := counts[pair{from, to}]
		mu.Unlock()
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	})
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// convoHandler is the counter on convo with the Handler's defaults and
// signature checking off.
func convoHandler(tb testing.TB, store convo.Store, hook func()) http.Handler {
	reply := convo.Greeter(convo.SeedNames())
	if hook != nil {
		greet := reply
		reply = func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			hook()
			return greet(ctx, c, m)
		}
	}
	h, err := convo.NewHandler(convo.Config{Store: store, Reply: reply, InsecureSkipSignatureCheck: true, Logger: discard})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func newConvoMemstore(tb testing.TB, hook func()) http.Handler {
	store := memstore.New(memstore.Options{})
	tb.Cleanup(func() { _ = store.Close() })
	return convoHandler(tb, store, hook)
}

// newGorilla keeps the count in gorilla/sessions' CookieStore: gob, then
// AES-CTR and HMAC-SHA256 by securecookie, in the cookie Twilio carries.
func newGorilla(_ testing.TB, hook func()) http.Handler {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	store.Options = &sessions.Options{Path: "/", MaxAge: 4 * 3600, HttpOnly: true, Secure: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		from, to := r.PostForm.Get("From"), r.PostForm.Get("To")
		if from == "" || to == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if hook != nil {
			hook()
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
	})
}

// newSCS keeps the count in an alexedwards/scs session on its memstore:
// a token in the cookie, the session (gob) in memory, loaded and saved by
// the LoadAndSave middleware.
func newSCS(_ testing.TB, hook func()) http.Handler {
	// No cleanup goroutine: the benchmarks run far shorter than a session
	// lives, and scs's StopCleanup races with the goroutine's start.
	store := scsmemstore.NewWithCleanupInterval(0)
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = 4 * time.Hour
	sm.Cookie.Secure = true
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		from, to := r.PostForm.Get("From"), r.PostForm.Get("To")
		if from == "" || to == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if hook != nil {
			hook()
		}
		n := sm.GetInt(r.Context(), "count") + 1
		sm.Put(r.Context(), "count", n)
		writeTwiML(w, counter.Greeting(nameOf(from), to, n))
	}))
}
