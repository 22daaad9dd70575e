package otelconvo_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/convotest"
	"github.com/smsconvo/convo/memstore"
	"github.com/smsconvo/convo/otelconvo"
)

// buckets are the documented bucket boundaries.
var buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15}

// instrument is what a test checks of one collected instrument: its unit,
// kind, and per attribute set (encoded "k=v,…", sorted by key) the
// counter's value or the histogram's count.
type instrument struct {
	Unit   string
	Kind   string // "counter" or "histogram"
	Points map[string]int64
}

// newObserver returns an Observer recording to a fresh SDK meter provider,
// and the reader collecting it.
func newObserver(t testing.TB) (*otelconvo.Observer, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	obs, err := otelconvo.New(mp)
	require.NoError(t, err)
	return obs, reader
}

// collect reads every instrument of the reader, checking that each belongs
// to the package's scope and that histograms have the documented buckets.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]instrument {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]instrument{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelconvo.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			in := instrument{Unit: m.Unit, Points: map[string]int64{}}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				in.Kind = "counter"
				assert.True(t, d.IsMonotonic, m.Name)
				for _, p := range d.DataPoints {
					if v, ok := p.Attributes.Value("http.response.status_code"); ok {
						assert.Equal(t, attribute.INT64, v.Type())
					}
					in.Points[p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
				}
			case metricdata.Histogram[float64]:
				in.Kind = "histogram"
				for _, p := range d.DataPoints {
					assert.Equal(t, buckets, p.Bounds, m.Name)
					assert.Positive(t, p.Sum, m.Name)
					in.Points[p.Attributes.Encoded(attribute.DefaultEncoder())] = int64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			got[m.Name] = in
		}
	}
	return got
}

// spy forwards every Event to an Observer and adds up the conflicts.
type spy struct {
	convo.Observer
	conflicts atomic.Int64
}

func (s *spy) Observe(ctx context.Context, e *convo.Event) {
	s.conflicts.Add(int64(e.Conflicts))
	s.Observer.Observe(ctx, e)
}

