package convo_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
)

// The secrets of the tests below; the Node vectors carry their own.
const (
	sigAuthToken    = "b7c1e0f2a3d4958677a8b9c0d1e2f3a4"
	sigSharedSecret = "whsec_test_shared_key_secret_5e1d"
	sigSharedKeyID  = "webhooks_sharedkey_00000000000000000000000000000001"
	sigHookURL      = "https://convo.example.com/sms"
	sigFrom         = "+14158675308"
	sigTo           = "+15005550006"
)

// sigVector is a case of testdata/signatures/vectors.json, written by
// generate.js with Twilio's Node helper library.
type sigVector struct {
	Name       string      `json:"name"`
	Kind       string      `json:"kind"`
	URL        string      `json:"url"`
	SignedURL  string      `json:"signed_url"`
	Form       [][2]string `json:"form"`
	Secret     string      `json:"secret"`
	Algorithm  string      `json:"algorithm"`
	Settings   string      `json:"settings"`
	Signature  string      `json:"signature"`
	Valid      bool        `json:"valid"`
	UTF16Order bool        `json:"utf16_order"`
}

type sigVectors struct {
	Generator  string      `json:"generator"`
	Cases      []sigVector `json:"cases"`
	Algorithms []struct {
		Header    string `json:"header"`
		Algorithm string `json:"algorithm"`
		Supported bool   `json:"supported"`
	} `json:"algorithms"`
}

// sigServer is a Handler on a memstore, greeting with convo.Greeter(nil),
// counting the turns its reply function runs and capturing its logs.
type sigServer struct {
	h       *convo.Handler
	logs    *convotest.Logs
	replies atomic.Int64
}

func newSigServer(t testing.TB, mod func(*convo.Config)) *sigServer {
	t.Helper()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	s := &sigServer{logs: &convotest.Logs{}}
	greet := convo.Greeter(nil)
	cfg := convo.Config{
		Store: store,
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			s.replies.Add(1)
			return greet(ctx, c, m)
		},
		Logger: slog.New(slog.NewTextHandler(s.logs, nil)),
	}
	mod(&cfg)
	h, err := convo.NewHandler(cfg)
	require.NoError(t, err)
	s.h = h
	return s
}

// post sends body to target as Twilio would: target's path and query are
// the request line's, its host the Host header, https gives the request TLS.
// Empty signature and settings are not sent.
func (s *sigServer) post(target, body, signature, settings string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
	req.RequestURI = sigOriginForm(target) // as a server reads it, not the absolute form
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	if settings != "" {
		req.Header.Set("X-Twilio-Webhooks-Signature-Settings", settings)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// sigOriginForm returns the path and query of an absolute URL.
func sigOriginForm(target string) string {
	_, rest, _ := strings.Cut(target, "://")
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return "/"
	}
	if rest[i] == '?' {
		return "/" + rest[i:]
	}
	return rest[i:]
}

// sigOrigin returns the scheme and host of an absolute URL.
func sigOrigin(target string) string {
	scheme, rest, _ := strings.Cut(target, "://")
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	return scheme + "://" + rest
}

// sigBody url-encodes pairs in their order, repeats included.
func sigBody(pairs [][2]string) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = url.QueryEscape(p[0]) + "=" + url.QueryEscape(p[1])
	}
	return strings.Join(parts, "&")
}

func sigValues(pairs [][2]string) url.Values {
	form := url.Values{}
	for _, p := range pairs {
		form.Add(p[0], p[1])
	}
	return form
}

// refSign is the reference signature, written apart from signature.go:
// base64 of the HMAC, keyed with secret, of rawURL followed by name+value
// for every name and every distinct value of it, names and values sorted by
// UTF-16 code units as JavaScript sorts strings. Strings must be UTF-8.
func refSign(newHash func() hash.Hash, secret, rawURL string, form url.Values) string {
	return refSignOrdered(newHash, secret, rawURL, form, refCompareUTF16)
}

func refCompareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func refSignOrdered(newHash func() hash.Hash, secret, rawURL string, form url.Values, cmp func(a, b string) int) string {
	var names []string
	for name := range form {
		names = append(names, name)
	}
	slices.SortFunc(names, cmp)
	text := rawURL
	for _, name := range names {
		values := slices.Clone(form[name])
		slices.SortFunc(values, cmp)
		values = slices.Compact(values)
		for _, v := range values {
			text += name + v
		}
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func sigHash(algorithm string) func() hash.Hash {
	if strings.EqualFold(algorithm, "HMAC_SHA256") {
		return sha256.New
	}
	return sha1.New
}

func loadSigVectors(t *testing.T) *sigVectors {
	t.Helper()
	data, err := os.ReadFile("testdata/signatures/vectors.json")
	require.NoError(t, err)
	var vs sigVectors
	require.NoError(t, json.Unmarshal(data, &vs))
	require.NotEmpty(t, vs.Cases)
	return &vs
}

// TestSignatureNodeVectors replays the requests of vectors.json, signed and
// judged by Twilio's Node helper library, and expects convo to agree.
func TestSignatureNodeVectors(t *testing.T) {
	vs := loadSigVectors(t)
	t.Logf("%d cases from %s", len(vs.Cases), vs.Generator)
	kinds := map[string]int{}
	for _, v := range vs.Cases {
		kinds[v.Kind]++
		t.Run(v.Name, func(t *testing.T) {
			want := http.StatusForbidden
			switch {
			case v.Kind == "node-normalized-url":
				// Node accepts these only by re-encoding the received URL
				// with new URL(); convo checks the URL as received (with
				// and without its port), which is what Twilio signs.
				require.True(t, v.Valid)
			case v.Valid:
				want = http.StatusOK
			}
			form := sigValues(v.Form)
			if v.Kind != "tampered" { // signed by Node for this form
				assert.Equal(t, v.Signature, refSign(sigHash(v.Algorithm), v.Secret, v.SignedURL, form),
					"the test's reference signs as Node does")
			}
			if v.UTF16Order {
				assert.NotEqual(t, v.Signature, refSignOrdered(sigHash(v.Algorithm), v.Secret, v.SignedURL, form, strings.Compare),
					"sorting by bytes signs this case otherwise")
			}
			configure := func(cfg *convo.Config) {
				if v.Settings != "" {
					cfg.SharedKeySecret = v.Secret
				} else {
					cfg.AuthToken = v.Secret
				}
			}
			body := sigBody(v.Form)

			s := newSigServer(t, configure)
			rec := s.post(v.URL, body, v.Signature, v.Settings)
			require.Equal(t, want, rec.Code, "at %s: %s", v.URL, rec.Body)
			if want == http.StatusOK {
				assert.EqualValues(t, 1, s.replies.Load(), "turns run")
				assert.Contains(t, rec.Body.String(), "<Message>Friend has messaged ")
			} else {
				assert.Zero(t, s.replies.Load(), "turns run")
				assert.Contains(t, s.logs.String(), "level=WARN")
				assert.Contains(t, s.logs.String(), "invalid Twilio signature")
			}
			assert.NotContains(t, s.logs.String(), v.Secret)

			// The same request through a proxy, with Config.PublicURL.
			s = newSigServer(t, func(cfg *convo.Config) {
				configure(cfg)
				cfg.PublicURL = sigOrigin(v.URL)
			})
			rec = s.post("http://10.0.0.7:8080"+sigOriginForm(v.URL), body, v.Signature, v.Settings)
			require.Equal(t, want, rec.Code, "behind PublicURL %s: %s", sigOrigin(v.URL), rec.Body)

			assert.NotContains(t, s.logs.String(), v.Secret)
		})
	}
	t.Logf("kinds: %v", kinds)

	// Node's reading of X-Twilio-Webhooks-Signature-Settings: convo signs
	// with the algorithm Node finds, and refuses the other one.
	for i, a := range vs.Algorithms {
		t.Run(fmt.Sprintf("settings-%d", i), func(t *testing.T) {
			s := newSigServer(t, func(cfg *convo.Config) {
				cfg.AuthToken = sigAuthToken
				cfg.SharedKeySecret = sigSharedSecret
			})
			pairs := [][2]string{{"From", sigFrom}, {"To", sigTo}, {"Body", "settings"}}
			form := sigValues(pairs)
			sha1Sig := refSign(sha1.New, sigSharedSecret, sigHookURL, form)
			sha256Sig := refSign(sha256.New, sigSharedSecret, sigHookURL, form)
			alg := strings.ToUpper(a.Algorithm)
			switch {
			case !a.Supported:
				for _, sig := range []string{sha1Sig, sha256Sig} {
					assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, sigBody(pairs), sig, a.Header).Code, "%q", a.Header)
				}
				assert.Contains(t, s.logs.String(), a.Algorithm, "the log names the algorithm")
			case alg == "HMAC_SHA1":
				assert.Equal(t, http.StatusOK, s.post(sigHookURL, sigBody(pairs), sha1Sig, a.Header).Code, "%q", a.Header)
				assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, sigBody(pairs), sha256Sig, a.Header).Code, "%q", a.Header)
			case alg == "HMAC_SHA256":
				assert.Equal(t, http.StatusOK, s.post(sigHookURL, sigBody(pairs), sha256Sig, a.Header).Code, "%q", a.Header)
				assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, sigBody(pairs), sha1Sig, a.Header).Code, "%q", a.Header)
			default:
				t.Fatalf("Node supports %q", a.Algorithm)
			}
		})
	}
}

