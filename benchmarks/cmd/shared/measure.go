package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/smsconvo/convo/benchmarks/internal/stats"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smsconvo/convo/benchmarks/internal/proccpu"
	"github.com/smsconvo/convo/benchmarks/internal/systems"
)

// build builds cmd/serve and cmd/load into dir, for those cfg lacks.
func build(ctx context.Context, dir string, cfg *config) error {
	for _, b := range []struct {
		path *string
		pkg  string
	}{{&cfg.serve, "github.com/smsconvo/convo/benchmarks/cmd/serve"}, {&cfg.load, "github.com/smsconvo/convo/benchmarks/cmd/load"}} {
		if *b.path != "" {
			continue
		}
		out := filepath.Join(dir, filepath.Base(b.pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, b.pkg)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s (run from within the benchmarks module): %w\n%s", b.pkg, err, msg)
		}
		*b.path = out
	}
	return nil
}

// pairsToMeasure returns the shared systems to measure, by backend:
// convo's and its scs peer, leaving out the backends not configured.
func pairsToMeasure(cfg *config) ([][]systems.System, error) {
	backends := systems.BackendsFromEnv()
	var pairs [][]systems.System
	for _, s := range systems.Shared() {
		if !s.Convo {
			continue
		}
		if err := backends.Check(s.Backend); err != nil {
			fmt.Fprintf(cfg.verbose, "skipping %s: %v\n", s.Backend, err)
			continue
		}
		peer, err := systems.Named(s.Peer)
		if err != nil {
			return nil, err
		}
		var pair []systems.System
		for _, x := range []systems.System{s, peer} {
			if len(cfg.only) == 0 || slices.Contains(cfg.only, x.Name) {
				pair = append(pair, x)
			}
		}
		if len(pair) > 0 {
			pairs = append(pairs, pair)
		}
	}
	if len(pairs) == 0 {
		return nil, errors.New("no shared system to measure (see -systems and the CONVO_TEST_* variables)")
	}
	return pairs, nil
}

// sample is what one run of one system measured.
type sample struct {
	requests   int
	rps        float64
	p50, p99   time.Duration
	wrong      int
	webhook    float64 // CPU ns per message
	database   float64 // CPU ns per message, background subtracted; -1: not measured
	background float64 // the database's background CPU ns per message, subtracted
	exact      bool    // the database's CPU counted to the nanosecond
}

func (s sample) total() float64 { return s.webhook + max(s.database, 0) }

// row is one system's runs.
type row struct {
	sys     systems.System
	samples []sample
	ratios  []float64 // convo's total / scs's, run by run (convo's row)
}

// measurePair runs the systems of one backend cfg.runs times each,
// alternating which goes first.
func measurePair(ctx context.Context, cfg *config, pair []systems.System) ([]row, error) {
	rows := make([]row, len(pair))
	for i, s := range pair {
		rows[i].sys = s
	}
	for run := range cfg.runs {
		for k := range pair {
			i := k
			if run%2 == 1 {
				i = len(pair) - 1 - k
			}
			s, err := runOnce(ctx, cfg, pair[i])
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", pair[i].Name, run+1, err)
			}
			fmt.Fprintf(cfg.verbose, "%s run %d: %.0f requests/s, p50 %v, p99 %v, wrong %d, CPU µs/message: webhook %.1f, database %.1f (background %.1f subtracted, exact %v)\n",
				pair[i].Name, run+1, s.rps, s.p50, s.p99, s.wrong, s.webhook/1e3, s.database/1e3, s.background/1e3, s.exact)
			rows[i].samples = append(rows[i].samples, s)
		}
		if len(pair) == 2 {
			a, b := rows[0].samples[run], rows[1].samples[run]
			rows[0].ratios = append(rows[0].ratios, a.total()/b.total())
		}
	}
	return rows, nil
}

var listening = regexp.MustCompile(`listening on (http://\S+/sms)`)

// server is a cmd/serve process.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	out  bytes.Buffer // what it printed after the listening line
}

