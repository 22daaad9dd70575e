package redisstore_test

// Benchmarks of redisstore beside a PostgreSQL baseline, in one run:
//
//	CONVO_TEST_REDIS_ADDR=127.0.0.1:6379 \
//	CONVO_TEST_POSTGRES_DSN='postgres://root@127.0.0.1:5432/test?sslmode=disable' \
//	go test ./redisstore -run '^$' -bench . -benchmem -benchtime 2000x
//
// The PostgreSQL side is NOT sqlstore (written separately): it is
// pgBaseline below, a minimal store doing the equivalent compare-and-set
// (one SELECT to load; one conditional UPDATE, or INSERT … ON CONFLICT …
// WHERE expired for a new conversation, to save) through database/sql and
// pgx's stdlib driver, on a table of its own. It passes the same
// conformance suite, so the figures compare like with like.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/redisstore"
)

// pgBaseline is a comparison baseline for the benchmarks only: a minimal
// PostgreSQL store with the same record, versions and expiry rules as
// redisstore. It is not part of the package.
type pgBaseline struct {
	db     *sql.DB
	table  string
	expiry convo.Expiry
	load   string
	update string
	insert string
}

// newPGBaseline opens CONVO_TEST_POSTGRES_DSN (skipping when unset) and
// creates a table of the test's own, dropped at its end.
func newPGBaseline(t testing.TB, e convo.Expiry) *pgBaseline {
	t.Helper()
	dsn := os.Getenv("CONVO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("CONVO_TEST_POSTGRES_DSN is not set: skipping the PostgreSQL comparison baseline")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("opening CONVO_TEST_POSTGRES_DSN: %v", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("CONVO_TEST_POSTGRES_DSN is set but PostgreSQL is unreachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	table := "redisstore_baseline_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, `CREATE TABLE `+table+` (
		key text PRIMARY KEY,
		version bigint NOT NULL,
		expires_at timestamptz NOT NULL,
		data bytea NOT NULL)`); err != nil {
		db.Close()
		t.Fatalf("creating %s: %v", table, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP TABLE ` + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
		db.Close()
	})
	return &pgBaseline{
		db: db, table: table, expiry: e,
		load: `SELECT version, expires_at, data FROM ` + table + ` WHERE key = $1`,
		update: `UPDATE ` + table + ` SET version = $2, expires_at = $3, data = $4
			WHERE key = $1 AND version = $5 AND expires_at > $6`,
		insert: `INSERT INTO ` + table + ` AS t (key, version, expires_at, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET version = EXCLUDED.version, expires_at = EXCLUDED.expires_at, data = EXCLUDED.data
			WHERE t.expires_at <= $5`,
	}
}

func (p *pgBaseline) Load(ctx context.Context, key convo.Key) (*convo.Conversation, error) {
	var version int64
	var expiresAt time.Time
	var data []byte
	err := p.db.QueryRowContext(ctx, p.load, key.String()).Scan(&version, &expiresAt, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return convo.NewConversation(key), nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgbaseline: loading %s: %w", key.Redacted(), err)
	}
	if !p.expiry.Time().Before(expiresAt) {
		return convo.NewConversation(key), nil
	}
	c, err := convo.UnmarshalRecord(data)
	if err != nil {
		return nil, fmt.Errorf("pgbaseline: loading %s: %w", key.Redacted(), err)
	}
	c.Version = uint64(version)
	return c, nil
}

var pgVersion atomic.Int64

func (p *pgBaseline) Save(ctx context.Context, c *convo.Conversation) error {
	data, err := convo.MarshalRecord(c)
	if err != nil {
		return err
	}
	now := p.expiry.Time()
	version := time.Now().UnixNano()<<8 | pgVersion.Add(1)&0xff
	var res sql.Result
	if c.Version == 0 {
		res, err = p.db.ExecContext(ctx, p.insert, c.Key.String(), version, p.expiry.ExpiresAt(c), data, now)
	} else {
		res, err = p.db.ExecContext(ctx, p.update, c.Key.String(), version, p.expiry.ExpiresAt(c), data, int64(c.Version), now)
	}
	if err != nil {
		return fmt.Errorf("pgbaseline: saving %s: %w", c.Key.Redacted(), err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("pgbaseline: saving %s: %w", c.Key.Redacted(), convo.ErrConflict)
	}
	c.Version = uint64(version)
	return nil
}

func (p *pgBaseline) Delete(ctx context.Context, key convo.Key) error {
	_, err := p.db.ExecContext(ctx, `DELETE FROM `+p.table+` WHERE key = $1`, key.String())
	return err
}

// TestPostgresBaselineConformance shows that the benchmarks' baseline keeps
// the same contract as redisstore.
func TestPostgresBaselineConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	convotest.TestStore(t, func(t *testing.T, e convo.Expiry) convo.Store { return newPGBaseline(t, e) })
}

// benchStores returns the stores a benchmark compares.
func benchStores(b *testing.B) []struct {
	name string
	new  func(b *testing.B) convo.Store
} {
	return []struct {
		name string
		new  func(b *testing.B) convo.Store
	}{
		{"redis", func(b *testing.B) convo.Store {
			return redisstore.New(newClient(b, nil), redisstore.Options{Prefix: newPrefix(b)})
		}},
		{"postgres-baseline", func(b *testing.B) convo.Store { return newPGBaseline(b, convo.Expiry{}) }},
	}
}

// turn does one store round of a webhook turn: load, count, save.
func turn(ctx context.Context, s convo.Store, key convo.Key) error {
	c, err := s.Load(ctx, key)
	if err != nil {
		return err
	}
	now := time.Now()
	c.Count++
	if c.Started.IsZero() {
		c.Started = now
	}
	c.LastActive = now
	c.History = append(c.History, convo.Turn{At: now, In: "hello", Out: "Friend has messaged +15005550006 times"})
	if len(c.History) > convo.DefaultHistorySize {
		c.History = c.History[1:]
	}
	return s.Save(ctx, c)
}

// BenchmarkLoadSave measures one Load and one Save of one conversation.
func BenchmarkLoadSave(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			s := st.new(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := turn(ctx, s, rey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConcurrent16 measures the throughput of 16 goroutines, each
// turning its own conversation.
func BenchmarkConcurrent16(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			s := st.new(b)
			ctx := context.Background()
			var next atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((16 + procs - 1) / procs)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := convo.Key{From: fmt.Sprintf("+1415555%04d", next.Add(1)), To: "+15005550006"}
				for pb.Next() {
					if err := turn(ctx, s, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
		})
	}
}
