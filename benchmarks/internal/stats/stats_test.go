package stats

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		assert.Equal(t, tc.want, Median(tc.in), "%v", in)
		assert.Equal(t, in, tc.in, "Median leaves its argument as it was")
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{12345678 * time.Nanosecond, 12300 * time.Microsecond},
		{1234567 * time.Nanosecond, 1235 * time.Microsecond},
		{12345 * time.Nanosecond, 12345 * time.Nanosecond},
	} {
		assert.Equal(t, tc.want, Round(tc.in))
	}
}
