package proccpu

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProc writes a /proc with the given processes: pid → comm, cmdline,
// stat ticks and each thread's nanoseconds.
type fakeProcess struct {
	comm, cmdline string
	ticks         [4]int
	threads       map[int]int64
}

func writeProc(t *testing.T, root string, procs map[int]fakeProcess) {
	t.Helper()
	require.NoError(t, os.RemoveAll(root))
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "task"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "comm"), []byte(p.comm+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte(p.cmdline), 0o644))
		stat := strconv.Itoa(pid) + " (" + p.comm + " x) S 1 1 1 0 -1 4194304 1 0 0 0 "
		for _, n := range p.ticks {
			stat += strconv.Itoa(n) + " "
		}
		stat += "20 0 1 0 1 1 1"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
		for tid, ns := range p.threads {
			td := filepath.Join(dir, "task", strconv.Itoa(tid))
			require.NoError(t, os.MkdirAll(td, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(td, "schedstat"), []byte(strconv.FormatInt(ns, 10)+" 5 6\n"), 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "uptime"), []byte("1 1"), 0o644))
}

func TestSince(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proc")
	other := fakeProcess{comm: "redis-server", cmdline: "redis-server 127.0.0.1:7000", ticks: [4]int{50, 0, 0, 0}, threads: map[int]int64{30: 9e9}}
	writeProc(t, root, map[int]fakeProcess{
		10: {comm: "redis-server", cmdline: "redis-server 127.0.0.1:6379", ticks: [4]int{100, 20, 0, 0}, threads: map[int]int64{10: 1e9, 11: 2e8}},
		30: other,
	})
	before, err := Take(root, Redis("6379"))
	require.NoError(t, err)
	assert.Equal(t, 1, before.Procs, "the node on 7000 is another group")

	// Threads grow; one starts: exact.
	writeProc(t, root, map[int]fakeProcess{
		10: {comm: "redis-server", cmdline: "redis-server 127.0.0.1:6379", ticks: [4]int{110, 21, 0, 0}, threads: map[int]int64{10: 1.1e9, 11: 2.5e8, 12: 1e6}},
		30: other,
	})
	after, err := Take(root, Redis("6379"))
	require.NoError(t, err)
	d, exact := after.Since(before)
	assert.True(t, exact)
	assert.Equal(t, 151*time.Millisecond, d)

	// A thread ended: clock ticks, which count it.
	writeProc(t, root, map[int]fakeProcess{
		10: {comm: "redis-server", cmdline: "redis-server 127.0.0.1:6379", ticks: [4]int{110, 25, 3, 1}, threads: map[int]int64{10: 1.2e9}},
	})
	later, err := Take(root, Redis("6379"))
	require.NoError(t, err)
	d, exact = later.Since(after)
	assert.False(t, exact)
	assert.Equal(t, 80*time.Millisecond, d)

	_, err = Take(root, Postgres)
	require.ErrorIs(t, err, ErrNoProcess)
}

// The real /proc: this process is found by its name, and its CPU time
// grows with work.
func TestTakeSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc here")
	}
	comm, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	g := Group{Name: "self", Comm: []string{string(comm[:len(comm)-1])}, Cmdline: os.Args[0]}
	before, err := Take("/proc", g)
	require.NoError(t, err)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	after, err := Take("/proc", g)
	require.NoError(t, err)
	d, _ := after.Since(before)
	assert.Greater(t, d, 20*time.Millisecond)
}

func TestProcess(t *testing.T) {
	s, err := Take("/proc", Process(os.Getpid()))
	if err != nil && !errors.Is(err, ErrNoProcess) {
		t.Skip("no /proc here")
	}
	require.NoError(t, err)
	assert.Equal(t, 1, s.Procs)
	_, err = Take("/proc", Process(1<<30))
	require.ErrorIs(t, err, ErrNoProcess)
}
