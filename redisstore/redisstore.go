// Package redisstore keeps conversations in Redis, so that any number of
// webhook servers share them with sub-millisecond loads.
//
// It works on a client the application already has: a *redis.Client, a
// *redis.ClusterClient, a *redis.Ring or any other redis.UniversalClient of
// github.com/redis/go-redis/v9. The store never closes it.
//
// Each conversation is one Redis hash under Options.Prefix followed by
// [convo.Key.String], such as "convo:+14158675308/+15005550006", with
// three fields:
//
//	v     the compare-and-set version: a random 63-bit decimal number, never 0
//	exp   when the conversation expires, in Unix milliseconds, on the store's clock
//	data  the conversation as convo.MarshalRecord's JSON
//
// Saves are compare-and-set by a Lua script that runs atomically on the
// server (EVALSHA, falling back to EVAL once per server): it writes only
// when the stored version still equals the one the conversation was loaded
// at, so no update is lost across processes. Because each conversation is
// exactly one key and the script touches no other, the store works
// unchanged on Redis Cluster: every conversation lives in whichever slot
// its key hashes to, and load spreads across the cluster.
//
// Conversations expire twice over: the key's TTL is set on every save to
// the time left until [convo.Expiry.ExpiresAt], so Redis frees idle
// conversations by itself and no sweeper is needed; and the expiry time is
// kept in the hash, so that a conversation past it on the store's clock
// loads as new even before Redis has removed it (and in tests whose clock
// is moved by hand).
//
// See the package's README.md for timeouts a webhook server should give its
// client, and for benchmark figures.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smsconvo/convo"
)

// Defaults of [Options].
const (
	DefaultPrefix         = "convo:"
	DefaultMaxRecordBytes = 1 << 20 // 1 MiB
)

// Options configure a [Store]. The zero value is ready to use.
type Options struct {
	// Prefix starts every key the store writes; "" means DefaultPrefix
	// ("convo:"). Give each application (or each test) its own. On Redis
	// Cluster, do not put a {hash tag} in it: that would put every
	// conversation in one slot.
	Prefix string

	// Expiry says when conversations expire: by default after 4 idle
	// hours. Its clock decides what Load and Save treat as expired; the
	// key's TTL in Redis is the time left on that clock at Save.
	Expiry convo.Expiry

	// MaxRecordBytes bounds the size of one stored record. Save drops the
	// oldest History turns of a conversation that is larger, and fails
	// with an error wrapping convo.ErrTooLarge when that is not enough.
	// 0 means DefaultMaxRecordBytes (1 MiB); negative means no bound.
	MaxRecordBytes int
}

// Store is a convo.Store in Redis. Create it with [New]; it is safe for
// concurrent use and holds no resources of its own (the client belongs to
// the caller), so it has no Close.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	expiry   convo.Expiry
	maxBytes int
	// ctxAware is whether the client itself stops waiting on the socket
	// when a call's context ends (ContextTimeoutEnabled); when it does
	// not, the store waits for the call in a goroutine it can abandon.
	ctxAware bool
}

// New returns a Store writing through rdb. It panics if rdb is nil.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if rdb == nil {
		panic("redisstore: New with a nil client")
	}
	s := &Store{rdb: rdb, prefix: opts.Prefix, expiry: opts.Expiry, maxBytes: opts.MaxRecordBytes}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxRecordBytes
	}
	switch c := rdb.(type) {
	case *redis.Client:
		s.ctxAware = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		s.ctxAware = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		s.ctxAware = c.Options().ContextTimeoutEnabled
	}
	return s
}

// RedisKey returns the Redis key the conversation of key is stored under:
// the prefix and key.String(). It holds full phone numbers; do not log it.
func (s *Store) RedisKey(key convo.Key) string { return s.prefix + key.String() }

// Prefix returns the prefix of every key the store writes, for operators
// who scan them (SCAN 0 MATCH prefix*).
func (s *Store) Prefix() string { return s.prefix }

