package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// signature is Twilio's X-Twilio-Signature of a POST of form to rawURL:
// base64 of HMAC-SHA1, keyed with the auth token, of the URL followed by
// every parameter's name and value, sorted by name (and a repeated
// parameter's values sorted too), with nothing between them.
func signature(token, rawURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	for _, name := range slices.Sorted(maps.Keys(form)) {
		for _, v := range slices.Sorted(slices.Values(form[name])) {
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
