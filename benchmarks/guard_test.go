package benchmarks

import (
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsconvo/convo/benchmarks/internal/proccpu"
	"github.com/smsconvo/convo/benchmarks/internal/systems"
)

// raceEnabled is set under the race detector, which slows systems unevenly.
var raceEnabled bool

// The guard's limits, each a ratio of two systems' costs in one run; a
// max of 0 only reports the ratio. A limit between systems on a server
// counts the server's CPU time too (see timeChunk).
var guardLimits = []struct {
	system, reference string
	max               float64
}{
	{"convo-memstore", "floor", 1.5},
	// 0.8, not the 0.5 of convo's earlier compact cookie codec: the cookie
	// now holds the record every store keeps, JSON about twice the size,
	// which securecookie's cost follows (BENCHMARKS.md, "Regression guard").
	{"convo-cookiestore", "gorilla-sessions", 0.8},
	{"convo-sqlstore", "scs-sqlite3store", 1.0},
	{"convo-sqlstore-postgres", "scs-postgresstore", 0}, // reported: too noisy for a limit (BENCHMARKS.md)
}

// TestGuard fails when convo's webhook on memstore costs more than 1.5
// times the floor, on cookiestore more than 0.8 of what gorilla/sessions
// costs, or on SQLite (sqlstore) more than scs on SQLite (sqlite3store,
// the same driver), measured in this run. It reports, without a limit,
// convo on PostgreSQL against scs on PostgreSQL, webhook and database CPU
// together. It runs only with CONVO_BENCH_GUARD=1 (CI), never under the
// race detector:
//
//	CONVO_BENCH_GUARD=1 go test -run '^TestGuard$' -count=1 .
//
// For each limit it times the two systems in alternating chunks of
// guardChunk messages, after warmup messages per pair and a garbage
// collection, CONVO_BENCH_GUARD_N messages (40000; a quarter of it for a
// limit on a server) of each in all, and compares the median of the
// ratios of adjacent chunks: another process taking the CPU for a moment
// moves a few chunks, not the verdict, on a machine shared with other
// work. It runs on one P (GOMAXPROCS 1), and a chunk's cost is the CPU
// time the process used (where the system can tell; wall time
// elsewhere), plus the server's for systems on one (read from /proc):
// other processes' work does not count; the garbage collector's does, in
// full, as it cannot run on a second core for free; and an idle second P
// spinning up at every goroutine handoff does not inflate the systems
// that start goroutines. convo's Handler runs on the paced clock, a pair
// texting once a minute. The log shows the wall-clock ratio beside each.
// CONVO_BENCH_GUARD_ONLY=<system> checks only that system's limit, for a
// longer run while working on it. A ratio whose server is not configured
// (CONVO_TEST_POSTGRES_DSN) is skipped, saying so.
func TestGuard(t *testing.T) {
	if os.Getenv("CONVO_BENCH_GUARD") != "1" {
		t.Skip("set CONVO_BENCH_GUARD=1 to run the benchmark guard")
	}
	if raceEnabled {
		t.Skip("the benchmark guard does not run under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	n := envInt(t, "CONVO_BENCH_GUARD_N", 40000)
	only := os.Getenv("CONVO_BENCH_GUARD_ONLY")
	for _, l := range guardLimits {
		if only != "" && l.system != only {
			continue
		}
		t.Run(l.system, func(t *testing.T) {
			sys, ref := systemNamed(t, l.system), systemNamed(t, l.reference)
			g := guarded{sys: newRunner(newSystem(t, sys, nil, paced()), pairs), ref: newRunner(newSystem(t, ref, nil, paced()), pairs)}
			messages := n
			if group, ok := systems.BackendsFromEnv().Server(sys.Backend); ok {
				g.server, g.root = &group, "/proc"
				messages = max(n/4, guardChunk)
			}
			ratio := g.measure(t, max(messages/guardChunk, 1))
			limit := "no limit"
			if l.max > 0 {
				limit = "limit " + strconv.FormatFloat(l.max, 'f', 2, 64)
			}
			t.Logf("%s / %s: median ratio %.2f (%s; wall-clock ratio %.2f) over %d chunk pairs of %d messages; median CPU ns per message %.0f / %.0f%s; ratios %s",
				l.system, l.reference, ratio, limit, stats.Median(g.wallRatios), len(g.ratios), guardChunk, stats.Median(g.sysNs), stats.Median(g.refNs), g.serverNote(), formatRatios(g.ratios))
			if l.max > 0 && ratio > l.max {
				t.Errorf("%s costs %.2f× %s per message (limit %.2f×)", l.system, ratio, l.reference, l.max)
			}
		})
	}
}

// guarded is one limit's two systems and what their chunks measured.
type guarded struct {
	sys, ref   *runner
	server     *proccpu.Group // the server whose CPU counts too, if any
	root       string         // where /proc is
	inexact    int            // chunks whose server CPU is in clock ticks
	sysSrv     []float64      // server CPU ns per message, of sys's chunks
	refSrv     []float64
	sysNs      []float64 // total CPU ns per message
	refNs      []float64
	ratios     []float64
	wallRatios []float64
}

// measure warms both systems up and times chunks pairs of chunks,
// alternating which goes first, and returns the median ratio.
func (g *guarded) measure(t *testing.T, chunks int) float64 {
	g.sys.run(t, warmup*pairs)
	g.ref.run(t, warmup*pairs)
	runtime.GC()
	for i := range chunks {
		a, b := g.sys, g.ref
		if i%2 == 1 {
			a, b = g.ref, g.sys
		}
		ca, sa, wa := g.timeChunk(t, a)
		cb, sb, wb := g.timeChunk(t, b)
		if i%2 == 1 {
			ca, sa, wa, cb, sb, wb = cb, sb, wb, ca, sa, wa
		}
		g.sysNs, g.refNs = append(g.sysNs, ca), append(g.refNs, cb)
		g.sysSrv, g.refSrv = append(g.sysSrv, sa), append(g.refSrv, sb)
		g.ratios, g.wallRatios = append(g.ratios, ca/cb), append(g.wallRatios, wa/wb)
	}
	return stats.Median(g.ratios)
}

func (g *guarded) serverNote() string {
	if g.server == nil {
		return ""
	}
	note := fmt.Sprintf(", of which %s %.0f / %.0f", g.server.Name, stats.Median(g.sysSrv), stats.Median(g.refSrv))
	if g.inexact > 0 {
		note += fmt.Sprintf(" (%d chunks in clock ticks)", g.inexact)
	}
	return note
}

// guardChunk is how many messages the guard times at once: enough for
// several garbage collections in each chunk, so that whether one more
// falls in a chunk or the next moves its ratio little. (With 500, a
// chunk's ratio jumped between two values, 0.3 and 0.45 for cookiestore,
// by the collections that fell in it.)
const guardChunk = 2000

// timeChunk sends guardChunk messages through r and returns their cost:
// CPU ns per message (wall-clock ns where CPU time is not known), the
// server's included, that part alone, and wall-clock ns per message.
func (g *guarded) timeChunk(t *testing.T, r *runner) (cost, server, wall float64) {
	var before proccpu.Sample
	if g.server != nil {
		var err error
		if before, err = proccpu.Take(g.root, *g.server); err != nil {
			t.Fatal(err)
		}
	}
	startCPU, start := cpuTime(), time.Now()
	r.run(t, guardChunk)
	wall = float64(time.Since(start).Nanoseconds()) / guardChunk
	cost = wall
	if haveCPUTime {
		cost = float64((cpuTime() - startCPU).Nanoseconds()) / guardChunk
	}
	if g.server != nil {
		after, err := proccpu.Take(g.root, *g.server)
		if err != nil {
			t.Fatal(err)
		}
		d, exact := after.Since(before)
		if !exact {
			g.inexact++
		}
		server = float64(d.Nanoseconds()) / guardChunk
	}
	return cost + server, server, wall
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

func formatRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, c := range v {
		parts[i] = strconv.FormatFloat(c, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}
