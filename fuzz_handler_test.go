package convo_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/memstore"
	"github.com/stretchr/testify/require"
)

// FuzzHandlerSignature throws arbitrary forms and signatures at a Handler
// that checks signatures: it must never panic or answer 5xx, must refuse
// every request whose signature is not Twilio's for the form, and must
// accept a well-formed message signed correctly.
func FuzzHandlerSignature(f *testing.F) {
	f.Add("From=%2B14158675308&To=%2B15005550006&Body=hi&MessageSid=SM1", "", true)
	f.Add("From=%2B14158675308&To=%2B15005550006&Body=hi", "bm90IGEgc2lnbmF0dXJl", false)
	f.Add("From=a&From=b&To=c", "", true)
	f.Add("Body=%3C%2FMessage%3E&From=x&To=y&NumMedia=1&MediaUrl0=u", "", true)
	f.Add("%zz", "", true)
	f.Add("From=x;To=y", "", true)
	store := memstore.New(memstore.Options{})
	f.Cleanup(func() { store.Close() })
	h, err := convo.NewHandler(convo.Config{Store: store, AuthToken: token, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body, sig string, signIt bool) {
		form, formErr := url.ParseQuery(body)
		if signIt && formErr == nil {
			sig = sign(token, hookURL, form)
		}
		req := httptest.NewRequest(http.MethodPost, hookURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "5xx for a caller's request: %s", rec.Body)
		correct := formErr == nil && sig == sign(token, hookURL, form)
		if rec.Code == http.StatusOK {
			require.True(t, correct, "accepted a request without Twilio's signature")
			return
		}
		if correct && form.Get("From") != "" && form.Get("To") != "" && form.Get("NumMedia") == "" &&
			form.Get("NumSegments") == "" && len(body) < convo.DefaultMaxBodyBytes {
			require.Equal(t, http.StatusOK, rec.Code, "refused a correctly signed message: %s", rec.Body)
		}
	})
}
