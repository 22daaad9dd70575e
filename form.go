package convo

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

var (
	errUnsupportedMediaType = errors.New("content type is not application/x-www-form-urlencoded")
	errTooManyParams        = errors.New("too many form parameters")
)

// maxParams bounds the parameters of one webhook form; Twilio sends a few
// dozen.
const maxParams = 1000

// readForm reads and parses r's url-encoded body, at most max bytes, and
// sets r.PostForm. It does what r.ParseForm does for a POST, without
// merging the URL's query into r.Form (the signature covers only the body's
// parameters) and with the map sized up front, which makes it about a third
// cheaper. When r.PostForm is already set, it is the form. Errors: *http.MaxBytesError when the body is too large,
// errUnsupportedMediaType, errTooManyParams, or the first parse error.
func readForm(w http.ResponseWriter, r *http.Request, max int64) (url.Values, error) {
	if r.PostForm != nil {
		// A middleware parsed the form already (r.ParseForm, r.FormValue):
		// the body is gone, and what it read is the form.
		return r.PostForm, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, errUnsupportedMediaType
		}
	}
	if r.ContentLength > max {
		return nil, &http.MaxBytesError{Limit: max}
	}
	body := http.MaxBytesReader(w, r.Body, max)
	var b []byte
	var err error
	if r.ContentLength > 0 {
		b = make([]byte, r.ContentLength)
		_, err = io.ReadFull(body, b)
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("body shorter than its Content-Length: %w", err)
		}
	} else {
		b, err = io.ReadAll(body)
	}
	if err != nil {
		return nil, err
	}
	vals, err := parseForm(string(b))
	if err != nil {
		return nil, err
	}
	r.PostForm = vals
	return vals, nil
}

// parseForm parses an application/x-www-form-urlencoded string exactly as
// url.ParseQuery does (FuzzParseForm checks it), but fails outright on the
// first error and sizes the map once.
func parseForm(s string) (url.Values, error) {
	n := strings.Count(s, "&") + 1
	if n > maxParams {
		return nil, errTooManyParams
	}
	vals := make(url.Values, n)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if strings.Contains(pair, ";") {
			return nil, errors.New("invalid semicolon separator in form")
		}
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(key)
		if err != nil {
			return nil, err
		}
		value, err = url.QueryUnescape(value)
		if err != nil {
			return nil, err
		}
		vals[key] = append(vals[key], value)
	}
	return vals, nil
}
