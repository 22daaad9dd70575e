// Package otelconvo records the Events of a [convo.Handler] as
// OpenTelemetry metrics, through the meter provider the application passes
// to [New]:
//
//	obs, err := otelconvo.New(nil) // nil: otel.GetMeterProvider()
//	...
//	h, err := convo.NewHandler(convo.Config{Store: store, Reply: reply, AuthToken: token, Observer: obs})
//
// Instruments (durations in seconds, with buckets from 0.5 ms to 15 s,
// Twilio's timeout):
//
//	convo.webhook.requests  Int64Counter      {request}   convo.outcome, http.response.status_code, convo.channel (when known), convo.opt_out (when set)
//	convo.webhook.duration  Float64Histogram  s           convo.outcome
//	convo.store.duration    Float64Histogram  s           convo.store.operation (load or save), when the store was called
//	convo.reply.duration    Float64Histogram  s           none; when the reply function ran
//	convo.turn.conflicts    Int64Counter      {conflict}  none; turns re-run because another server saved first
//
// Store and reply durations add up every run of a turn. convo.channel is
// sms, whatsapp, messenger or rcs, any other channel being "other", and
// convo.opt_out is stop, start or help: no attribute holds a phone number,
// message text or error text, and none can take unbounded values.
package otelconvo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/smsconvo/convo"
)

// ScopeName is the instrumentation scope of the meter the Observer uses.
const ScopeName = "github.com/smsconvo/convo/otelconvo"

// buckets are the bucket boundaries, in seconds, of the duration
// histograms: webhook latencies, up to Twilio's 15 s timeout.
var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15}

// Observer is a convo.Observer recording OpenTelemetry metrics. It is safe
// for concurrent use.
type Observer struct {
	requests, conflicts metric.Int64Counter
	total, store, reply metric.Float64Histogram
	load, save          []metric.RecordOption
	mu                  sync.Mutex                    // serializes writers of sets
	sets                atomic.Pointer[map[key]*sets] // copied on write, read without a lock
}

var _ convo.Observer = (*Observer)(nil)

// key is what the attributes of a request depend on.
type key struct {
	outcome         convo.Outcome
	status          int
	channel, optOut string
}

// sets are the options of one key, built once.
type sets struct {
	request []metric.AddOption
	total   []metric.RecordOption
}

// New returns an Observer recording through mp's meter; nil mp means
// otel.GetMeterProvider(). It fails when an instrument cannot be created.
func New(mp metric.MeterProvider) (*Observer, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	o := &Observer{
		load: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("convo.store.operation", "load")))},
		save: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("convo.store.operation", "save")))},
	}
	o.sets.Store(&map[key]*sets{})
	var err [5]error
	o.requests, err[0] = m.Int64Counter("convo.webhook.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Webhook requests answered by the Handler."))
	o.total, err[1] = m.Float64Histogram("convo.webhook.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...),
		metric.WithDescription("Time to answer a webhook request."))
	o.store, err[2] = m.Float64Histogram("convo.store.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...),
		metric.WithDescription("Time spent in Store.Load or Store.Save by one request."))
	o.reply, err[3] = m.Float64Histogram("convo.reply.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...),
		metric.WithDescription("Time spent in the reply function by one request."))
	o.conflicts, err[4] = m.Int64Counter("convo.turn.conflicts", metric.WithUnit("{conflict}"),
		metric.WithDescription("Turns re-run because another server saved the conversation first."))
	if err := errors.Join(err[:]...); err != nil {
		return nil, fmt.Errorf("otelconvo: %w", err)
	}
	return o, nil
}

// Observe records e. It implements convo.Observer.
func (o *Observer) Observe(ctx context.Context, e *convo.Event) {
	s := o.attrs(key{e.Outcome, e.Status, channel(e.Channel), optOut(e.OptOut)})
	o.requests.Add(ctx, 1, s.request...)
	o.total.Record(ctx, e.Total.Seconds(), s.total...)
	record(ctx, o.store, e.Load, o.load)
	record(ctx, o.store, e.Save, o.save)
	record(ctx, o.reply, e.Reply, nil)
	if e.Conflicts > 0 {
		o.conflicts.Add(ctx, int64(e.Conflicts))
	}
}

func record(ctx context.Context, h metric.Float64Histogram, d time.Duration, opts []metric.RecordOption) {
	if d > 0 {
		h.Record(ctx, d.Seconds(), opts...)
	}
}

// attrs returns the options of k, building them on its first use.
func (o *Observer) attrs(k key) *sets {
	if s, ok := (*o.sets.Load())[k]; ok {
		return s
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.sets.Load()
	if s, ok := old[k]; ok {
		return s
	}
	outcome := attribute.String("convo.outcome", string(k.outcome))
	kv := []attribute.KeyValue{outcome, attribute.Int("http.response.status_code", k.status)}
	if k.channel != "" {
		kv = append(kv, attribute.String("convo.channel", k.channel))
	}
	if k.optOut != "" {
		kv = append(kv, attribute.String("convo.opt_out", k.optOut))
	}
	s := &sets{
		request: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kv...))}, // sorts kv
		total:   []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(outcome))},
	}
	m := maps.Clone(old)
	m[k] = s
	o.sets.Store(&m)
	return s
}

// channel returns the value of convo.channel for c: a channel Twilio
// names, "other" or, when c is unknown, "".
func channel(c string) string {
	switch c {
	case "", "sms", "whatsapp", "messenger", "rcs":
		return c
	}
	return "other"
}

// optOut returns the value of convo.opt_out for k, "" when it is none.
func optOut(k convo.OptOut) string {
	switch k {
	case convo.OptOutStop:
		return "stop"
	case convo.OptOutStart:
		return "start"
	case convo.OptOutHelp:
		return "help"
	}
	return ""
}
