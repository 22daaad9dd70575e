package cookiestore_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/require"
)

// webhookBody is the form of one inbound message, without its MessageSid.
var webhookBody = url.Values{
	"AccountSid": {"AC00000000000000000000000000000000"}, "From": {"+14158675308"}, "To": {"+15005550006"},
	"Body": {"hello there"}, "NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
}.Encode()

// recorder is a minimal http.ResponseWriter, so that the benchmark
// measures the webhook rather than httptest; like net/http's, it is an
// http.Flusher.
type recorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Flush() {}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body = append(r.body, b...)
	return len(b), nil
}

// runWebhooks sends b.N messages of one pair to h, carrying the cookie of
// each answer to the next request as Twilio does.
func runWebhooks(b *testing.B, cookies bool, hs ...http.Handler) {
	var cookie string
	rec := &recorder{header: make(http.Header)}
	bodies := make([]string, b.N) // each with its own MessageSid, as Twilio's
	for i := range bodies {
		bodies[i] = webhookBody + fmt.Sprintf("&MessageSid=SM%032x", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req, err := http.NewRequest(http.MethodPost, "https://example.com/sms", strings.NewReader(bodies[i]))
		if err != nil {
			b.Fatal(err)
		}
		req.Header["Content-Type"] = []string{"application/x-www-form-urlencoded"}
		if cookie != "" {
			req.Header["Cookie"] = []string{cookie}
		}
		clear(rec.header)
		rec.code, rec.body = 0, rec.body[:0]
		hs[i%len(hs)].ServeHTTP(rec, req)
		if rec.code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.code, rec.body)
		}
		if sc := rec.header["Set-Cookie"]; len(sc) == 1 {
			cookie, _, _ = strings.Cut(sc[0], ";")
		} else if cookies {
			b.Fatalf("%d cookies set", len(sc))
		}
	}
}

// BenchmarkWebhook compares a full counter webhook on convo's Handler with
// cookiestore against the same counter on gorilla/sessions' CookieStore.
func BenchmarkWebhook(b *testing.B) {
	b.Run("cookiestore", func(b *testing.B) {
		s, err := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{testKeys(b)}})
		require.NoError(b, err)
		h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(convo.SeedNames()), InsecureSkipSignatureCheck: true})
		require.NoError(b, err)
		runWebhooks(b, true, h)
	})
	// Two servers with the same keys answering in turn, as behind a load
	// balancer: neither has seen the cookie it is sent, so every request
	// decrypts it (the single server above recognises the cookie it set).
	b.Run("cookiestore-fleet", func(b *testing.B) {
		keys := []cookiestore.KeyPair{testKeys(b)}
		var hs []http.Handler
		for range 2 {
			s, err := cookiestore.New(cookiestore.Options{Keys: keys})
			require.NoError(b, err)
			h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(convo.SeedNames()), InsecureSkipSignatureCheck: true})
			require.NoError(b, err)
			hs = append(hs, h)
		}
		runWebhooks(b, true, hs...)
	})
	// For scale: the same webhook on memstore, which keeps no cookie.
	b.Run("memstore", func(b *testing.B) {
		s := memstore.New(memstore.Options{})
		defer s.Close()
		h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(convo.SeedNames()), InsecureSkipSignatureCheck: true})
		require.NoError(b, err)
		runWebhooks(b, false, h)
	})
	b.Run("gorilla-sessions", func(b *testing.B) {
		k := testKeys(b)
		store := sessions.NewCookieStore(k.Hash, k.Block)
		store.Options.HttpOnly, store.Options.Secure, store.Options.MaxAge = true, true, 4*3600
		names := convo.SeedNames()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			sess, _ := store.Get(r, "convo")
			count, _ := sess.Values["count"].(int)
			count++
			sess.Values["count"] = count
			if err := sess.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			name, ok := names[r.PostForm.Get("From")]
			if !ok {
				name = "Friend"
			}
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write(convo.Text(name + " has messaged " + r.PostForm.Get("To") + " " + strconv.Itoa(count) + " times").TwiML())
		})
		runWebhooks(b, true, h)
	})
}