func startServer(ctx context.Context, cfg *config, s systems.System) (*server, error) {
	cmd := exec.Command(cfg.serve, "-system", s.Name, "-addr", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv := &server{cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			} else {
				srv.out.WriteString(sc.Text() + "\n")
			}
		}
		srv.done <- cmd.Wait()
	}()
	select {
	case srv.url = <-found:
		return srv, nil
	case err := <-srv.done:
		return nil, fmt.Errorf("serve exited before listening: %v", err)
	case <-time.After(time.Minute):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-srv.done
	return nil, errors.Join(errors.New("serve did not start listening"), ctx.Err())
}

// stop ends the server with SIGTERM (it then drops its tables or keys),
// killing it after a minute.
func (srv *server) stop() error {
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-srv.done:
		if err == nil && srv.out.Len() > 0 {
			err = errors.New(strings.TrimSpace(srv.out.String()))
		}
		return err
	case <-time.After(time.Minute):
		_ = srv.cmd.Process.Kill()
		<-srv.done
		return errors.New("serve did not stop within a minute")
	}
}

// runLoad plays cmd/load against url and returns its report.
func runLoad(ctx context.Context, cfg *config, url string, phones, messages int) (string, error) {
	cmd := exec.CommandContext(ctx, cfg.load, "-url", url, "-phones", strconv.Itoa(phones),
		"-messages", strconv.Itoa(messages), "-concurrency", strconv.Itoa(cfg.concurrency))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		err = nil // wrong replies: reported in the table
	}
	if err != nil {
		return "", fmt.Errorf("load: %w\n%s", err, out.String())
	}
	return out.String(), nil
}

// runOnce serves s, warms it up, and measures one load.
func runOnce(ctx context.Context, cfg *config, s systems.System) (sample, error) {
	srv, err := startServer(ctx, cfg, s)
	if err != nil {
		return sample{}, err
	}
	res, err := measureServed(ctx, cfg, s, srv)
	return res, errors.Join(err, srv.stop())
}

func measureServed(ctx context.Context, cfg *config, s systems.System, srv *server) (sample, error) {
	if _, err := runLoad(ctx, cfg, srv.url, cfg.concurrency, 2); err != nil {
		return sample{}, fmt.Errorf("warming up: %w", err)
	}
	db := newMeter(cfg.proc, s)
	if err := db.idle(cfg.idle); err != nil {
		return sample{}, err
	}
	web := newMeter(cfg.proc, s)
	web.group = ptr(proccpu.Process(srv.cmd.Process.Pid))
	if err := web.begin(); err != nil {
		return sample{}, err
	}
	report, err := runLoad(ctx, cfg, srv.url, cfg.phones, cfg.messages)
	if err != nil {
		return sample{}, err
	}
	res, err := parseReport(report)
	if err != nil {
		return sample{}, err
	}
	webCPU, _, err := web.end()
	if err != nil {
		return sample{}, err
	}
	dbCPU, exact, err := db.end()
	if err != nil {
		return sample{}, err
	}
	res.webhook = float64(webCPU) / float64(res.requests)
	res.database, res.exact = -1, exact
	if db.group != nil {
		res.background = db.rate * float64(db.elapsed) / float64(res.requests)
		res.database = max(float64(dbCPU)/float64(res.requests)-res.background, 0)
	}
	return res, nil
}

func ptr[T any](v T) *T { return &v }

// meter samples a group's CPU time.
type meter struct {
	root    string
	group   *proccpu.Group // nil: nothing to measure
	start   proccpu.Sample
	began   time.Time
	rate    float64 // background CPU ns per ns
	elapsed time.Duration
}

func newMeter(root string, s systems.System) *meter {
	m := &meter{root: root}
	if g, ok := systems.BackendsFromEnv().Server(s.Backend); ok {
		m.group = &g
	}
	return m
}

func (m *meter) begin() error {
	if m.group == nil {
		return nil
	}
	var err error
	m.start, err = proccpu.Take(m.root, *m.group)
	m.began = time.Now()
	return err
}

// end returns the CPU time since begin.
func (m *meter) end() (time.Duration, bool, error) {
	if m.group == nil {
		return 0, true, nil
	}
	now, err := proccpu.Take(m.root, *m.group)
	if err != nil {
		return 0, false, err
	}
	m.elapsed = time.Since(m.began)
	d, exact := now.Since(m.start)
	return d, exact, nil
}

