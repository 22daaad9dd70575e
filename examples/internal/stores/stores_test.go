package stores

import (
	"bytes"
	"context"
	"flag"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/cookiestore"
	"github.com/smsconvo/convo/memstore"
	"github.com/smsconvo/convo/sqlstore"
)

// open parses args as an example's flags and opens the store they name.
func openFlags(t *testing.T, env map[string]string, args ...string) (convo.Store, *convotest.Logs, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := Register(fs, "test", "memory")
	require.NoError(t, fs.Parse(args))
	logs, log := convotest.NewLogs()
	s, closer, err := f.Open(context.Background(), func(k string) string { return env[k] }, log)
	if err == nil {
		t.Cleanup(func() { assert.NoError(t, closer.Close()) })
	}
	return s, logs, err
}

func TestUsageNamesEveryStore(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	Register(fs, "counter", "memory")
	fs.PrintDefaults()
	usage := out.String()
	for _, name := range Names() {
		assert.Regexp(t, `\n\s+`+name+`\s+\S`, usage, "-h describes -store %s", name)
	}
	for _, want := range []string{"at most 10000 conversations", "counter.db", "counter_conversations", "convo:counter:",
		"127.0.0.1:7000,127.0.0.1:7001", "-insecure-cookie", "-genkey", `(default "memory")`} {
		assert.Contains(t, usage, want)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	s, _, err := openFlags(t, nil)
	require.NoError(t, err)
	assert.IsType(t, &memstore.Store{}, s)
	ctx := context.Background()
	for i := range MaxConversations + 1 {
		key := convo.Key{From: "+1" + strconv.Itoa(i), To: "+15005550006"}
		require.NoError(t, s.Save(ctx, key, []byte(`{"v":2}`), time.Hour, 0, 1))
	}
	data, _, err := s.Load(ctx, convo.Key{From: "+10", To: "+15005550006"})
	require.NoError(t, err)
	assert.Nil(t, data, "the first conversation made room for the last")
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-store", "nope"}, `unknown store "nope"; choose one of memory, cookie, sqlite, postgres, mysql, redis`},
		{[]string{"-dsn", "x"}, "-store memory takes no -dsn"},
		{[]string{"-store", "cookie", "-dsn", "insecure"}, "-store cookie takes no -dsn"},
		{[]string{"-insecure-cookie"}, "-insecure-cookie is for -store cookie only"},
		{[]string{"-store", "postgres"}, "-store postgres needs -dsn"},
		{[]string{"-store", "mysql"}, "-store mysql needs -dsn"},
		{[]string{"-store", "redis", "-dsn", "http://x"}, "parsing -dsn as a Redis URL"},
		{[]string{"-store", "redis", "-dsn", "127.0.0.1:7000,nope"}, `-dsn node "nope" is not host:port`},
	} {
		_, _, err := openFlags(t, nil, tc.args...)
		assert.ErrorContains(t, err, tc.want, "%q", tc.args)
	}
}

func TestCookieKeys(t *testing.T) {
	s, logs, err := openFlags(t, nil, "-store", "cookie")
	require.NoError(t, err)
	assert.IsType(t, &cookiestore.Store{}, s)
	assert.Contains(t, logs.String(), "CONVO_COOKIE_KEYS is not set")
	assert.Contains(t, logs.String(), "pass -insecure-cookie")

	var out bytes.Buffer
	require.NoError(t, WriteKey(&out))
	assignment := strings.TrimSpace(out.String())
	keys, ok := strings.CutPrefix(assignment, "CONVO_COOKIE_KEYS=")
	require.True(t, ok, assignment)
	parsed, err := cookiestore.ParseKeys(keys)
	require.NoError(t, err)
	assert.Len(t, parsed, 1)

	_, logs, err = openFlags(t, map[string]string{"CONVO_COOKIE_KEYS": keys}, "-store", "cookie", "-insecure-cookie")
	require.NoError(t, err)
	assert.Empty(t, logs.String(), "no warning when keys are given and the cookie is insecure on purpose")

	_, _, err = openFlags(t, map[string]string{"CONVO_COOKIE_KEYS": "not:keys"}, "-store", "cookie")
	assert.ErrorContains(t, err, "CONVO_COOKIE_KEYS")
}

// The SQLite store lives in the example's own file and table.
func TestSQLiteDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, logs, err := openFlags(t, nil, "-store", "sqlite")
	require.NoError(t, err)
	require.IsType(t, &sqlstore.Store{}, s)
	assert.Equal(t, "test_conversations", s.(*sqlstore.Store).Table())
	assert.FileExists(t, filepath.Join(dir, "test.db"))
	assert.Contains(t, logs.String(), "table=test_conversations")

	other := filepath.Join(dir, "other.db")
	_, _, err = openFlags(t, nil, "-store", "sqlite", "-dsn", other)
	require.NoError(t, err)
	assert.FileExists(t, other)
}

func TestClusterOptions(t *testing.T) {
	o, err := clusterOptions("127.0.0.1:7000, 127.0.0.1:7001")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:7000", "127.0.0.1:7001"}, o.Addrs)
	assert.True(t, o.ContextTimeoutEnabled)
	assert.Equal(t, 1, o.MaxRetries)

	o, err = clusterOptions("rediss://app:s3cret@h1:7000,h2:7001")
	require.NoError(t, err)
	assert.Equal(t, []string{"h1:7000", "h2:7001"}, o.Addrs)
	assert.Equal(t, "app", o.Username)
	assert.Equal(t, "s3cret", o.Password)
	assert.NotNil(t, o.TLSConfig)

	_, err = clusterOptions("redis://h1:7000/2,h2:7001")
	assert.ErrorContains(t, err, "database 0 only")
}
