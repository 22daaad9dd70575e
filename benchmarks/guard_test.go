package benchmarks

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// raceEnabled is set under the race detector, which slows systems unevenly.
var raceEnabled bool

// The guard's limits, each a ratio of two systems' costs in one run; a
// max of 0 only reports the ratio.
var guardLimits = []struct {
	system, reference string
	max               float64
}{
	{"convo-memstore", "floor", 1.5},
	{"convo-cookiestore", "gorilla-sessions", 0.5},
	{"convo-memstore-inline", "floor", 0}, // what guarding the reply timeout costs
}

// TestGuard fails when convo's webhook on memstore costs more than 1.5
// times the floor, or on cookiestore more than half what gorilla/sessions
// costs, measured in this run. It runs only with CONVO_BENCH_GUARD=1 (CI),
// never under the race detector:
//
//	CONVO_BENCH_GUARD=1 go test -run '^TestGuard$' -count=1 .
//
// For each limit it times the two systems in alternating chunks of
// guardChunk messages, after warmup messages per pair and a garbage
// collection, CONVO_BENCH_GUARD_N messages (40000) of each in all, and
// compares the median of the ratios of adjacent chunks: another process
// taking the CPU for a moment moves a few chunks, not the verdict, on a
// machine shared with other work. It runs on one P (GOMAXPROCS 1), and a
// chunk's cost is the CPU time the process used (where the system can
// tell; wall time elsewhere): other processes' work does not count; the
// garbage collector's does, in full, as it cannot run on a second core
// for free; and an idle second P spinning up at every goroutine handoff
// does not inflate the systems that start goroutines. The log shows the
// wall-clock ratio beside each. CONVO_BENCH_GUARD_ONLY=<system> checks
// only that system's limit, for a longer run while working on it.
func TestGuard(t *testing.T) {
	if os.Getenv("CONVO_BENCH_GUARD") != "1" {
		t.Skip("set CONVO_BENCH_GUARD=1 to run the benchmark guard")
	}
	if raceEnabled {
		t.Skip("the benchmark guard does not run under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	n := envInt(t, "CONVO_BENCH_GUARD_N", 40000)
	chunks := max(n/guardChunk, 1)
	only := os.Getenv("CONVO_BENCH_GUARD_ONLY")
	for _, l := range guardLimits {
		if only != "" && l.system != only {
			continue
		}
		sys := newRunner(newSystem(t, systemNamed(t, l.system), nil), pairs)
		ref := newRunner(newSystem(t, systemNamed(t, l.reference), nil), pairs)
		sys.run(t, warmup*pairs)
		ref.run(t, warmup*pairs)
		runtime.GC()
		var sysNs, refNs, ratios, wallRatios []float64
		for i := range chunks {
			a, b := sys, ref
			if i%2 == 1 {
				a, b = ref, sys
			}
			ca, wa := timeChunk(t, a)
			cb, wb := timeChunk(t, b)
			if i%2 == 1 {
				ca, wa, cb, wb = cb, wb, ca, wa
			}
			sysNs, refNs = append(sysNs, ca), append(refNs, cb)
			ratios, wallRatios = append(ratios, ca/cb), append(wallRatios, wa/wb)
		}
		ratio := medianOf(ratios)
		limit := "no limit"
		if l.max > 0 {
			limit = "limit " + strconv.FormatFloat(l.max, 'f', 2, 64)
		}
		t.Logf("%s / %s: median ratio %.2f (%s; wall-clock ratio %.2f) over %d chunk pairs of %d messages; median CPU ns per message %.0f / %.0f; ratios %s",
			l.system, l.reference, ratio, limit, medianOf(wallRatios), chunks, guardChunk, medianOf(sysNs), medianOf(refNs), formatRatios(ratios))
		if l.max > 0 && ratio > l.max {
			t.Errorf("%s costs %.2f× %s per message (limit %.2f×)", l.system, ratio, l.reference, l.max)
		}
	}
}

// guardChunk is how many messages the guard times at once: enough for
// several garbage collections in each chunk, so that whether one more
// falls in a chunk or the next moves its ratio little. (With 500, a
// chunk's ratio jumped between two values, 0.3 and 0.45 for cookiestore,
// by the collections that fell in it.)
const guardChunk = 2000

// timeChunk sends guardChunk messages through r and returns their cost:
// CPU ns per message (wall-clock ns where CPU time is not known), and
// wall-clock ns per message.
func timeChunk(t *testing.T, r *runner) (cost, wall float64) {
	startCPU, start := cpuTime(), time.Now()
	r.run(t, guardChunk)
	wall = float64(time.Since(start).Nanoseconds()) / guardChunk
	if !haveCPUTime {
		return wall, wall
	}
	return float64((cpuTime() - startCPU).Nanoseconds()) / guardChunk, wall
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func medianOf(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func formatRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, c := range v {
		parts[i] = strconv.FormatFloat(c, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}