// idle samples the group's background use for d, then begins.
func (m *meter) idle(d time.Duration) error {
	if m.group == nil || d == 0 {
		return m.begin()
	}
	if err := m.begin(); err != nil {
		return err
	}
	time.Sleep(d)
	used, _, err := m.end()
	if err != nil {
		return err
	}
	m.rate = float64(used) / float64(m.elapsed)
	return m.begin()
}

var (
	reRequests = regexp.MustCompile(`(?m)^requests\s+(\d+) in`)
	reRate     = regexp.MustCompile(`(?m)^requests/s\s+(\S+)`)
	reLatency  = regexp.MustCompile(`(?m)^latency\s+p50 (\S+)\s+p99 (\S+)`)
	reWrong    = regexp.MustCompile(`(?m)^wrong\s+(\d+)`)
)

// parseReport reads cmd/load's report.
func parseReport(report string) (sample, error) {
	var s sample
	m := [4][]string{reRequests.FindStringSubmatch(report), reRate.FindStringSubmatch(report),
		reLatency.FindStringSubmatch(report), reWrong.FindStringSubmatch(report)}
	for _, x := range m {
		if x == nil {
			return s, fmt.Errorf("cannot read cmd/load's report:\n%s", report)
		}
	}
	var errs [6]error
	s.requests, errs[0] = strconv.Atoi(m[0][1])
	s.rps, errs[1] = strconv.ParseFloat(m[1][1], 64)
	s.p50, errs[2] = time.ParseDuration(m[2][1])
	s.p99, errs[3] = time.ParseDuration(m[2][2])
	s.wrong, errs[4] = strconv.Atoi(m[3][1])
	if s.requests == 0 {
		errs[5] = errors.New("no request")
	}
	if err := errors.Join(errs[:]...); err != nil {
		return s, fmt.Errorf("cannot read cmd/load's report (%w):\n%s", err, report)
	}
	return s, nil
}

func medianOf(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return stats.Median(v)
}

// printTable writes the medians of every row.
func printTable(w io.Writer, cfg *config, rows []row) {
	fmt.Fprintf(w, "| system | backend | requests/s | p50 | p99 | wrong replies | webhook CPU µs/msg | database CPU µs/msg | together µs/msg | × scs |\n")
	fmt.Fprintf(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	inexact, background := 0, []float64{}
	for _, r := range rows {
		db := "—"
		if d := medianOf(r.samples, func(s sample) float64 { return s.database }); d >= 0 {
			db = fmt.Sprintf("%.1f", d/1e3)
		}
		ratio := "—"
		if len(r.ratios) > 0 {
			ratio = fmt.Sprintf("%.2f", stats.Median(r.ratios))
		}
		wrong := 0
		for _, s := range r.samples {
			wrong += s.wrong
			if !s.exact {
				inexact++
			}
			if s.database >= 0 {
				background = append(background, s.background)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %v | %v | %d | %.1f | %s | %.1f | %s |\n", r.sys.Name, r.sys.Backend,
			medianOf(r.samples, func(s sample) float64 { return s.rps }),
			stats.Round(time.Duration(medianOf(r.samples, func(s sample) float64 { return float64(s.p50) }))),
			stats.Round(time.Duration(medianOf(r.samples, func(s sample) float64 { return float64(s.p99) }))),
			wrong, medianOf(r.samples, func(s sample) float64 { return s.webhook })/1e3, db,
			medianOf(r.samples, sample.total)/1e3, ratio)
	}
	fmt.Fprintf(w, "\n%d phones × %d messages, %d at once, median of %d runs each; × scs: the median of convo's total over scs's, run by run. "+
		"Database background (sampled for %v before each load, nothing sent) subtracted: median %.1f µs per message; %d of the database samples counted in clock ticks (a thread ended).\n",
		cfg.phones, cfg.messages, cfg.concurrency, cfg.runs, cfg.idle, stats.Median(background)/1e3, inexact)
}
