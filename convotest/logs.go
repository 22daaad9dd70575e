package convotest

import (
	"bytes"
	"log/slog"
	"sync"
)

// Logs records what a logger writes, for tests that check log lines: that
// a refusal is logged, and that no line holds a secret or a phone number.
// It is safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLogs returns empty Logs and a logger writing to them in slog's text
// format, at every level from debug up.
func NewLogs() (*Logs, *slog.Logger) {
	l := &Logs{}
	return l, slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Write appends p; it implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
