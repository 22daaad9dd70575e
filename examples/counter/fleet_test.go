package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smsconvo/convo/examples/internal/stores"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildCounter builds this example into a temporary directory.
func buildCounter(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the example: skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "counter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
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
			_ = cmd.Wait()
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

var countRe = regexp.MustCompile(`has messaged \S+ (\d+) times`)

func send(t *testing.T, webhook, sid string) int {
	t.Helper()
	form := url.Values{"From": {"+14158675308"}, "To": {"+15005550006"}, "Body": {"hi"}, "MessageSid": {sid}}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).PostForm(webhook, form)
	if !assert.NoError(t, err) {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", b) {
		return 0
	}
	m := countRe.FindStringSubmatch(string(b))
	if !assert.NotNil(t, m, "answer %s", b) {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	assert.Contains(t, string(b), "Rey has messaged")
	return n
}

// TestTwoProcessesShareSQLite runs two processes of the example on one
// SQLite file (the default one, in their working directory) and sends a
// burst of 60 messages of one pair across both: each count is answered
// once. Then both stop, and a restarted process counts on from 60.
func TestTwoProcessesShareSQLite(t *testing.T) {
	bin := buildCounter(t)
	dir := t.TempDir()
	a, stopA := startProcess(t, bin, dir, "-store", "sqlite")
	b, stopB := startProcess(t, bin, dir, "-store", "sqlite")
	_, err := os.Stat(filepath.Join(dir, stores.DefaultSQLiteDSN))
	require.NoError(t, err, "the default SQLite file is not in the working directory")

	const n = 60
	counts := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i] = send(t, []string{a, b}[i%2], fmt.Sprintf("SMproc%04d", i))
		}()
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
	c, _ := startProcess(t, bin, dir, "-store", "sqlite", "-dsn", stores.DefaultSQLiteDSN)
	assert.Equal(t, n+1, send(t, c, "SMafter"), "the count did not survive a restart")
}

// TestCounterSQLFlags checks that the SQL stores are offered, and that the
// server stores need a -dsn.
func TestCounterSQLFlags(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres", "mysql"} {
		assert.Contains(t, stores.Names(), name)
	}
	for _, name := range []string{"postgres", "mysql"} {
		err := run(context.Background(), []string{"-store", name}, func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
		assert.ErrorContains(t, err, "needs -dsn")
	}
}
