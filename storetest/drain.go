package storetest

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
)

// The load of BenchmarkSchedulerDrain: how many delayed captures are due,
// how many the scheduler runs at once, and how long the provider takes.
const (
	drainDue         = 2000
	drainConcurrency = 32
	drainLatency     = 50 * time.Millisecond
)

// BenchmarkSchedulerDrain measures how fast one Scheduler with
// Concurrency 32 carries out 2,000 due delayed captures on the store
// newStore returns, against a provider that answers in 50 ms: each capture
// is a begin, the provider call and a confirm. It reports captures per
// second and x-ideal, that rate over the provider-bound ideal of
// 32 / 50 ms = 640 per second.
func BenchmarkSchedulerDrain(b *testing.B, newStore func(b *testing.B) authcapture.Store) {
	ctx := context.Background()
	base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	amount := decimal.RequireFromString("10.00")
	captured := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clock := clocktest.New(base)
		svc, err := authcapture.New(newStore(b), &authcapture.Options{Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		for j := range drainDue {
			id := fmt.Sprintf("a%05d", j)
			if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m", ID: id, Currency: "USD", Amount: amount,
				CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour, IdempotencyKey: "c" + id}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m", ID: id, Amount: amount,
				IdempotencyKey: "a" + id}); err != nil {
				b.Fatal(err)
			}
		}
		sched, err := authcapture.NewScheduler(svc, slowProvider{drainLatency}, &authcapture.SchedulerOptions{Concurrency: drainConcurrency})
		if err != nil {
			b.Fatal(err)
		}
		clock.Advance(time.Hour) // every delayed capture is due
		runtime.GC()
		b.StartTimer()
		res, err := sched.RunDue(ctx, drainDue)
		if err != nil || res.Captured != drainDue {
			b.Fatalf("drain: captured %d of %d (%+v), %v", res.Captured, drainDue, res, err)
		}
		captured += res.Captured
	}
	perSecond := float64(captured) / b.Elapsed().Seconds()
	b.ReportMetric(perSecond, "captures/s")
	b.ReportMetric(perSecond/(drainConcurrency/drainLatency.Seconds()), "x-ideal")
}

// slowProvider answers every executor call after latency, as a provider
// would; it is safe for concurrent use.
type slowProvider struct{ latency time.Duration }

func (p slowProvider) Capture(context.Context, authcapture.CaptureTask) error {
	time.Sleep(p.latency)
	return nil
}

func (p slowProvider) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	time.Sleep(p.latency)
	return task.Amount, nil
}
