// Package proccpu reads, from /proc, the CPU time that a group of
// processes on this machine has used: a database server's, to count what
// each message costs it besides the webhook's own.
//
// A Sample holds the CPU time of every thread of the group, in
// nanoseconds (/proc/PID/task/TID/schedstat), and the group's total in
// clock ticks (/proc/PID/stat: utime, stime, and cutime and cstime, the
// children it has reaped). Between two samples, the difference is exact
// when every thread of the first is still there in the second: threads
// and processes that started in between count from zero. When one ended
// in between (a PostgreSQL backend whose connection closed), its last
// nanoseconds are gone, and the difference falls back to the clock
// ticks, which count ended threads and reaped children, to 10 ms per
// process. Processes that cannot be read for lack of permission make Take
// fail; ones that vanish while it reads are skipped.
package proccpu

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Group selects processes by their command name (/proc/PID/comm) and,
// when Cmdline is set, a substring of their command line; or, when PID is
// set, the one process of that id.
type Group struct {
	Name    string
	Comm    []string
	Cmdline string
	PID     int
}

// Process is the group of the one process pid.
func Process(pid int) Group {
	return Group{Name: "process " + strconv.Itoa(pid), PID: pid}
}

// The servers of the benchmarks.
var (
	// Postgres is every PostgreSQL process: the postmaster, its
	// background workers and each connection's backend.
	Postgres = Group{Name: "postgres", Comm: []string{"postgres"}}
	// MariaDB is the MariaDB (or MySQL) server, one process of threads.
	MariaDB = Group{Name: "mariadbd", Comm: []string{"mariadbd", "mysqld"}}
)

// Redis is the redis-server listening on port (its command line names
// it: "redis-server 127.0.0.1:6379").
func Redis(port string) Group {
	return Group{Name: "redis-server :" + port, Comm: []string{"redis-server"}, Cmdline: ":" + port}
}

// Sample is the CPU time of a group's processes at one moment.
type Sample struct {
	Procs   int                   // processes matched
	threads map[int]time.Duration // thread id: CPU time
	ticks   time.Duration         // Σ utime+stime+cutime+cstime
}

// tick is the length of a clock tick of /proc/PID/stat: USER_HZ is 100 on
// every Linux architecture Go runs on.
const tick = 10 * time.Millisecond

// ErrNoProcess is returned by Take when no process matches the group.
var ErrNoProcess = errors.New("proccpu: no such process")

// Take samples g from root (normally "/proc").
func Take(root string, g Group) (Sample, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return Sample{}, fmt.Errorf("proccpu: %w", err)
	}
	s := Sample{threads: map[int]time.Duration{}}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || (g.PID != 0 && pid != g.PID) {
			continue
		}
		err = s.add(filepath.Join(root, e.Name()), g)
		if errors.Is(err, fs.ErrPermission) {
			return Sample{}, fmt.Errorf("proccpu: reading process %d: %w", pid, err)
		}
		// Any other error: the process ended while being read.
	}
	if s.Procs == 0 {
		return Sample{}, fmt.Errorf("%w: %s", ErrNoProcess, g.Name)
	}
	return s, nil
}

// add adds the process in dir to s when it belongs to g.
func (s *Sample) add(dir string, g Group) error {
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil || (g.PID == 0 && !slices.Contains(g.Comm, strings.TrimSpace(string(comm)))) {
		return err
	}
	if g.Cmdline != "" {
		cmd, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(g.Cmdline)) {
			return err
		}
	}
	ticks, err := statTicks(filepath.Join(dir, "stat"))
	if err != nil {
		return err
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return err
	}
	threads := map[int]time.Duration{}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "schedstat"))
		if errors.Is(err, fs.ErrPermission) {
			return err
		}
		f := strings.Fields(string(b))
		if err != nil || len(f) == 0 {
			continue // the thread ended
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("thread %d: schedstat %q", tid, b)
		}
		threads[tid] = time.Duration(ns)
	}
	s.Procs++
	s.ticks += ticks
	for tid, d := range threads {
		s.threads[tid] = d
	}
	return nil
}

// statTicks reads utime+stime+cutime+cstime from a /proc/PID/stat.
func statTicks(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields start
	// after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 15 {
		return 0, fmt.Errorf("malformed %s", path)
	}
	var sum int64
	for _, field := range f[11:15] { // fields 14 to 17 of stat(5)
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s", path)
		}
		sum += n
	}
	return time.Duration(sum) * tick, nil
}

// Since returns the CPU time the group used from before to s, and whether
// it is exact (no thread of before ended in between; otherwise it is
// counted in clock ticks).
func (s Sample) Since(before Sample) (time.Duration, bool) {
	var d time.Duration
	for tid, now := range s.threads {
		if then, ok := before.threads[tid]; ok && then <= now {
			d += now - then
		} else {
			d += now // a thread that started since (or a reused id)
		}
	}
	for tid := range before.threads {
		if _, ok := s.threads[tid]; !ok {
			return max(s.ticks-before.ticks, 0), false
		}
	}
	return d, true
}
