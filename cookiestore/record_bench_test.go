package cookiestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsconvo/convo"
)

// counterConversation is the counter's conversation after n messages with
// the Handler's defaults with this store (4 turns, 1 retry record), as the
// benchmarks module's pairs reach it.
func counterConversation(n int) (*convo.Conversation, header) {
	c := convo.NewConversation(convo.Key{From: "+14155550001", To: "+15005550006"})
	greet := convo.Greeter(convo.SeedNames())
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for i := range n {
		now = now.Add(1234 * time.Millisecond)
		m := &convo.Message{From: c.Key.From, To: c.Key.To, Body: "Hello there", MessageSID: fmt.Sprintf("SM%032x", uint64(i)*0x9e3779b97f4a7c15)}
		c.Count++
		r, _ := greet(context.Background(), c, m)
		c.History = append(c.History, convo.Turn{At: now, In: m.Body, Out: r.String()})
		if len(c.History) > convo.DefaultHistorySize {
			c.History = c.History[1:]
		}
		c.Handled = append(c.Handled, convo.Handled{ID: m.MessageSID, Reply: r.TwiML()})
		if len(c.Handled) > retryRecords {
			c.Handled = c.Handled[1:]
		}
		c.LastActive = now
		if c.Started.IsZero() {
			c.Started = now
		}
	}
	return c, header{version: 12345678901234, savedAt: now, expiresAt: now.Add(4 * time.Hour), started: c.Started, lastActive: c.LastActive}
}

// BenchmarkRecord encodes and decodes the counter's steady conversation,
// beside convo's own binary record of it (memstore's) for scale.
func BenchmarkRecord(b *testing.B) {
	c, h := counterConversation(10)
	plain := encodeRecord(c, h)
	b.Logf("cookie record %d bytes, convo binary record %d bytes", len(plain), len(c.AppendBinary(nil)))
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = appendBody(appendHeader(buf[:0], &h), c, c.History, h.savedAt.UnixMilli())
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hd, body, err := parseHeader(plain)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := parseBody(&hd, body, c.Key); err != nil {
				b.Fatal(err)
			}
		}
	})
	bin := c.AppendBinary(nil)
	b.Run("convo-encode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf = c.AppendBinary(buf[:0])
		}
	})
	b.Run("convo-decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d convo.Conversation
			if err := d.UnmarshalBinary(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
}
