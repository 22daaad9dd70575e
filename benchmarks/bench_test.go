package benchmarks

import (
	"testing"

	"github.com/smsconvo/convo/benchmarks/internal/systems"
)

// BenchmarkWebhook sends the same messages to every system that needs no
// server (the systems on PostgreSQL, MySQL and Redis are measured by
// cmd/shared, with their servers' CPU): a realistic Twilio form of 19
// parameters, 1,000 pairs in rotation, each message with its own
// MessageSid, cookies carried from each answer to the pair's next message
// as Twilio does, convo's Handler on the paced clock (a pair texts once a
// minute), timed after warmup messages per pair. Signature checking is off
// everywhere. Compare each line with floor, measured in the same run:
//
//	go test -run '^$' -bench Webhook -benchmem -count 5
func BenchmarkWebhook(b *testing.B) {
	for _, s := range systems.All() {
		if s.Backend != "" && s.Backend != systems.SQLite {
			continue
		}
		b.Run(s.Name, func(b *testing.B) {
			r := newRunner(newSystem(b, s, nil, paced()), pairs)
			r.run(b, warmup*pairs) // every pair's conversation (or cookie) has its steady size before timing starts
			b.ReportAllocs()
			for b.Loop() {
				if err := r.step(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
