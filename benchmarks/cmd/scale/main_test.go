package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-store", "nope"}, {"-n", "10"}, {"-turns", "0"}, {"extra"}} {
		_, err := parseFlags(args, io.Discard)
		require.Error(t, err, args)
	}
}

func TestStats(t *testing.T) {
	var lat []time.Duration
	for i := range 100 {
		lat = append(lat, time.Duration(i+1)*time.Millisecond)
	}
	s := latenciesOf(lat)
	assert.Equal(t, 51*time.Millisecond, s.p50)
	assert.Equal(t, 100*time.Millisecond, s.p99)
	assert.Equal(t, 100*time.Millisecond, s.max)
	assert.Equal(t, 50, s.over50ms)
}

// A small run on each store that needs no server: fill, read back,
// latency, expiry, clean up.
func TestScaleSmall(t *testing.T) {
	for _, store := range []string{"memstore", "sqlite"} {
		t.Run(store, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(context.Background(), []string{"-store", store, "-n", "3000", "-turns", "600", "-baseline", "500ms"}, &out), out.String())
			assert.Contains(t, out.String(), "filled 3000 conversations")
			assert.Contains(t, out.String(), "| "+store+" | 3000 |")
			assert.NotContains(t, out.String(), "cleaning up")
		})
	}
}