func newHandler(t *testing.T, store convo.Store, obs convo.Observer) *convo.Handler {
	greet := convo.Greeter(nil)
	h, err := convo.NewHandler(convo.Config{
		Store: store,
		Reply: func(ctx context.Context, c *convo.Conversation, m *convo.Message) (convo.Reply, error) {
			if m.Body == "boom" {
				return convo.Reply{}, errors.New("boom")
			}
			return greet(ctx, c, m)
		},
		InsecureSkipSignatureCheck: true,
		Observer:                   obs,
		Logger:                     slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return h
}

// send sends body from p and checks the answer's status.
func send(t *testing.T, p *convotest.Phone, body string, status int) {
	t.Helper()
	r, err := p.Send(context.Background(), body)
	require.NoError(t, err)
	require.Equal(t, status, r.Status, body)
}

// burstUntilConflict sends bursts of messages from q1 and q2 at once,
// one phone's pair on two servers, until a turn is re-run after a
// conflict, and returns how many messages it sent.
func burstUntilConflict(t *testing.T, sp *spy, q1, q2 *convotest.Phone) int64 {
	const burst = 8
	rounds := 0
	for ; rounds < 50 && sp.conflicts.Load() == 0; rounds++ {
		var wg sync.WaitGroup
		for _, q := range []*convotest.Phone{q1, q2} {
			wg.Go(func() {
				replies, err := q.Burst(context.Background(), burst, nil)
				if assert.NoError(t, err) {
					for _, r := range replies {
						assert.Equal(t, http.StatusOK, r.Status)
					}
				}
			})
		}
		wg.Wait()
	}
	require.Positive(t, sp.conflicts.Load(), "no conflict in %d rounds", rounds)
	return int64(2 * burst * rounds)
}

// The encoded attribute sets of the test.
const (
	answered = "convo.channel=sms,convo.outcome=answered,http.response.status_code=200"
	stop     = "convo.channel=sms,convo.opt_out=stop,convo.outcome=answered,http.response.status_code=200"
	whatsapp = "convo.channel=whatsapp,convo.outcome=answered,http.response.status_code=200"
	replayed = "convo.channel=sms,convo.outcome=replayed,http.response.status_code=200"
	fallback = "convo.channel=sms,convo.outcome=fallback,http.response.status_code=200"
	failed   = "convo.channel=sms,convo.outcome=failed,http.response.status_code=503"
	status   = "convo.outcome=status_callback,http.response.status_code=200"
	refused  = "convo.outcome=refused,http.response.status_code=405"
)

func TestHandlerEvents(t *testing.T) {
	ctx := context.Background()
	obs, reader := newObserver(t)
	sp := &spy{Observer: obs}
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = mem.Close() })
	faulty := convotest.NewFaultyStore(mem)
	h1 := newHandler(t, faulty, sp)
	tw1 := convotest.NewTwilio(h1, convotest.TwilioOptions{})

	p := tw1.Phone("+14155550100", "+14155550199")
	send(t, p, "hi", http.StatusOK)
	send(t, p, "again", http.StatusOK)
	r, err := p.Retry(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	send(t, p, "boom", http.StatusOK)
	send(t, p, "STOP", http.StatusOK)
	send(t, tw1.Phone("whatsapp:+14155550101", "whatsapp:+14155550199"), "hola", http.StatusOK)
	r, err = p.SendStatus(ctx, convotest.StatusCallback{Status: "delivered"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	w := httptest.NewRecorder()
	h1.ServeHTTP(w, httptest.NewRequest(http.MethodGet, convotest.DefaultWebhookURL, nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	faulty.FailLoad(nil)
	send(t, p, "down", http.StatusServiceUnavailable)
	faulty.Heal()

	// Conflicts: one phone's bursts on two servers sharing the store.
	h2 := newHandler(t, mem, sp)
	q1 := tw1.Phone("+14155550102", "+14155550199")
	q2 := convotest.NewTwilio(h2, convotest.TwilioOptions{}).Phone("+14155550102", "+14155550199")
	bursts := burstUntilConflict(t, sp, q1, q2)

	assert.Equal(t, map[string]instrument{
		"convo.webhook.requests": {"{request}", "counter", map[string]int64{
			answered: 2 + bursts, stop: 1, whatsapp: 1, replayed: 1, fallback: 1, failed: 1, status: 1, refused: 1,
		}},
		"convo.webhook.duration": {"s", "histogram", map[string]int64{
			"convo.outcome=answered": 4 + bursts, "convo.outcome=replayed": 1, "convo.outcome=fallback": 1,
			"convo.outcome=failed": 1, "convo.outcome=status_callback": 1, "convo.outcome=refused": 1,
		}},
		"convo.store.duration": {"s", "histogram", map[string]int64{
			"convo.store.operation=load": 7 + bursts, "convo.store.operation=save": 4 + bursts,
		}},
		"convo.reply.duration": {"s", "histogram", map[string]int64{"": 5 + bursts}},
		"convo.turn.conflicts": {"{conflict}", "counter", map[string]int64{"": sp.conflicts.Load()}},
	}, collect(t, reader))
}

func TestObserveAttributes(t *testing.T) {
	ctx := context.Background()
	obs, reader := newObserver(t)
	for _, e := range []convo.Event{
		{Outcome: convo.Answered, Status: 200, Channel: "+14155550100", OptOut: convo.OptOutStart, Total: time.Millisecond},
		{Outcome: convo.Answered, Status: 200, Channel: "messenger", OptOut: convo.OptOutHelp, Total: time.Millisecond},
		{Outcome: convo.Answered, Status: 200, Channel: "rcs", OptOut: "UNKNOWN", Total: time.Millisecond},
		{Outcome: convo.Refused, Status: 413, Total: time.Millisecond, Err: errors.New("+14155550100 said hello")},
		{Outcome: convo.Refused, Status: 413, Total: time.Millisecond},
	} {
		obs.Observe(ctx, &e)
	}
	assert.Equal(t, map[string]instrument{
		"convo.webhook.requests": {"{request}", "counter", map[string]int64{
			"convo.channel=other,convo.opt_out=start,convo.outcome=answered,http.response.status_code=200":    1,
			"convo.channel=messenger,convo.opt_out=help,convo.outcome=answered,http.response.status_code=200": 1,
			"convo.channel=rcs,convo.outcome=answered,http.response.status_code=200":                          1,
			"convo.outcome=refused,http.response.status_code=413":                                             2,
		}},
		"convo.webhook.duration": {"s", "histogram", map[string]int64{"convo.outcome=answered": 3, "convo.outcome=refused": 2}},
	}, collect(t, reader), "no store, reply or conflict was recorded")
}

func TestObserveConcurrent(t *testing.T) {
	ctx := context.Background()
	obs, reader := newObserver(t)
	const goroutines, events = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				obs.Observe(ctx, &convo.Event{Outcome: convo.Refused, Status: 400 + (g+i)%20, Total: time.Millisecond})
			}
		})
	}
	wg.Wait()
	var n int64
	points := collect(t, reader)["convo.webhook.requests"].Points
	for _, v := range points {
		n += v
	}
	assert.Len(t, points, 20)
	assert.Equal(t, int64(goroutines*events), n)
}

// TestGlobalMeterProvider sets the global meter provider: no other test
// may rely on it.
func TestGlobalMeterProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	obs, err := otelconvo.New(nil)
	require.NoError(t, err)
	obs.Observe(context.Background(), &convo.Event{Outcome: convo.Replayed, Status: 200, Channel: "sms", Total: time.Millisecond})
	assert.Equal(t, map[string]int64{replayed: 1}, collect(t, reader)["convo.webhook.requests"].Points)
}

func Example() {
	reader := sdkmetric.NewManualReader() // an application passes its exporter's provider
	obs, err := otelconvo.New(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		log.Fatal(err)
	}
	h, err := convo.NewHandler(convo.Config{
		Store: memstore.New(memstore.Options{}), Reply: convo.Greeter(nil), InsecureSkipSignatureCheck: true,
		Observer: obs,
	})
	if err != nil {
		log.Fatal(err)
	}

	phone := convotest.NewTwilio(h, convotest.TwilioOptions{}).Phone("+14155550100", "+14155550199")
	if _, err := phone.Send(context.Background(), "hi"); err != nil {
		log.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit)
	}
	// Unordered output:
	// convo.webhook.requests {request}
	// convo.webhook.duration s
	// convo.store.duration s
	// convo.reply.duration s
}
