package otelhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/otelhooks"
	"github.com/authcapture/authcapture/memstore"
)

type executor struct{}

func (executor) Capture(context.Context, authcapture.CaptureTask) error { return nil }
func (executor) Void(_ context.Context, t authcapture.VoidTask) (int64, error) {
	return t.Amount, nil
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	h, err := otelhooks.New(provider.Meter("authcapture"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktest.New(t0)
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock, Hooks: h})
	if err != nil {
		t.Fatal(err)
	}
	amount := decimal.RequireFromString("100.00")
	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amount, Policy: "payrails",
		CaptureMode: authcapture.CaptureDelayed, IdempotencyKey: "c"})
	if err != nil {
		t.Fatal(err)
	}
	r, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amount, IdempotencyKey: "a"})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Authorization
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID,
		Amount: decimal.RequireFromString("500.00"), IdempotencyKey: "big"}); err == nil {
		t.Fatal("an over-capture was accepted")
	}
	s, err := authcapture.NewScheduler(svc, executor{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(a.CaptureAt.Add(90 * time.Second))
	if res, err := s.RunDue(ctx, 10); err != nil || res.Captured != 1 {
		t.Fatalf("sweep: %+v, %v", res, err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m.Data
		}
	}
	for _, name := range []string{"authcapture.commands", "authcapture.command.duration", "authcapture.executor.latency",
		"authcapture.scheduler.lag", "authcapture.scheduler.actions"} {
		if got[name] == nil {
			t.Errorf("no metric %s", name)
		}
	}
	commands := got["authcapture.commands"].(metricdata.Sum[int64])
	count := func(op, outcome, sentinel string) int64 {
		for _, dp := range commands.DataPoints {
			o, _ := dp.Attributes.Value("op")
			oc, _ := dp.Attributes.Value("outcome")
			se, _ := dp.Attributes.Value("sentinel")
			if o.AsString() == op && oc.AsString() == outcome && se.AsString() == sentinel {
				return dp.Value
			}
		}
		return 0
	}
	if n := count("authorize", "accepted", ""); n != 1 {
		t.Errorf("accepted authorizations: %d", n)
	}
	if n := count("capture", "rejected", "ErrExceedsCapturable"); n != 1 {
		t.Errorf("rejected captures: %d", n)
	}
	if n := count("confirm_capture", "accepted", ""); n != 1 {
		t.Errorf("confirmed captures: %d", n)
	}
	lag := got["authcapture.scheduler.lag"].(metricdata.Gauge[float64])
	if len(lag.DataPoints) != 1 || lag.DataPoints[0].Value != 90 {
		t.Errorf("lag: %+v", lag.DataPoints)
	}
	latency := got["authcapture.executor.latency"].(metricdata.Histogram[float64])
	want := attribute.NewSet(attribute.String("kind", "capture"), attribute.String("outcome", "accepted"))
	if len(latency.DataPoints) != 1 || latency.DataPoints[0].Count != 1 || !latency.DataPoints[0].Attributes.Equals(&want) {
		t.Errorf("executor latency: %+v", latency.DataPoints)
	}
}
