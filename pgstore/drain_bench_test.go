package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
)

// slowProvider answers every executor call after latency, as a provider
// would.
type slowProvider struct{ latency time.Duration }

func (p slowProvider) Capture(context.Context, authcapture.CaptureTask) error {
	time.Sleep(p.latency)
	return nil
}

func (p slowProvider) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	time.Sleep(p.latency)
	return task.Amount, nil
}

// BenchmarkSchedulerDrain measures how fast one scheduler with Concurrency
// 32 carries out 2,000 due delayed captures on pgstore against a provider
// that answers in 50 ms: each capture is a begin, the provider call and a
// confirm. It reports captures per second and x-ideal, that rate over the
// provider-bound ideal of 32 / 50 ms = 640 per second.
func BenchmarkSchedulerDrain(b *testing.B) {
	b.Run("pgstore", func(b *testing.B) {
		const (
			due         = 2000
			concurrency = 32
			latency     = 50 * time.Millisecond
		)
		ctx := context.Background()
		base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		one := decimal.RequireFromString("10.00")
		captured := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			bd := setup(b, concurrency+4)
			clock := clocktest.New(base)
			svc, err := authcapture.New(bd.store, &authcapture.Options{Clock: clock})
			if err != nil {
				b.Fatal(err)
			}
			for j := 0; j < due; j++ {
				id := fmt.Sprintf("a%05d", j)
				if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m", ID: id, Currency: "USD", Amount: one,
					CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour, IdempotencyKey: "c" + id}); err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m", ID: id, Amount: one,
					IdempotencyKey: "a" + id}); err != nil {
					b.Fatal(err)
				}
			}
			sched, err := authcapture.NewScheduler(svc, slowProvider{latency}, &authcapture.SchedulerOptions{Concurrency: concurrency})
			if err != nil {
				b.Fatal(err)
			}
			clock.Advance(time.Hour) // every delayed capture is due
			b.StartTimer()
			res, err := sched.RunDue(ctx, due)
			if err != nil || res.Captured != due {
				b.Fatalf("drain: captured %d of %d (%+v), %v", res.Captured, due, res, err)
			}
			captured += res.Captured
		}
		perSecond := float64(captured) / b.Elapsed().Seconds()
		b.ReportMetric(perSecond, "captures/s")
		b.ReportMetric(perSecond/(concurrency/latency.Seconds()), "x-ideal")
	})
}
