// Command benchtab turns the output of the webhook benchmarks into the
// markdown table of BENCHMARKS.md: for each system, the median ns/op, B/op
// and allocs/op over the runs (-count) and its cost relative to the
// floor's. -count N runs every system once per round, so the i-th result
// of a system and the floor's i-th were measured moments apart; the ratio
// is the median of those per-round ratios, which a machine busy with other
// work for a while disturbs less than a ratio of medians. (With unequal
// numbers of results it is the ratio of the medians.)
//
//	go test -run '^$' -bench Webhook -benchmem -count 5 | tee bench.txt
//	go run ./cmd/benchtab < bench.txt
//
// Lines that are not benchmark results are ignored; systems keep the order
// of their first result. The reference system is "floor", or -ref.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	ref := flag.String("ref", "floor", "the system the ratios are to")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
}

// sample is the medians of one system's results.
type sample struct {
	name                string
	ns, bytes, allocs   []float64
	hasBytes, hasAllocs bool
}

func run(in io.Reader, out io.Writer, ref string) error {
	samples, err := parse(in)
	if err != nil {
		return err
	}
	if len(samples) == 0 {
		return errors.New("no benchmark results in the input")
	}
	var refs *sample
	for _, s := range samples {
		if s.name == ref {
			refs = s
		}
	}
	fmt.Fprintf(out, "| system | ns/op | × %s | B/op | allocs/op | runs |\n|---|--:|--:|--:|--:|--:|\n", ref)
	for _, s := range samples {
		ratio := "—"
		if r, ok := ratioTo(s, refs); ok {
			ratio = strconv.FormatFloat(r, 'f', 2, 64)
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %d |\n", s.name, group(stats.Median(s.ns)), ratio,
			optional(s.hasBytes, s.bytes), optional(s.hasAllocs, s.allocs), len(s.ns))
	}
	return nil
}

// parse reads benchmark result lines:
//
//	BenchmarkWebhook/floor-2   3000   6663 ns/op   7288 B/op   65 allocs/op
func parse(in io.Reader) ([]*sample, error) {
	var samples []*sample
	byName := map[string]*sample{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := systemName(f[0])
		s := byName[name]
		if s == nil {
			s = &sample{name: name}
			byName[name] = s
			samples = append(samples, s)
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", sc.Text(), err)
		}
		s.ns = append(s.ns, ns)
		for i := 4; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", sc.Text(), err)
			}
			switch f[i+1] {
			case "B/op":
				s.bytes, s.hasBytes = append(s.bytes, v), true
			case "allocs/op":
				s.allocs, s.hasAllocs = append(s.allocs, v), true
			}
		}
	}
	return samples, sc.Err()
}

// systemName is the last element of a benchmark's name, without the
// GOMAXPROCS suffix: BenchmarkWebhook/convo-memstore-2 is convo-memstore.
func systemName(bench string) string {
	name := bench[strings.LastIndexByte(bench, '/')+1:]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	return name
}

// ratioTo is the median of s's per-round ratios to ref, or the ratio of
// the medians when their numbers of results differ.
func ratioTo(s, ref *sample) (float64, bool) {
	if ref == nil {
		return 0, false
	}
	if len(s.ns) != len(ref.ns) {
		m := stats.Median(ref.ns)
		return stats.Median(s.ns) / m, m > 0
	}
	ratios := make([]float64, 0, len(s.ns))
	for i := range s.ns {
		if ref.ns[i] > 0 {
			ratios = append(ratios, s.ns[i]/ref.ns[i])
		}
	}
	return stats.Median(ratios), len(ratios) > 0
}

func optional(ok bool, v []float64) string {
	if !ok {
		return "—"
	}
	return group(stats.Median(v))
}

// group writes a number rounded to a whole with thousands separators.
func group(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