// Load returns the conversation stored under key, or a fresh one from
// convo.NewConversation when none is stored or it has expired on the
// store's clock. A key that does not hold a hash with a valid version,
// expiry and record of this key (written by something else, or by a later
// version of convo) gives an error wrapping convo.ErrCorrupt and is left in
// place; delete it (Delete, or DEL in redis-cli) to start the conversation
// afresh. When Redis cannot be reached, Load fails with the client's
// error; it never returns a fresh conversation in place of a stored one.
func (s *Store) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: loading %s: %w", key.Redacted(), err)
	}
	var vals []any
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		vals, err = s.rdb.HMGet(ctx, s.RedisKey(key), "v", "exp", "data").Result()
		return err
	})
	if err != nil {
		return nil, s.wrap(ctx, "loading", key, err)
	}
	if len(vals) != 3 {
		return nil, fmt.Errorf("redisstore: loading %s: HMGET answered %d values for 3 fields", key.Redacted(), len(vals))
	}
	if vals[0] == nil && vals[1] == nil && vals[2] == nil {
		return convo.NewConversation(key), nil
	}
	c, expiresAt, err := decode(key, vals)
	if err != nil {
		return nil, fmt.Errorf("redisstore: loading %s: %w", key.Redacted(), err)
	}
	if !s.expiry.Time().Before(expiresAt) {
		return convo.NewConversation(key), nil
	}
	return c, nil
}

// decode turns the fields v, exp and data of a stored hash into a
// conversation and its expiry time, or an error wrapping convo.ErrCorrupt.
func decode(key convo.Key, vals []any) (*convo.Conversation, time.Time, error) {
	v, ok1 := vals[0].(string)
	exp, ok2 := vals[1].(string)
	data, ok3 := vals[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return nil, time.Time{}, fmt.Errorf("%w: hash lacks one of its fields v, exp and data", convo.ErrCorrupt)
	}
	version, err := strconv.ParseUint(v, 10, 64)
	if err != nil || version == 0 {
		return nil, time.Time{}, fmt.Errorf("%w: version %q is not a positive integer", convo.ErrCorrupt, v)
	}
	ms, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: expiry %q is not an integer", convo.ErrCorrupt, exp)
	}
	c, err := convo.UnmarshalRecord([]byte(data))
	if err != nil {
		return nil, time.Time{}, err // wraps convo.ErrCorrupt
	}
	if c.Key != key {
		return nil, time.Time{}, fmt.Errorf("%w: record belongs to conversation %s", convo.ErrCorrupt, c.Key.Redacted())
	}
	c.Version = version
	return c, time.UnixMilli(ms), nil
}

// saveScript is the compare-and-set. It treats a hash whose exp has passed
// on the caller's clock as absent (version "0"), writes only when the
// stored version equals the expected one, and sets the key's TTL; Redis
// runs it atomically. Versions stay strings: Lua numbers are doubles and
// would round 63-bit versions.
//
// A stored version equal to the new one means this very save was already
// applied (the client re-sent the script after losing the connection
// before the answer came), so it answers success again. Versions are
// random 63-bit numbers, so this never mistakes another save for this one
// in practice (1 chance in 2^63).
//
//	KEYS[1]  the conversation's hash
//	ARGV[1]  expected version, "0" for nothing stored or only something expired
//	ARGV[2]  new version
//	ARGV[3]  now, Unix ms on the store's clock
//	ARGV[4]  expires at, Unix ms on the store's clock
//	ARGV[5]  TTL in ms, at least 1
//	ARGV[6]  the record
//
// It returns {1, new version} when it wrote, {0, stored version} when not.
var saveScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'v', 'exp')
local v = cur[1]
local exp = tonumber(cur[2])
if v and exp and exp <= tonumber(ARGV[3]) then
  v = false
end
v = v or '0'
if v == ARGV[2] then
  return {1, v}
