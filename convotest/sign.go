package convotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Signature returns the X-Twilio-Signature Twilio sends with a webhook POST
// of form to webhookURL, signed with authToken: base64 of the HMAC-SHA1,
// keyed with the token, of the URL followed by each parameter's name and
// value, sorted by name (byte order), without separators. A parameter with
// several values contributes each of them, in sorted order, as Twilio's own
// libraries do.
//
// webhookURL is the URL Twilio is configured with, exactly: its scheme,
// host, port, path and query all enter the signature.
func Signature(authToken, webhookURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(webhookURL)
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := form[k]
		if len(vs) > 1 {
			vs = slices.Sorted(slices.Values(vs))
		}
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
