// Package redisstore keeps conversation records in Redis, for any number
// of webhook servers to share.
//
// Each record is one Redis string, "version:record", under Options.Prefix
// and [convo.Key.String]. Load is one GET; Save is one atomic Lua
// compare-and-set whose SET gives the key the time to live as PX, so Redis
// expires records on its own clock. One key per conversation makes Redis
// Cluster work unchanged. The go-redis client stays the caller's: the
// store never closes it. Give it ContextTimeoutEnabled, so that a call to
// a hung Redis ends at the turn's deadline, not at the client's
// ReadTimeout (5 s by default). README.md has the details.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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
	// Prefix starts every key; "" means DefaultPrefix. On Redis Cluster,
	// put no {hash tag} in it: all conversations would share one slot.
	Prefix string

	// MaxRecordBytes bounds a record: Save refuses a larger one with an
	// error wrapping convo.ErrTooLarge, writing nothing. 0 means
	// DefaultMaxRecordBytes; negative, no bound but Redis's own.
	MaxRecordBytes int
}

// Store is a convo.Store in Redis, safe for concurrent use. Its methods
// fail with an error wrapping ctx.Err() once ctx has ended, or
// convo.ErrClosed once the client is closed. It has no Close.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	maxBytes int
}

// New returns a Store on rdb. It connects to nothing: the first call
// does. It fails when rdb is nil.
func New(rdb redis.UniversalClient, opts Options) (*Store, error) {
	if v := reflect.ValueOf(rdb); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, errors.New("redisstore: New with a nil client")
	}
	s := &Store{rdb: rdb, prefix: opts.Prefix, maxBytes: opts.MaxRecordBytes}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxRecordBytes
	}
	return s, nil
}

// Load returns the record stored under key and its version, or nil and 0
// when there is none (Redis deletes it once its time to live is over). A
// key holding anything else gives an error wrapping convo.ErrCorrupt and
// is left as it is.
func (s *Store) Load(ctx context.Context, key convo.Key) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, wrap(ctx, "loading", key, err)
	}
	val, err := s.rdb.Get(ctx, s.prefix+key.String()).Result()
	if errors.Is(err, redis.Nil) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, wrap(ctx, "loading", key, err)
	}
	head, data, found := strings.Cut(val, ":")
	version, err := strconv.ParseUint(head, 10, 63)
	if !found || err != nil || head[0] == '0' { // not as Save writes it
		return nil, 0, fmt.Errorf("redisstore: loading %s: %w: no version", key.Redacted(), convo.ErrCorrupt)
	}
	return []byte(data), version, nil
}

// saveScript is the compare-and-set: if the stored value starts with
// ARGV[1] ("<prev>:", "" for none), it SETs ARGV[4] for ARGV[3] ms and
// returns 1; else 0. A stored "<next>:" (ARGV[2]) is this very save,
// re-sent after a lost answer: 1 again, as no other save has that random
// 63-bit version. Lua copies the value in once, as every argument, and no
// more; offsets are strings, as Lua numbers go through printf every run.
var saveScript = redis.NewScript(`
local head = redis.call('GETRANGE', KEYS[1], '0', '19')
head = string.match(head, '^%d+:') or head
if head == ARGV[2] then return 1 end
if head ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
return 1
`)

// Save stores data under key for ttl (rounded up to milliseconds) if the
// version stored is still prev (0: none), marking it next: of Saves from
// one prev, in any number of processes, one wins. Otherwise it writes
// nothing and returns an error wrapping convo.ErrConflict (ErrCorrupt for
// a key of another type). A record over MaxRecordBytes gets ErrTooLarge
// without a call to Redis. A Save that fails for lack of an answer (a
// dropped connection, an ended ctx) may have been applied, but wholly.
func (s *Store) Save(ctx context.Context, key convo.Key, data []byte, ttl time.Duration, prev, next uint64) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "saving", key, err)
	}
	if s.maxBytes >= 0 && len(data) > s.maxBytes {
		return fmt.Errorf("redisstore: saving %s: %d bytes, over the limit of %d: %w",
			key.Redacted(), len(data), s.maxBytes, convo.ErrTooLarge)
	}
	var expect []byte
	if prev != 0 {
		expect = append(strconv.AppendUint(nil, prev, 10), ':')
	}
	head := append(strconv.AppendUint(make([]byte, 0, 21+len(data)), next, 10), ':')
	val := append(head, data...) // within head's capacity: head is val[:len(head)]
	ms := max((min(ttl, 1<<62) + time.Millisecond - 1).Milliseconds(), 1)
	ok, err := saveScript.Run(ctx, s.rdb, []string{s.prefix + key.String()}, expect, head, ms, val).Int()
	if err != nil {
		return wrap(ctx, "saving", key, err)
	} else if ok != 1 {
		return fmt.Errorf("redisstore: saving %s at version %d: %w", key.Redacted(), prev, convo.ErrConflict)
	}
	return nil
}

// Delete removes whatever key holds. Deleting a missing key is no error.
func (s *Store) Delete(ctx context.Context, key convo.Key) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "deleting", key, err)
	}
	if err := s.rdb.Del(ctx, s.prefix+key.String()).Err(); err != nil {
		return wrap(ctx, "deleting", key, err)
	}
	return nil
}

// wrap adds what callers branch on to err: ctx's error, convo.ErrClosed
// or convo.ErrCorrupt. It names key redacted, never the Redis key.
func wrap(ctx context.Context, op string, key convo.Key, err error) error {
	what := "redisstore: " + op + " " + key.Redacted()
	switch ctxErr := ctx.Err(); {
	case ctxErr != nil && !errors.Is(err, ctxErr):
		return fmt.Errorf("%s: %w (%w)", what, ctxErr, err)
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("%s: %w (%w)", what, convo.ErrClosed, err)
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return fmt.Errorf("%s: %w: the key holds another type (%w)", what, convo.ErrCorrupt, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
