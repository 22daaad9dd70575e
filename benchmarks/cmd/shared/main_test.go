package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReport(t *testing.T) {
	s, err := parseReport("target       http://127.0.0.1:1/sms (unsigned, check counter)\nphones       10, 4 at once\n" +
		"requests     50 in 1.2s\nrequests/s   41\nlatency      p50 1.5ms  p99 12.25ms  max 20ms\nwrong        2 (status not 200: 2, wrong count: 0, no answer: 0)\n")
	require.NoError(t, err)
	assert.Equal(t, 50, s.requests)
	assert.InDelta(t, 41, s.rps, 0)
	assert.Equal(t, 1500*time.Microsecond, s.p50)
	assert.Equal(t, 12250*time.Microsecond, s.p99)
	assert.Equal(t, 2, s.wrong)
	_, err = parseReport("load: connection refused")
	require.Error(t, err)
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-runs", "0"}, {"-phones", "-1"}, {"-idle", "-1s"}, {"extra"}} {
		_, err := parseFlags(args, io.Discard)
		require.Error(t, err, args)
	}
	cfg, err := parseFlags([]string{"-systems", "a,b", "-v"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, cfg.only)
}

// One short run of the SQLite pair, end to end: cmd/serve and cmd/load
// built, served, loaded, measured; no database server needed.
func TestSharedSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/serve and cmd/load")
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-systems", "convo-sqlstore,scs-sqlite3store", "-phones", "20", "-messages", "3",
		"-concurrency", "4", "-runs", "2", "-idle", "0", "-v"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	table := out.String()
	assert.Contains(t, table, "| convo-sqlstore | sqlite |")
	assert.Contains(t, table, "| scs-sqlite3store | sqlite |")
	assert.Equal(t, 2, strings.Count(errOut.String(), "convo-sqlstore run"), errOut.String())
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| convo-sqlstore |") || strings.HasPrefix(line, "| scs-sqlite3store |") {
			assert.Contains(t, line, "| 0 |", "no wrong reply: %s", line)
		}
	}
}
