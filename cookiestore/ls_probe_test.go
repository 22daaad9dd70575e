package cookiestore_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/cookiestore"
)

func BenchmarkLoadSave(b *testing.B) {
	s, _ := cookiestore.New(cookiestore.Options{Keys: []cookiestore.KeyPair{testKeys(b)}})
	key := convo.Key{From: "+14158675308", To: "+15005550006"}
	c := convo.NewConversation(key)
	now := time.Now()
	c.Count, c.Started, c.LastActive = 7, now, now
	for i := range 4 {
		out := "Rey has messaged +15005550006 7 times"
		c.History = append(c.History, convo.Turn{At: now, In: "hello there", Out: out})
		c.Handled = append(c.Handled, convo.Handled{ID: "SM0123456789012345678901234567890" + string(rune('0'+i)), Reply: convo.Text(out).TwiML()})
	}
	req, _ := http.NewRequest("POST", "https://example.com/sms", nil)
	x := &convo.Exchange{Request: req, Header: http.Header{}}
	ctx := convo.WithExchange(context.Background(), x)
	if err := s.Save(ctx, c); err != nil {
		b.Fatal(err)
	}
	line := x.Header["Set-Cookie"][0]
	b.Logf("line %d", len(line))
	val := line[:len(line)-len("; Path=/; Max-Age=14400; HttpOnly; Secure")]
	req.Header.Set("Cookie", val)
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			req2, _ := http.NewRequest("POST", "https://example.com/sms", nil)
			req2.Header["Cookie"] = []string{val}
			x := &convo.Exchange{Request: req2, Header: http.Header{}}
			_, _ = s.Load(convo.WithExchange(context.Background(), x), key)
		}
	})
	b.Run("LoadCached", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = s.Load(ctx, key)
		}
	})
	b.Run("Save", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			c2, _ := s.Load(ctx, key)
			x.Header = http.Header{}
			if err := s.Save(ctx, c2); err != nil {
				b.Fatal(err)
			}
		}
	})
}
