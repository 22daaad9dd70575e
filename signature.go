package convo

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The headers of a signed webhook.
const (
	signatureHeader = "X-Twilio-Signature"
	settingsHeader  = "X-Twilio-Webhooks-Signature-Settings" // "key=…,algorithm=HMAC_SHA256" on SharedKey webhooks
)

// verify checks the signature of a webhook whose form is form, as Twilio
// makes it: base64 of an HMAC of the URL Twilio posted to, followed by every
// parameter's name and value, names sorted, and a name with several values
// once for each distinct value, sorted. The key is the auth token, with
// HMAC-SHA1; or, when the request carries X-Twilio-Webhooks-Signature-Settings,
// the SharedKey secret with the algorithm it names (HMAC_SHA1 or
// HMAC_SHA256). The URL is tried as it is, with its default port and
// without, as Twilio's helper libraries do.
func (h *Handler) verify(r *http.Request, form url.Values) error {
	sig := r.Header.Get(signatureHeader)
	if sig == "" {
		return errors.New("no X-Twilio-Signature")
	}
	secret, newHash := h.cfg.AuthToken, sha1.New
	if settings := r.Header.Get(settingsHeader); settings != "" {
		switch alg := algorithm(settings); alg {
		case "HMAC_SHA1":
		case "HMAC_SHA256":
			newHash = sha256.New
		default:
			return fmt.Errorf("signed with unknown algorithm %q", truncate(alg, 32))
		}
		if secret = h.cfg.SharedKeySecret; secret == "" {
			return errors.New("signed with a SharedKey, but Config.SharedKeySecret is not set")
		}
	} else if secret == "" {
		return errors.New("signed with the auth token, but Config.AuthToken is not set")
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("X-Twilio-Signature is not base64")
	}
	payload := signedParams(form)
	rawURL := h.validationURL(r)
	for _, u := range []string{rawURL, withPort(rawURL, true), withPort(rawURL, false)} {
		mac := hmac.New(newHash, []byte(secret))
		mac.Write([]byte(u))
		mac.Write(payload)
		if hmac.Equal(mac.Sum(nil), want) {
			return nil
		}
	}
	return errors.New("X-Twilio-Signature does not match")
}

// algorithm returns the algorithm a signature settings header names:
// "HMAC_SHA1" when it names none.
func algorithm(settings string) string {
	for part := range strings.SplitSeq(settings, ",") {
		if name, value, ok := strings.Cut(part, "="); ok && strings.TrimSpace(name) == "algorithm" {
			if value = strings.ToUpper(strings.TrimSpace(value)); value != "" {
				return value
			}
		}
	}
	return "HMAC_SHA1"
}

// signedParams returns what follows the URL in the signed text. Names and
// values are sorted as Twilio sorts them, by UTF-16 code units.
func signedParams(form url.Values) []byte {
	names := make([]string, 0, len(form))
	size := 0
	for name, values := range form {
		names = append(names, name)
		for _, v := range values {
			size += len(name) + len(v)
		}
	}
	slices.SortFunc(names, compareUTF16)
	b := make([]byte, 0, size)
	for _, name := range names {
		values := form[name]
		if len(values) > 1 {
			values = slices.Compact(slices.SortedFunc(slices.Values(values), compareUTF16))
		}
		for _, v := range values {
			b = append(append(b, name...), v...)
		}
	}
	return b
}

// compareUTF16 orders strings as JavaScript and Java do: by UTF-16 code
// units, which differs from byte order only between characters above
// U+FFFF and those from U+E000 to U+FFFF.
func compareUTF16(a, b string) int {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		ra, na := utf8.DecodeRuneInString(a[i:])
		rb, nb := utf8.DecodeRuneInString(b[j:])
		if ra != rb {
			ua, ub := utf16Unit(ra), utf16Unit(rb)
			if ua != ub {
				return int(ua) - int(ub)
			}
			return int(ra) - int(rb)
		}
		i, j = i+na, j+nb
	}
	return strings.Compare(a, b)
}

// utf16Unit returns the first UTF-16 code unit of r.
func utf16Unit(r rune) rune {
	if r > 0xFFFF {
		r, _ = utf16.EncodeRune(r)
	}
	return r
}

// validationURL returns the URL Twilio signed the request for: the public
// URL when configured, else the one the request arrived at.
func (h *Handler) validationURL(r *http.Request) string {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	if p := h.public; p != nil {
		path, query, _ := strings.Cut(uri, "?")
		switch {
		case p.RawQuery != "":
			path, query = p.EscapedPath(), p.RawQuery
		case p.Path != "" && p.Path != "/":
			path = p.EscapedPath()
		}
		if query != "" {
			path += "?" + query
		}
		return p.Scheme + "://" + p.Host + path
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if h.cfg.TrustForwardedHeaders {
		if v := firstValue(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstValue(r.Header.Get("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	return scheme + "://" + host + uri
}

func firstValue(s string) string {
	s, _, _ = strings.Cut(s, ",")
	return strings.TrimSpace(s)
}

// withPort returns rawURL with its scheme's default port (443 or 80) when
// add is set and it has none, or without its port when add is not set.
func withPort(rawURL string, add bool) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, path := rest[:end], rest[end:]
	colon := strings.LastIndexByte(host, ':')
	hasPort := colon > strings.LastIndexByte(host, ']')
	switch {
	case hasPort && !add:
		host = host[:colon]
	case !hasPort && add && strings.EqualFold(scheme, "https"):
		host += ":443"
	case !hasPort && add:
		host += ":80"
	}
	return scheme + "://" + host + path
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
