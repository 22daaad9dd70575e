package convo

import (
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
		got, err := parseForm(s)
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

func TestParseFormLimits(t *testing.T) {
	_, err := parseForm(strings.Repeat("a=1&", maxParams))
	require.ErrorIs(t, err, errTooManyParams)
}
