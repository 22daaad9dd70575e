package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/smsconvo/convo"
	"github.com/smsconvo/convo/otelconvo"
)

// metrics are the service's OpenTelemetry metrics: an SDK MeterProvider
// whose ManualReader GET /debug/metrics collects on demand. A production
// service would add an exporter reader (OTLP, Prometheus) to the same
// provider instead of, or beside, the manual one.
type metrics struct {
	provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
	observer convo.Observer // otelconvo's, for convo.Config.Observer
}

func newMetrics() (*metrics, error) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	obs, err := otelconvo.New(provider)
	if err != nil {
		return nil, err
	}
	return &metrics{provider: provider, reader: reader, observer: obs}, nil
}

// Close flushes and stops the provider.
func (m *metrics) Close() error { return m.provider.Shutdown(context.Background()) }

// serveText answers the metrics collected so far as text, one line per
// data point: a counter's value, a histogram's count and sum.
func (m *metrics) serveText(w http.ResponseWriter, r *http.Request) {
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(r.Context(), &rm); err != nil {
		http.Error(w, "collecting metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	writeMetrics(w, &rm)
}

// writeMetrics writes rm in a text form close to Prometheus's:
//
//	convo.webhook.requests{convo.channel="sms",convo.outcome="answered",http.response.status_code="200"} 4
//	convo.webhook.duration{convo.outcome="answered"} count=4 sum=0.0031
func writeMetrics(w io.Writer, rm *metricdata.ResourceMetrics) {
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			lines = append(lines, metricLines(md)...)
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func metricLines(md metricdata.Metrics) []string {
	var lines []string
	add := func(attrs attribute.Set, value string) {
		lines = append(lines, md.Name+labels(attrs)+" "+value)
	}
	switch data := md.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Sum[float64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, fmt.Sprintf("count=%d sum=%g", p.Count, p.Sum))
		}
	case metricdata.Histogram[int64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, fmt.Sprintf("count=%d sum=%d", p.Count, p.Sum))
		}
	}
	return lines
}

// labels renders a set of attributes as {k="v",…}, sorted by key; "" for
// none.
func labels(s attribute.Set) string {
	if s.Len() == 0 {
		return ""
	}
	kv := make([]string, 0, s.Len())
	for it := s.Iter(); it.Next(); {
		a := it.Attribute()
		kv = append(kv, fmt.Sprintf("%s=%q", a.Key, a.Value.String()))
	}
	return "{" + strings.Join(kv, ",") + "}"
}
