package systems

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/smsconvo/convo/benchmarks/internal/counter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNamed(t *testing.T) {
	names := Names()
	require.Len(t, All(), len(names))
	for _, want := range []string{"floor", "mutexmap", "convo-memstore", "convo-cookiestore", "gorilla-sessions", "scs-memstore",
		"convo-sqlstore", "scs-sqlite3store", "convo-sqlstore-postgres", "scs-postgresstore", "convo-sqlstore-mysql", "scs-mysqlstore",
		"convo-redisstore", "scs-goredisstore"} {
		s, err := Named(want)
		require.NoError(t, err, want)
		assert.Equal(t, want, s.Name)
	}
	for _, s := range Shared() {
		peer, err := Named(s.Peer)
		require.NoError(t, err, s.Name)
		assert.Equal(t, s.Name, peer.Peer, "peers name each other")
		assert.Equal(t, s.Backend, peer.Backend)
		assert.NotEqual(t, s.Convo, peer.Convo)
	}
	_, err := Named("nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), strings.Join(names, ", "))
}

// Every system answers the seed's greeting, counts each pair on its own,
// refuses a form without From, and calls its hook once per message it
// counts.
func TestSystems(t *testing.T) {
	for _, s := range All() {
		t.Run(s.Name, func(t *testing.T) {
			calls := 0
			h, closeFn, err := s.New(Options{Hook: func() { calls++ }, Dir: t.TempDir(), Backends: BackendsFromEnv()})
			if errors.Is(err, ErrNoBackend) {
				t.Skip(err)
			}
			require.NoError(t, err)
			defer func() { require.NoError(t, closeFn()) }()
			send := func(from string, cookies []*http.Cookie) *httptest.ResponseRecorder {
				form := url.Values{"From": {from}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {"SM" + strings.Repeat("0", 31) + string(rune('a'+calls%6))}}
				req := httptest.NewRequest(http.MethodPost, "https://example.com/sms", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for _, c := range cookies {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			first := send("+14158675308", nil)
			require.Equal(t, http.StatusOK, first.Code, first.Body.String())
			assert.Contains(t, first.Header().Get("Content-Type"), "text/xml")
			if !s.Counts {
				assert.Equal(t, FixedTwiML, first.Body.Bytes())
				return
			}
			assert.Contains(t, first.Body.String(), "<Message>Rey has messaged +15005550006 1 times</Message>")
			second := send("+14158675308", first.Result().Cookies())
			n, err := counter.Count(second.Body.Bytes())
			require.NoError(t, err)
			assert.Equal(t, 2, n)
			other := send("+12125550100", nil)
			assert.Contains(t, other.Body.String(), "Friend has messaged +15005550006 1 times")
			assert.Equal(t, 3, calls)

			bad := send("", nil)
			assert.Equal(t, http.StatusBadRequest, bad.Code)
		})
	}
}

// A system whose server is not configured says which variable to set; one
// whose server does not answer fails.
func TestBackends(t *testing.T) {
	s, err := Named("convo-sqlstore-postgres")
	require.NoError(t, err)
	_, _, err = s.New(Options{Dir: t.TempDir()})
	require.ErrorIs(t, err, ErrNoBackend)
	assert.Contains(t, err.Error(), EnvPostgres)
	s, err = Named("scs-goredisstore")
	require.NoError(t, err)
	_, _, err = s.New(Options{Backends: Backends{RedisAddr: "127.0.0.1:1"}})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNoBackend)
	require.NoError(t, Backends{}.Check(SQLite))
}