// twilioGoSign signs as twilio-go's RequestValidator checks: names sorted
// by bytes, one value each, HMAC-SHA1 with the auth token.
func twilioGoSign(authToken, rawURL string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	text := rawURL
	for _, name := range names {
		text += name + params[name]
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// sigAlphabet has ASCII, the characters url-encoding escapes, and others
// up to four UTF-8 bytes; none from U+E000 to U+FFFF, which twilio-go
// (byte order) and Twilio (UTF-16 order) sort differently against
// characters above U+FFFF.
var sigAlphabet = []rune("abcXYZ019 +&=%?/#;'\"\t\u00e9\u00df\u03a9\u4e2d\u0800\U0001F600\U0001F308\U00010000")

func sigRandomString(rng *rand.Rand, minLen, maxLen int) string {
	n := minLen + rng.IntN(maxLen-minLen+1)
	var b strings.Builder
	for range n {
		b.WriteRune(sigAlphabet[rng.IntN(len(sigAlphabet))])
	}
	return b.String()
}

// TestSignatureTwilioGoAgrees checks convo against twilio-go's validator on
// forms with one value a name, where the two algorithms are the same.
func TestSignatureTwilioGoAgrees(t *testing.T) {
	validator := client.NewRequestValidator(sigAuthToken)
	s := newSigServer(t, func(cfg *convo.Config) { cfg.AuthToken = sigAuthToken })
	urls := []struct{ signed, posted string }{
		{sigHookURL, sigHookURL},
		{"https://convo.example.com:443/sms", sigHookURL},
		{sigHookURL, "https://convo.example.com:443/sms"},
		{"http://localhost:8080/hooks/sms?x=1", "http://localhost:8080/hooks/sms?x=1"},
		{"https://convo.example.com/sms?tenant=acme&n=a+b&q=caf%C3%A9", "https://convo.example.com/sms?tenant=acme&n=a+b&q=caf%C3%A9"},
	}
	rng := rand.New(rand.NewPCG(20240601, 7))
	const forms = 400
	for i := range forms {
		params := map[string]string{
			"From":       sigFrom,
			"To":         sigTo,
			"Body":       sigRandomString(rng, 0, 40),
			"MessageSid": fmt.Sprintf("SM%032x", i),
		}
		for range rng.IntN(12) {
			params[sigRandomString(rng, 0, 8)] = sigRandomString(rng, 0, 12)
		}
		params["From"], params["To"] = sigFrom, sigTo
		u := urls[rng.IntN(len(urls))]
		sig := twilioGoSign(sigAuthToken, u.signed, params)
		body := sigParamsBody(rng, params)
		require.True(t, validator.Validate(u.posted, params, sig), "twilio-go refuses its own signature")
		require.True(t, validator.ValidateBody(u.posted, []byte(body), sig), "twilio-go refuses the body")
		rec := s.post(u.posted, body, sig, "")
		require.Equal(t, http.StatusOK, rec.Code, "form %d: %v at %s: %s", i, params, u.posted, rec.Body)

		// The same signature over a changed form: both refuse.
		changed := maps.Clone(params)
		var what string
		switch names := sigNonEmptyNames(changed); rng.IntN(3) {
		case 0:
			name := names[rng.IntN(len(names))]
			changed[name] += sigRandomString(rng, 1, 3)
			what = "changed " + name
		case 1:
			name := sigRandomString(rng, 1, 6) + "!"
			changed[name] = sigRandomString(rng, 0, 6)
			what = "added " + name
		default:
			names = slices.DeleteFunc(names, func(n string) bool { return n == "From" || n == "To" })
			name := names[rng.IntN(len(names))]
			delete(changed, name)
			what = "dropped " + name
		}
		require.False(t, validator.Validate(u.posted, changed, sig), "twilio-go accepts the form with %s", what)
		rec = s.post(u.posted, sigParamsBody(rng, changed), sig, "")
		require.Equal(t, http.StatusForbidden, rec.Code, "form %d with %s: %v", i, what, changed)
	}
	assert.EqualValues(t, forms, s.replies.Load())
	assert.NotContains(t, s.logs.String(), sigAuthToken)
}

// sigNonEmptyNames returns the sorted names whose name+value is not empty:
// changing or dropping one changes the signed text.
func sigNonEmptyNames(params map[string]string) []string {
	var names []string
	for name, v := range params {
		if name+v != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// sigParamsBody url-encodes params in a random order.
func sigParamsBody(rng *rand.Rand, params map[string]string) string {
	pairs := make([][2]string, 0, len(params))
	for _, name := range slices.Sorted(maps.Keys(params)) {
		pairs = append(pairs, [2]string{name, params[name]})
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return sigBody(pairs)
}

// TestSignatureSmuggledParameters: parameters appended to (or put before)
// a signed body change the distinct values the signature covers, so the
// request is refused and no turn runs.
func TestSignatureSmuggledParameters(t *testing.T) {
	form := url.Values{
		"From":       {sigFrom},
		"To":         {sigTo},
		"Body":       {"hello"},
		"MessageSid": {"SM" + strings.Repeat("a", 32)},
		"AccountSid": {"AC" + strings.Repeat("b", 32)},
		"NumMedia":   {"0"},
	}
	sig := refSign(sha1.New, sigAuthToken, sigHookURL, form)
	validator := client.NewRequestValidator(sigAuthToken)
	s := newSigServer(t, func(cfg *convo.Config) { cfg.AuthToken = sigAuthToken })

	require.Equal(t, http.StatusOK, s.post(sigHookURL, form.Encode(), sig, "").Code, "the request as signed")
	require.EqualValues(t, 1, s.replies.Load())
	s.replies.Store(0)

	for name, body := range map[string]string{
		"appended":           form.Encode() + "&Body=smuggled&From=%2B19999999999",
		"prepended":          "Body=smuggled&From=%2B19999999999&" + form.Encode(),
		"appended body":      form.Encode() + "&Body=smuggled",
		"appended from":      form.Encode() + "&From=%2B19999999999",
		"appended duplicate": form.Encode() + "&Body=smuggled&Body=hello",
	} {
		t.Run(name, func(t *testing.T) {
			rec := s.post(sigHookURL, body, sig, "")
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Zero(t, s.replies.Load(), "the reply function ran")
			if validator.ValidateBody(sigHookURL, []byte(body), sig) {
				t.Logf("twilio-go's ValidateBody, which reads first values only, accepts it")
			}
		})
	}

	t.Run("convotest repeated key", func(t *testing.T) {
		form := url.Values{
			"From": {sigFrom},
			"To":   {sigTo},
			"Body": {"tags"},
			"Tag":  {"zeta", "alpha", "mu"},
		}
		before := s.replies.Load()
		rec := s.post(sigHookURL, form.Encode(), convotest.Signature(sigAuthToken, sigHookURL, form), "")
		assert.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
		assert.Equal(t, before+1, s.replies.Load())
	})
	assert.NotContains(t, s.logs.String(), sigAuthToken)
}

// TestSharedKey checks SharedKey signatures: either algorithm with the
// shared secret, nothing else, and a log line saying why not.
func TestSharedKey(t *testing.T) {
	pairs := [][2]string{{"From", sigFrom}, {"To", sigTo}, {"Body", "shared key"}}
	form, body := sigValues(pairs), sigBody(pairs)
	settings := func(alg string) string { return "key=" + sigSharedKeyID + ",algorithm=" + alg }
	both := func(cfg *convo.Config) {
		cfg.AuthToken = sigAuthToken
		cfg.SharedKeySecret = sigSharedSecret
	}
	var all []*sigServer
	server := func(t *testing.T, mod func(*convo.Config)) *sigServer {
		s := newSigServer(t, mod)
		all = append(all, s)
		return s
	}

	for _, alg := range []struct {
		name    string
		newHash func() hash.Hash
	}{{"HMAC_SHA1", sha1.New}, {"HMAC_SHA256", sha256.New}} {
		t.Run(alg.name, func(t *testing.T) {
			s := server(t, both)
			sig := refSign(alg.newHash, sigSharedSecret, sigHookURL, form)
			assert.Equal(t, http.StatusOK, s.post(sigHookURL, body, sig, settings(alg.name)).Code)

			byToken := refSign(alg.newHash, sigAuthToken, sigHookURL, form)
			assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, body, byToken, settings(alg.name)).Code,
				"signed with the auth token as key")
			assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, body, sig, "").Code,
				"the shared-key signature without its settings header")
			assert.EqualValues(t, 1, s.replies.Load())
		})
	}

	t.Run("unknown algorithm", func(t *testing.T) {
		s := server(t, both)
		for _, newHash := range []func() hash.Hash{sha1.New, sha256.New} {
			sig := refSign(newHash, sigSharedSecret, sigHookURL, form)
			assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, body, sig, settings("HMAC_MD5")).Code)
		}
		assert.Zero(t, s.replies.Load())
		logs := s.logs.String()
		assert.Contains(t, logs, "HMAC_MD5")
		assert.Contains(t, logs, "status=403")
	})

	t.Run("no shared secret", func(t *testing.T) {
		s := server(t, func(cfg *convo.Config) { cfg.AuthToken = sigAuthToken })
		for _, key := range []string{sigSharedSecret, sigAuthToken} {
			sig := refSign(sha256.New, key, sigHookURL, form)
			assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, body, sig, settings("HMAC_SHA256")).Code)
		}
		assert.Zero(t, s.replies.Load())
		assert.Contains(t, s.logs.String(), "SharedKeySecret is not set")
	})

	t.Run("no auth token", func(t *testing.T) {
		s := server(t, func(cfg *convo.Config) { cfg.SharedKeySecret = sigSharedSecret })
		for _, key := range []string{sigSharedSecret, sigAuthToken} {
			sig := refSign(sha1.New, key, sigHookURL, form)
			assert.Equal(t, http.StatusForbidden, s.post(sigHookURL, body, sig, "").Code)
		}
		assert.Zero(t, s.replies.Load())
		assert.Contains(t, s.logs.String(), "AuthToken is not set")
	})

	for _, s := range all {
		logs := s.logs.String()
		assert.NotContains(t, logs, sigAuthToken, "a log line holds the auth token")
		assert.NotContains(t, logs, sigSharedSecret, "a log line holds the shared secret")
	}
}

