package convotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf16"
)

// Signature returns the X-Twilio-Signature Twilio sends with a webhook POST
// of form to webhookURL, signed with authToken: base64 of the HMAC-SHA1,
// keyed with the token, of the URL followed by each parameter's name and
// value, names sorted, without separators. A parameter with several values
// contributes each distinct value, sorted, as Twilio's own libraries do.
// Sorting is by UTF-16 code units, as Twilio's is.
//
// webhookURL is the URL Twilio is configured with, exactly: its scheme,
// host, port, path and query all enter the signature.
func Signature(authToken, webhookURL string, form url.Values) string {
	return sign(sha1.New, authToken, webhookURL, form)
}

// SharedKeySignature returns the X-Twilio-Signature of a webhook Twilio
// signs with a Webhooks Rule's SharedKey: the same text as Signature's,
// keyed with the shared key's secret, with algorithm "HMAC_SHA1" or
// "HMAC_SHA256". Twilio sends it with the header
// X-Twilio-Webhooks-Signature-Settings: key=<the key's SID>,algorithm=<algorithm>.
func SharedKeySignature(secret, algorithm, webhookURL string, form url.Values) string {
	h := sha1.New
	if algorithm == "HMAC_SHA256" {
		h = sha256.New
	}
	return sign(h, secret, webhookURL, form)
}

func sign(h func() hash.Hash, key, webhookURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(webhookURL)
	for _, k := range slices.SortedFunc(maps.Keys(form), utf16Order) {
		for _, v := range slices.Compact(slices.SortedFunc(slices.Values(form[k]), utf16Order)) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(h, []byte(key))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// utf16Order compares a and b by their UTF-16 code units, then, for
// strings that only invalid UTF-8 (read as U+FFFD) tells apart, by their
// bytes, as the Handler does.
func utf16Order(a, b string) int {
	if c := slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b))); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
