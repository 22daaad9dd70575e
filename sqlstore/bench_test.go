package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/sqlstore"
)

// benchDialects runs bench once per dialect whose database is reachable,
// on a fresh table.
func benchDialects(b *testing.B, bench func(b *testing.B, d sqlstore.Dialect, db *sql.DB, s *sqlstore.Store, table string)) {
	for _, d := range dialects {
		b.Run(string(d.name), func(b *testing.B) {
			db := openDB(b, d.name, dsnFor(b, d.name, d.env))
			table := uniqueTable(b, db)
			s := newStore(b, db, table, sqlstore.Options{CleanupInterval: -1})
			bench(b, d.name, db, s, table)
		})
	}
}

// turn does what the Handler does to a store for one message: Load, then
// Save of a record as large as a conversation with four turns of history
// and four retry records (about 1.3 KB).
func turn(b *testing.B, ctx context.Context, s *sqlstore.Store, key convo.Key) {
	_, v, err := s.Load(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Save(ctx, key, benchRecord, 4*time.Hour, v, rand.Uint64()>>1|1); err != nil {
		b.Fatal(err)
	}
}

var benchRecord = func() []byte {
	stamp := `"2026-12-02T08:24:17.123Z"`
	var history, retries []string
	for i := range 4 {
		history = append(history, fmt.Sprintf(`{"at":%s,"in":"hello there","out":"Friend has messaged +15005550006 %d times"}`, stamp, i+1))
		retries = append(retries, fmt.Sprintf(`{"id":"SM%032d","at":%s,"twiml":%q}`, i, stamp, benchReply))
	}
	return []byte(`{"v":2,"count":4,"started":` + stamp + `,"last_active":` + stamp +
		`,"history":[` + strings.Join(history, ",") + `],"retries":[` + strings.Join(retries, ",") + `]}`)
}()

const benchReply = `<?xml version="1.0" encoding="UTF-8"?><Response><Message>Friend has messaged +15005550006 4 times</Message></Response>`

// BenchmarkLoadSave measures one turn (Load, then Save) of one
// conversation.
func BenchmarkLoadSave(b *testing.B) {
	benchDialects(b, func(b *testing.B, d sqlstore.Dialect, db *sql.DB, s *sqlstore.Store, table string) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			turn(b, ctx, s, rey)
		}
	})
}

// BenchmarkStoredRows measures one turn of a random stored conversation
// with 1 thousand, 100 thousand and (with CONVO_BENCH_1M=1) 1 million
// conversations stored: the cost stays flat.
func BenchmarkStoredRows(b *testing.B) {
	sizes := []int{1_000, 100_000}
	if os.Getenv("CONVO_BENCH_1M") != "" {
		sizes = append(sizes, 1_000_000)
	}
	for _, d := range dialects {
		b.Run(string(d.name), func(b *testing.B) {
			db := openDB(b, d.name, dsnFor(b, d.name, d.env))
			for _, n := range sizes {
				b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
					table := uniqueTable(b, db)
					s := newStore(b, db, table, sqlstore.Options{CleanupInterval: -1})
					start := time.Now()
					seed(b, d.name, db, table, n)
					b.Logf("seeded %d rows in %v", n, time.Since(start).Round(time.Millisecond))
					ctx := context.Background()
					b.ReportAllocs()
					b.ResetTimer()
					i := 0
					for b.Loop() {
						i = (i*7919 + 104729) % n
						turn(b, ctx, s, seedKey(i))
					}
				})
			}
		})
	}
}

func seedKey(i int) convo.Key {
	return convo.Key{From: fmt.Sprintf("+1415%07d", i), To: "+15005550006"}
}

// seed stores n conversations in table with multi-row INSERTs, in
// transactions of 50,000 rows.
func seed(b *testing.B, d sqlstore.Dialect, db *sql.DB, table string, n int) {
	b.Helper()
	const perStmt = 500
	now := time.Now()
	updated := sqlstore.SQLTime(d, now)
	expires := sqlstore.SQLTime(d, now.Add(24*time.Hour))
	ctx := context.Background()
	var tx *sql.Tx
	for i := 0; i < n; i += perStmt {
		if i%50_000 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			var err error
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		rows := min(perStmt, n-i)
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (id, version, data, expires_at, updated_at) VALUES ")
		args := make([]any, 0, rows*5)
		for r := range rows {
			if r > 0 {
				q.WriteByte(',')
			}
			k := len(args)
			if d == sqlstore.PostgreSQL {
				fmt.Fprintf(&q, "($%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5)
			} else {
				q.WriteString("(?,?,?,?,?)")
			}
			args = append(args, seedKey(i+r).String(), int64(i+r+1), string(benchRecord), expires, updated)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParallel16 measures the throughput of 16 goroutines each
// running turns of its own conversation at once.
func BenchmarkParallel16(b *testing.B) {
	benchDialects(b, func(b *testing.B, d sqlstore.Dialect, db *sql.DB, s *sqlstore.Store, table string) {
		ctx := context.Background()
		var next atomic.Int64
		b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := convo.Key{From: fmt.Sprintf("+1415555%04d", next.Add(1)), To: "+15005550006"}
			for pb.Next() {
				turn(b, ctx, s, key)
			}
		})
	})
}

// BenchmarkHandlerTurn measures a whole webhook request through
// convo.Handler (parse, load, reply, save, TwiML) on each dialect: the
// figure to compare with the peers' in-process cost per request.
func BenchmarkHandlerTurn(b *testing.B) {
	benchDialects(b, func(b *testing.B, d sqlstore.Dialect, db *sql.DB, s *sqlstore.Store, table string) {
		h, err := convo.NewHandler(convo.Config{Store: s, Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		body := "From=%2B14158675308&To=%2B15005550006&Body=hello&MessageSid=SM"
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			req := httptest.NewRequest(http.MethodPost, "/sms", strings.NewReader(body+strconv.Itoa(i)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
