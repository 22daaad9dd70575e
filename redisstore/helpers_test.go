package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisAddr returns the Redis server the tests run against, skipping the
// test when CONVO_TEST_REDIS_ADDR is unset.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("CONVO_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("CONVO_TEST_REDIS_ADDR is not set: skipping the tests that need a Redis server (set it to host:port)")
	}
	return addr
}

// recommended is the client configuration the README recommends for
// webhook servers.
func recommended(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           time.Second,
		MaxRetries:            1,
	}
}

// newClient returns a client for opts (nil: the recommended options for
// CONVO_TEST_REDIS_ADDR), closed at the end of the test. It fails the test
// when the server is unreachable.
func newClient(t testing.TB, opts *redis.Options) *redis.Client {
	t.Helper()
	if opts == nil {
		opts = recommended(redisAddr(t))
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("CONVO_TEST_REDIS_ADDR=%s is set but Redis is unreachable: %v", opts.Addr, err)
	}
	return rdb
}

// newPrefix returns a key prefix of the test's own and removes every key
// under it when the test ends.
func newPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "convotest:" + hex.EncodeToString(b) + ":"
	addr := redisAddr(t)
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

// proxy is a TCP proxy to a Redis server that a test stops, restarts and
// turns into a black hole (a server that accepts and never answers) to
// play the network failures a webhook server meets.
type proxy struct {
	t      testing.TB
	target string
	addr   string

	mu        sync.Mutex
	ln        net.Listener
	conns     map[net.Conn]struct{}
	blackhole bool
	wg        sync.WaitGroup
}

func newProxy(t testing.TB, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			hole := p.blackhole
			p.mu.Unlock()
			if hole {
				go func() { _, _ = io.Copy(io.Discard, c) }()
				continue
			}
			go p.pipe(c)
		}
	}()
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// stop closes the listener and every connection: Redis is gone.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Wait()
}

// start listens again on the same address; blackhole makes it accept
// connections and never answer.
func (p *proxy) start(blackhole bool) {
	p.stop()
	p.mu.Lock()
	p.blackhole = blackhole
	p.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after close
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(p.t, err, "restarting the proxy on %s", p.addr)
	p.serve(ln)
}
