// Package servetest runs an example program in process for its tests: on a
// free port, with the environment and flags a test gives, until the test
// ends.
package servetest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/examples/internal/serve"
)

// Program is an example program running in process.
type Program struct {
	// URL is the first URL the program printed: where it listens, with
	// the webhook's path for the webhook examples.
	URL string
	// Logs holds what the program logged.
	Logs *convotest.Logs

	stdout *lines
	cancel context.CancelFunc
	done   chan struct{} // closed when run returned
	err    error         // what run returned, once done is closed
}

var urlRe = regexp.MustCompile(`http://\S+`)

// Start runs run with "-addr 127.0.0.1:0" and args, the environment env
// (and nothing of the process's), and waits for the first line it prints,
// which must hold its URL. The program is stopped when t ends, and must
// stop cleanly.
func Start(t testing.TB, run serve.RunFunc, env map[string]string, args ...string) *Program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs, log := convotest.NewLogs()
	p := &Program{Logs: logs, stdout: &lines{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		p.err = run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, log)
		pw.Close()
		close(p.done)
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		cancel()
		<-p.done
		t.Fatalf("the program printed nothing and returned %v; its log:\n%s", p.err, logs)
	}
	first := sc.Text()
	p.stdout.add(first)
	go func() {
		for sc.Scan() {
			p.stdout.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	p.URL = urlRe.FindString(first)
	if p.URL == "" {
		cancel()
		t.Fatalf("the program's first line holds no URL: %q", first)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("the program did not stop cleanly: %v", err)
		}
	})
	return p
}

// Stop ends the program's context and returns what the program
// returned; later calls return the same. It fails when the program takes
// over 30 seconds to stop.
func (p *Program) Stop() error {
	p.cancel()
	select {
	case <-p.done:
		return p.err
	case <-time.After(30 * time.Second):
		return errors.New("the program did not stop within 30 s")
	}
}

// Done is closed once the program has returned, by itself or after Stop;
// Err then returns what it returned.
func (p *Program) Done() <-chan struct{} { return p.done }

// Err returns what the program returned; call it once Done is closed.
func (p *Program) Err() error {
	<-p.done
	return p.err
}

// Stdout returns the lines the program printed so far.
func (p *Program) Stdout() string { return p.stdout.String() }

type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
	l.b.WriteByte('\n')
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
