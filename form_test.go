package convo

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parseForm must read every form exactly as url.ParseQuery does, so that
// the signature check and the app see the parameters net/http would give.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		"", "a=1", "a=1&a=2&b=", "From=%2B14158675308&To=%2B15005550006&Body=hi+there",
		"a;b=1", "%zz=1", "a=%zz", "&&a&=", "=x", "a=1&b=2;c=3", "k=%E2%9C%93",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Count(s, "&") >= maxParams {
			return
		}
		want, wantErr := url.ParseQuery(s)
		got, err := formString(s)
		if wantErr != nil {
			require.Error(t, err, "url.ParseQuery refused %q", s)
			return
		}
		require.NoError(t, err)
		if len(want) == 0 {
			require.Empty(t, got)
			return
		}
		require.Equal(t, want, got)
	})
}

// formString is parseForm for a string, which it leaves intact.
func formString(s string) (url.Values, error) { return parseForm([]byte(s)) }

func TestParseFormLimits(t *testing.T) {
	_, err := formString(strings.Repeat("a=1&", maxParams))
	require.ErrorIs(t, err, errTooManyParams)
}

func TestReadForm(t *testing.T) {
	const limit = 64
	tests := []struct {
		name    string
		body    string
		length  int64 // -1: unknown, as for a chunked body
		want    url.Values
		wantErr string
	}{
		{"known length", "From=%2B14158675308&Body=hi+there&Body=again", -2, url.Values{"From": {"+14158675308"}, "Body": {"hi there", "again"}}, ""},
		{"unknown length", "From=%2B14158675308&Body=hi+there", -1, url.Values{"From": {"+14158675308"}, "Body": {"hi there"}}, ""},
		{"shorter than its Content-Length", "From=x", 20, nil, "body shorter than its Content-Length"},
		{"declared too large", "From=x", limit + 1, nil, "request body too large"},
		{"too large, length unknown", "Body=" + strings.Repeat("x", limit), -1, nil, "request body too large"},
		{"bad escape", "From=%zz", -2, nil, `invalid URL escape "%zz"`},
		{"semicolon", "a=1;b=2", -2, nil, "invalid semicolon separator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			switch tt.length {
			case -2:
				r.ContentLength = int64(len(tt.body))
			default:
				r.ContentLength = tt.length
			}
			got, err := readForm(httptest.NewRecorder(), r, limit)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want, r.PostForm)
		})
	}
}

// The form's values are copies: the pooled buffer a body is read into is
// reused by the next request without changing them, and appending to one
// value's slice never overwrites another's.
func TestReadFormValuesAreIndependent(t *testing.T) {
	read := func(body string) url.Values {
		r := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := readForm(httptest.NewRecorder(), r, 1<<10)
		require.NoError(t, err)
		return form
	}
	first := read("From=%2B14158675308&To=%2B15005550006&Body=one")
	second := read("From=%2B19999999999&To=%2B18888888888&Body=two")
	require.Equal(t, url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"one"}}, first)
	require.Equal(t, "+19999999999", second.Get("From"))

	first["From"] = append(first["From"], "extra")
	require.Equal(t, []string{"+15005550006"}, first["To"])
	require.Equal(t, []string{"one"}, first["Body"])
}

func BenchmarkParseForm(b *testing.B) {
	body := []byte(url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {"SM0123456789abcdef0123456789abcdef"}, "NumMedia": {"0"},
		"ToCity": {"SAN FRANCISCO"}, "FromZip": {"94105"}, "SmsSid": {"SM0123456789abcdef0123456789abcdef"}, "FromState": {"CA"},
		"SmsStatus": {"received"}, "FromCity": {"SAN FRANCISCO"}, "Body": {"Hello there"},
		"FromCountry": {"US"}, "To": {"+15005550006"}, "ToZip": {"94105"}, "NumSegments": {"1"},
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
		"From": {"+14158675308"}, "ApiVersion": {"2010-04-01"},
	}.Encode())
	buf := make([]byte, len(body))
	b.Run("parseForm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			copy(buf, body)
			if _, err := parseForm(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("url.ParseQuery", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := url.ParseQuery(string(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
