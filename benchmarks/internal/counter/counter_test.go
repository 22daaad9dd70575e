package counter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int // 0: ErrNoCount
	}{
		{`<?xml version="1.0" encoding="UTF-8"?><Response><Message>Rey has messaged +15005550006 3 times</Message></Response>`, 3},
		{"Friend has messaged +15005550006 42 times", 42},
		{"1 times 2 times", 2},
		{"2147483647 times", 2147483647},
		{"2147483648 times", 0},
		{"99999999999 times", 0},
		{"0 times", 0},
		{" times", 0},
		{"times", 0},
		{"", 0},
		{"<Response/>", 0},
		{"x7 times", 7},
	} {
		n, err := Count([]byte(tc.body))
		if tc.want == 0 {
			assert.ErrorIs(t, err, ErrNoCount, tc.body)
			continue
		}
		require.NoError(t, err, tc.body)
		assert.Equal(t, tc.want, n, tc.body)
	}
}

func TestGreetingRoundTrip(t *testing.T) {
	n, err := Count([]byte(Greeting("Rey", "+15005550006", 17)))
	require.NoError(t, err)
	assert.Equal(t, 17, n)
}

// FuzzCount: any body either gives a count in range or ErrNoCount, and a
// greeting of n always gives n back.
func FuzzCount(f *testing.F) {
	f.Add([]byte("Friend has messaged +15005550006 3 times"), 3)
	f.Add([]byte("<Response><Message>9 times</Message></Response>"), 1)
	f.Add([]byte("00000000000000000001 times"), 2147483647)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if c, err := Count(body); err == nil && (c < 1 || c > 1<<31-1) {
			t.Fatalf("count %d out of range", c)
		} else if err != nil {
			assert.ErrorIs(t, err, ErrNoCount)
		}
		if n < 1 || n > 1<<31-1 {
			return
		}
		c, err := Count(append(body, Greeting("Friend", "+1", n)...))
		require.NoError(t, err)
		assert.Equal(t, n, c)
	})
}
