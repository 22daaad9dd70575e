package otelconvo_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/otelconvo"
)

// BenchmarkObserve measures one Observe of an answered message (a request,
// its duration, a load, a save and a reply recorded), with the SDK and
// with a no-op meter provider (the adapter's own cost).
func BenchmarkObserve(b *testing.B) {
	sdk, _ := newObserver(b)
	nop, err := otelconvo.New(noop.NewMeterProvider())
	if err != nil {
		b.Fatal(err)
	}
	e := &convo.Event{
		Outcome: convo.Answered, Status: 200, Channel: "sms",
		Load: 40 * time.Microsecond, Save: 60 * time.Microsecond, Reply: time.Millisecond, Total: 2 * time.Millisecond,
	}
	for _, bc := range []struct {
		name string
		obs  *otelconvo.Observer
	}{{"sdk", sdk}, {"noop", nop}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				bc.obs.Observe(ctx, e)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					bc.obs.Observe(ctx, e)
				}
			})
		})
	}
}