end
if v ~= ARGV[1] then
  return {0, v}
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'exp', ARGV[4], 'data', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, ARGV[2]}
`)

// Save stores c if the stored version still equals c.Version (a
// conversation expired on the store's clock counts as absent, version 0)
// and sets c.Version to a new random version; otherwise it writes nothing
// and returns an error wrapping convo.ErrConflict. The key's TTL becomes
// the time left until Expiry.ExpiresAt(c) (at least a millisecond). A
// record over MaxRecordBytes first loses its oldest History turns, which
// Save removes from c too; if that is not enough Save fails with an error
// wrapping convo.ErrTooLarge. A key holding something other than a hash
// gives an error wrapping convo.ErrCorrupt.
//
// When Save fails because Redis could not be reached or ctx ended, the
// save may or may not have been applied, but never in part: the script is
// atomic. c.Version is then unchanged, so a later Save of c conflicts if
// it was applied.
func (s *Store) Save(ctx context.Context, c *convo.Conversation) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: saving %s: %w", c.Key.Redacted(), err)
	}
	data, err := s.marshal(c)
	if err != nil {
		return err
	}
	now := s.expiry.Time()
	expiresAt := s.expiry.ExpiresAt(c)
	ttl := expiresAt.Sub(now)
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	version := newVersion(c.Version)
	var res []any
	err = s.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = saveScript.Run(ctx, s.rdb, []string{s.RedisKey(c.Key)},
			strconv.FormatUint(c.Version, 10), strconv.FormatUint(version, 10),
			now.UnixMilli(), expiresAt.UnixMilli(), (ttl + time.Millisecond - 1).Milliseconds(), data,
		).Slice()
		return err
	})
	if err != nil {
		return s.wrap(ctx, "saving", c.Key, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redisstore: saving %s: script answered %d values, want 2", c.Key.Redacted(), len(res))
	}
	if ok, _ := res[0].(int64); ok != 1 {
		return fmt.Errorf("redisstore: saving %s at version %d, stored version %v: %w", c.Key.Redacted(), c.Version, res[1], convo.ErrConflict)
	}
	c.Version = version
	return nil
}

// marshal encodes c within the size bound, trimming its oldest turns.
func (s *Store) marshal(c *convo.Conversation) ([]byte, error) {
	for {
		data, err := convo.MarshalRecord(c)
		if err != nil {
			return nil, fmt.Errorf("redisstore: saving %s: %w", c.Key.Redacted(), err)
		}
		if s.maxBytes < 0 || len(data) <= s.maxBytes {
			return data, nil
		}
		if len(c.History) == 0 {
			return nil, fmt.Errorf("redisstore: saving %s: record of %d bytes is over the limit of %d: %w",
				c.Key.Redacted(), len(data), s.maxBytes, convo.ErrTooLarge)
		}
		c.History = c.History[1:]
	}
}

// newVersion returns a random version in [1, 2^63) other than old.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64() >> 1; v != 0 && v != old {
			return v
		}
	}
}

// Delete removes the conversation stored under key. Deleting a missing key
// is a no-op and no error.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: deleting %s: %w", key.Redacted(), err)
	}
	err := s.do(ctx, func(ctx context.Context) error {
		return s.rdb.Del(ctx, s.RedisKey(key)).Err()
	})
	if err != nil {
		return s.wrap(ctx, "deleting", key, err)
	}
	return nil
}

// do runs call, returning as soon as ctx ends even when the client would
// keep waiting on its socket (a client without ContextTimeoutEnabled
// bounds a call only by its ReadTimeout, 5 s by default). An abandoned
// call finishes in the background within the client's timeouts.
func (s *Store) do(ctx context.Context, call func(context.Context) error) error {
	if s.ctxAware || ctx.Done() == nil {
		return call(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wrap adds what the caller branches on to a client error: ctx's error
// when the context ended, convo.ErrClosed for a closed client and
// convo.ErrCorrupt for a key of the wrong type.
func (s *Store) wrap(ctx context.Context, op string, key convo.Key, err error) error {
	switch ctxErr := ctx.Err(); {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	case ctxErr != nil:
		return fmt.Errorf("redisstore: %s %s: %w (%w)", op, key.Redacted(), ctxErr, err)
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("redisstore: %s %s: %w (%w)", op, key.Redacted(), convo.ErrClosed, err)
	case strings.Contains(err.Error(), "WRONGTYPE"):
		return fmt.Errorf("redisstore: %s %s: %w: key holds another type (%w)", op, key.Redacted(), convo.ErrCorrupt, err)
	}
	return fmt.Errorf("redisstore: %s %s: %w", op, key.Redacted(), err)
}
