// Package stats holds the small summaries the benchmark tools print: a
// median, and a latency rounded for reading.
package stats

import (
	"slices"
	"time"
)

// Median returns the median of v, the mean of the middle two when len(v)
// is even, and 0 when v is empty. It does not change v.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Round rounds a latency to the digits worth reading: to 100 µs from
// 10 ms, to 1 µs from 100 µs, and not below.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}
