package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/stores"
)

// buildCounter builds this example, once for all the tests that run it
// as a process.
func buildCounter(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the example: skipped in -short mode")
	}
	bin, err := built()
	require.NoError(t, err)
	return bin
}

var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "counter-test")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "counter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	return bin, nil
})

// binDir holds the binary built, removed by TestMain.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// -h prints the usage, every store and the memory bound included, and
// exits 0 without an error line; a bad flag exits 2.
func TestCounterHelp(t *testing.T) {
	bin := buildCounter(t)
	out, err := exec.Command(bin, "-h").CombinedOutput()
	require.NoError(t, err, "-h must exit 0: %s", out)
	for _, want := range []string{"usage: counter [flags]", "POST /sms", "TWILIO_AUTH_TOKEN", "-store name", "at most 10000 conversations",
		"counter.db", "counter_conversations", "Redis Cluster", "-insecure-cookie", "-genkey", "-dsn source", "-public-url URL"} {
		assert.Contains(t, string(out), want)
	}
	assert.NotContains(t, string(out), "ERROR")

	out, err = exec.Command(bin, "-nope").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, string(out), "flag provided but not defined: -nope")
}

// startProcess runs the example binary in dir with args and a random port,
// and returns its webhook URL; the process is stopped when t ends.
func startProcess(t *testing.T, bin, dir string, args ...string) (webhook string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TWILIO_AUTH_TOKEN=")
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			assert.NoError(t, cmd.Wait(), "SIGTERM stops the counter cleanly")
			cancel()
		})
	}
	t.Cleanup(stop)
	lines := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`listening on (http://\S+)`)
	for lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return m[1], stop
		}
	}
	t.Fatalf("the counter did not say where it listens")
	return "", nil
}

var countRe = regexp.MustCompile(`^Rey has messaged \S+ (\d+) times$`)

// count texts the webhook as Rey and returns the count answered, 0 when
// the answer is not a count.
func count(t *testing.T, webhook, sid string) int {
	t.Helper()
	tw, err := convotest.NewTwilioURL(webhook, convotest.TwilioOptions{})
	require.NoError(t, err)
	r, err := tw.Phone("+14158675308", ourNumber).SendMessage(context.Background(), convotest.Message{Body: "hi", Params: map[string][]string{"MessageSid": {sid}}})
	if !assert.NoError(t, err) || !assert.Equal(t, 200, r.Status, "%s", r.Body) {
		return 0
	}
	m := countRe.FindStringSubmatch(r.String())
	if !assert.NotNil(t, m, "answer %q", r.String()) {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestTwoProcessesShareSQLite runs two processes of the example on one
// SQLite file (the counter's default, counter.db in their working
// directory) and sends a burst of 60 messages of one pair across both:
// each count is answered once. Then both stop, and a restarted process
// counts on from 60.
func TestTwoProcessesShareSQLite(t *testing.T) {
	bin := buildCounter(t)
	dir := t.TempDir()
	a, stopA := startProcess(t, bin, dir, "-store", "sqlite")
	b, stopB := startProcess(t, bin, dir, "-store", "sqlite")
	require.FileExists(t, filepath.Join(dir, stores.SQLiteFile("counter")), "the counter's SQLite file is its own")

	const n = 60
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { counts[i] = count(t, []string{a, b}[i%2], fmt.Sprintf("SMproc%04d", i)) })
	}
	wg.Wait()
	seen := map[int]int{}
	for _, c := range counts {
		seen[c]++
	}
	for c := 1; c <= n; c++ {
		assert.Equal(t, 1, seen[c], "count %d answered %d times", c, seen[c])
	}

	stopA()
	stopB()
	c, _ := startProcess(t, bin, dir, "-store", "sqlite", "-dsn", "counter.db")
	assert.Equal(t, n+1, count(t, c, "SMafter"), "the count survives a restart")
}
