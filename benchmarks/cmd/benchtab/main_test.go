package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: github.com/smsconvo/convo/benchmarks
cpu: AMD EPYC
BenchmarkWebhook/floor-2         	    3000	      6000 ns/op	    7288 B/op	      65 allocs/op
BenchmarkWebhook/convo-memstore-2         	    3000	      7800 ns/op	    5861 B/op	      53 allocs/op
BenchmarkWebhook/floor-2         	    3000	      7000 ns/op	    7290 B/op	      65 allocs/op
BenchmarkWebhook/convo-memstore-2         	    3000	      9000 ns/op	    5863 B/op	      53 allocs/op
BenchmarkWebhook/floor-2         	    3000	     60000 ns/op	    7289 B/op	      65 allocs/op
BenchmarkWebhook/convo-memstore-2         	    3000	      8400 ns/op	    5862 B/op	      53 allocs/op
BenchmarkWebhook/gorilla-sessions     	    3000	   1212345 ns/op
PASS
ok  	github.com/smsconvo/convo/benchmarks	0.658s
`

func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(strings.NewReader(sampleOutput), &out, "floor"))
	assert.Equal(t, `| system | ns/op | × floor | B/op | allocs/op | runs |
|---|--:|--:|--:|--:|--:|
| floor | 7,000 | 1.00 | 7,289 | 65 | 3 |
| convo-memstore | 8,400 | 1.29 | 5,862 | 53 | 3 |
| gorilla-sessions | 1,212,345 | 173.19 | — | — | 1 |
`, out.String())
}

func TestRunNoReference(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(strings.NewReader(sampleOutput), &out, "absent"))
	assert.Contains(t, out.String(), "| floor | 7,000 | — |")
}

func TestRunEmpty(t *testing.T) {
	assert.Error(t, run(strings.NewReader("PASS\n"), &strings.Builder{}, "floor"))
}

func TestSystemName(t *testing.T) {
	for in, want := range map[string]string{
		"BenchmarkWebhook/convo-memstore-2": "convo-memstore",
		"BenchmarkWebhook/floor":            "floor",
		"BenchmarkWebhookFloor-8":           "BenchmarkWebhookFloor",
		"BenchmarkWebhook/scs-memstore-16":  "scs-memstore",
	} {
		assert.Equal(t, want, systemName(in), in)
	}
}

// FuzzRun: any input gives a table or an error, never a panic.
func FuzzRun(f *testing.F) {
	f.Add(sampleOutput, "floor")
	f.Add("BenchmarkX-2 1 1 ns/op 1 B/op x allocs/op\n", "X")
	f.Add("Benchmark/-2 1 NaN ns/op\n", "")
	f.Fuzz(func(t *testing.T, in, ref string) {
		var out strings.Builder
		if err := run(strings.NewReader(in), &out, ref); err == nil {
			assert.True(t, strings.HasPrefix(out.String(), "| system |"))
		}
	})
}