// FuzzSignature: for random forms with repeated keys, the handler accepts
// exactly the requests that the reference algorithm (all values, sorted)
// signs, and nothing else.
//
// The fuzzed pairs are lines of name=value after a valid From and To; the
// mutation is one of: a value changed, a pair added, a pair dropped.
func FuzzSignature(f *testing.F) {
	f.Add("Tag=b\nTag=a\nTag=b", "", uint8(0), uint8(0), uint16(1))
	f.Add("Body=hi\nBody=smuggled\nFrom=+19999999999", "", uint8(1), uint8(2), uint16(1))
	f.Add("K\uFF21=1\nK\U0001F600=2\nK\uE000=3", "q=1", uint8(2), uint8(1), uint16(0))
	f.Add("Sym=\uE000\nSym=\U00010000\nSym=\uE000\nSym=\uFFFF", "tenant=acme", uint8(0), uint8(2), uint16(2))
	f.Add("a b=c d\na+b=+\na&b=&\n100%=%\nx=%41", "n=a b", uint8(3), uint8(0), uint16(3))
	f.Add("=\n=\n=x\nBody=", "", uint8(1), uint8(1), uint16(0))
	f.Add("Body=hello\nBody=hello", "", uint8(0), uint8(2), uint16(0))
	f.Add("Bod=yhello\nMix=b\nMix=a", "", uint8(4), uint8(1), uint16(5))

	urls := []string{
		sigHookURL,
		"https://convo.example.com:443/sms",
		"http://localhost:8080/hooks/sms",
		"https://hooks.convo.example.com/twilio/v2/sms/",
		"http://convo.example.com:80/sms",
	}
	s := newSigServer(f, func(cfg *convo.Config) { cfg.AuthToken = sigAuthToken })

	f.Fuzz(func(t *testing.T, lines, query string, urlIdx, mutation uint8, pick uint16) {
		if len(lines)+len(query) > 4<<10 {
			return
		}
		pairs := [][2]string{{"From", sigFrom}, {"To", sigTo}}
		for line := range strings.SplitSeq(strings.ToValidUTF8(lines, "\uFFFD"), "\n") {
			name, value, _ := strings.Cut(line, "=")
			if name == "NumMedia" || name == "NumSegments" { // parsed as counts: keep the request valid
				name = "X" + name
			}
			pairs = append(pairs, [2]string{name, value})
		}
		target := urls[int(urlIdx)%len(urls)]
		if query = strings.ToValidUTF8(query, "\uFFFD"); query != "" {
			target += "?q=" + url.QueryEscape(query)
		}
		sig := refSign(sha1.New, sigAuthToken, target, sigValues(pairs))
		rec := s.post(target, sigBody(pairs), sig, "")
		require.Equal(t, http.StatusOK, rec.Code, "signed %q at %s: %s", pairs, target, rec.Body)

		// One change, never to the leading From and To.
		mutated := slices.Clone(pairs)
		fuzzed := len(pairs) - 2
		i := 2 + int(pick)%fuzzed
		switch mutation % 3 {
		case 0: // a value changed, to another pair's value or to a new one
			if other := pairs[int(pick/7)%len(pairs)][1]; pick%2 == 0 && other != pairs[i][1] {
				mutated[i][1] = other
			} else {
				mutated[i][1] += "\u00e9"
			}
		case 1: // a pair added: a repeat of an existing name, or a new name
			name := pairs[int(pick/3)%len(pairs)][0]
			if pick%3 == 2 {
				name += "\U0001F600"
			}
			value := pairs[int(pick/5)%len(pairs)][1]
			if pick%5 == 4 {
				value = "added"
			}
			mutated = append(mutated, [2]string{name, value})
		default: // a pair dropped
			mutated = slices.Delete(mutated, i, i+1)
		}
		want := http.StatusForbidden
		if refSign(sha1.New, sigAuthToken, target, sigValues(mutated)) == sig {
			want = http.StatusOK // the same names and distinct values: the same request for Twilio
		}
		rec = s.post(target, sigBody(mutated), sig, "")
		require.Equal(t, want, rec.Code, "signed %q, posted %q at %s: %s", pairs, mutated, target, rec.Body)
	})
}
