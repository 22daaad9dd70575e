package convo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
)

var (
	errUnsupportedMediaType = errors.New("content type is not application/x-www-form-urlencoded")
	errTooManyParams        = errors.New("too many form parameters")
	errSemicolon            = errors.New("invalid semicolon separator in form")
)

// maxParams bounds the parameters of one webhook form; Twilio sends a few
// dozen.
const maxParams = 1000

// readForm reads and parses r's url-encoded body, at most max bytes, and
// sets r.PostForm. It does what r.ParseForm does for a POST, without
// merging the URL's query into r.Form (the signature covers only the body's
// parameters), in a handful of allocations however many parameters the
// form holds (see parseForm). When r.PostForm is already set, it is the
// form. Errors: *http.MaxBytesError when the body is too large,
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
	var vals url.Values
	var err error
	if n := r.ContentLength; n > 0 {
		// The length is known and within max: read exactly that much,
		// into a pooled buffer, as parseForm copies what it keeps.
		bp := bodyBufs.Get().(*[]byte)
		if int64(cap(*bp)) < n {
			*bp = make([]byte, n)
		}
		b := (*bp)[:n]
		if _, err = io.ReadFull(r.Body, b); err == nil {
			vals, err = parseForm(b)
		} else if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("body shorter than its Content-Length: %w", err)
		}
		if cap(b) <= maxPooledBody {
			bodyBufs.Put(bp)
		}
	} else {
		var b []byte
		if b, err = io.ReadAll(http.MaxBytesReader(w, r.Body, max)); err == nil {
			vals, err = parseForm(b)
		}
	}
	if err != nil {
		return nil, err
	}
	r.PostForm = vals
	return vals, nil
}

// maxPooledBody is the largest body buffer kept for reuse.
const maxPooledBody = 16 << 10

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// span is a part of the decoded form.
type span struct{ off, end int }

// parseForm parses an application/x-www-form-urlencoded body exactly as
// url.ParseQuery does (FuzzParseForm checks it), but fails outright on the
// first error. It decodes b in place, so b's contents are lost, and the
// values it returns are cut from one string of all decoded keys and
// values: a form costs four allocations, however many parameters it has.
func parseForm(b []byte) (url.Values, error) {
	if bytes.IndexByte(b, ';') >= 0 {
		return nil, errSemicolon // as url.ParseQuery refuses it
	}
	n := bytes.Count(b, amp) + 1
	if n > maxParams {
		return nil, errTooManyParams
	}
	var spanBuf [2 * 48]span
	spans := spanBuf[:0]
	if 2*n > len(spanBuf) {
		spans = make([]span, 0, 2*n)
	}
	d := formDecoder{b: b, pct: -1, plus: -1}
	for r := 0; r <= len(b); {
		end := bytes.IndexByte(b[r:], '&')
		if end < 0 {
			end = len(b)
		} else {
			end += r
		}
		if end > r { // empty pairs are skipped
			eq := bytes.IndexByte(b[r:end], '=')
			if eq < 0 {
				eq = end
			} else {
				eq += r
			}
			k, err := d.unescape(r, eq)
			if err != nil {
				return nil, err
			}
			v := span{d.w, d.w}
			if eq < end {
				if v, err = d.unescape(eq+1, end); err != nil {
					return nil, err
				}
			}
			spans = append(spans, k, v)
		}
		r = end + 1
	}
	text := string(b[:d.w])
	vals := make(url.Values, len(spans)/2)
	backing := make([]string, len(spans)/2)
	for i := 0; i < len(spans); i += 2 {
		k, v := spans[i], spans[i+1]
		j := i / 2
		backing[j] = text[v.off:v.end]
		n := len(vals)
		// One map operation per parameter: a key seen before does not
		// grow the map, and only then are its values gathered again.
		vals[text[k.off:k.end]] = backing[j : j+1 : j+1] // capped: an append copies, never overwrites a neighbour
		if len(vals) == n {
			return gatherRepeated(vals, text, spans, backing), nil
		}
	}
	return vals, nil
}

// gatherRepeated builds the values of a form whose keys repeat, from its
// spans, cutting the values into backing: each key gets the values in
// order, as url.ParseQuery gives them.
func gatherRepeated(vals url.Values, text string, spans []span, backing []string) url.Values {
	clear(vals)
	for i := 0; i < len(spans); i += 2 {
		k, v, j := spans[i], spans[i+1], i/2
		key := text[k.off:k.end]
		backing[j] = text[v.off:v.end]
		if old, ok := vals[key]; ok {
			vals[key] = append(old, backing[j])
			continue
		}
		vals[key] = backing[j : j+1 : j+1]
	}
	return vals
}

var amp = []byte{'&'}

// formDecoder decodes a form's keys and values in place, front to back.
type formDecoder struct {
	b []byte
	w int // decoded bytes so far, at the start of b: decoding never lengthens

	// Where the next '%' and '+' are in b, each searched for again only
	// once decoding has passed it: the body is scanned for each once, and
	// most keys and values hold neither.
	pct, plus int
}

// unescape decodes b[from:to] as a query component ('+' is a space, %XX a
// byte) to b[w:], which is never ahead of from, advances w past it and
// returns where it went. Errors are url.EscapeError, as url.QueryUnescape's.
func (d *formDecoder) unescape(from, to int) (span, error) {
	b := d.b
	start := d.w
	w := start
	for from < to {
		if d.pct < from {
			d.pct = indexFrom(b, '%', from)
		}
		if d.plus < from {
			d.plus = indexFrom(b, '+', from)
		}
		i := min(d.pct, d.plus, to)
		if w != from {
			copy(b[w:], b[from:i])
		}
		w += i - from
		if i == to {
			break
		}
		if b[i] == '+' {
			b[w] = ' '
			from = i + 1
		} else {
			if i+2 >= to || !isHex(b[i+1]) || !isHex(b[i+2]) {
				return span{}, url.EscapeError(b[i:min(i+3, to)])
			}
			b[w] = unhex(b[i+1])<<4 | unhex(b[i+2])
			from = i + 3
		}
		w++
	}
	d.w = w
	return span{start, w}, nil
}

// indexFrom returns the index of the first c in b[from:], or len(b).
func indexFrom(b []byte, c byte, from int) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
