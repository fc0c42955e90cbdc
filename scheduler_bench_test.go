package authcapture_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// BenchmarkSweep measures one RunDue over 1,000 due authorizations among
// 10,000 and among 1,000,000 on memstore. A sweep costs O(due log n), so the
// larger must take no more than 2x the smaller.
func BenchmarkSweep(b *testing.B) {
	for _, total := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("due=1000/total=%d", total), func(b *testing.B) {
			const due = 1000
			var (
				ctx   = context.Background()
				clock *clocktest.Clock
				sched *authcapture.Scheduler
				next  int // sweeps made on the current population
			)
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			// build makes total authorized holds expiring one second apart,
			// so each sweep finds exactly the next 1,000 due.
			build := func() {
				clock = clocktest.New(base)
				svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
				if err != nil {
					b.Fatal(err)
				}
				one := decimal.RequireFromString("10.00")
				for i := 0; i < total; i++ {
					id := fmt.Sprintf("a%07d", i)
					if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m", ID: id, Currency: "USD",
						Amount: one, IdempotencyKey: "c" + id}); err != nil {
						b.Fatal(err)
					}
					if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m", ID: id, Amount: one,
						ExpiresAt: base.Add(time.Duration(i+1) * time.Second), IdempotencyKey: "a" + id}); err != nil {
						b.Fatal(err)
					}
				}
				if sched, err = authcapture.NewScheduler(svc, nil, nil); err != nil {
					b.Fatal(err)
				}
				next = 0
				// Collect the building's garbage now, so that the sweeps
				// timed next do not pay for it.
				runtime.GC()
			}
			build()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if (next+1)*due > total/2 { // keep the population near its size
					b.StopTimer()
					build()
					b.StartTimer()
				}
				next++
				b.StopTimer()
				clock.Set(base.Add(time.Duration(next*due) * time.Second))
				b.StartTimer()
				res, err := sched.RunDue(ctx, due)
				if err != nil || res.Expired != due {
					b.Fatalf("sweep %d: %+v, %v", next, res, err)
				}
			}
		})
	}
}

// drainExecutor answers every call after latency, as a provider would.
type drainExecutor struct{ latency time.Duration }

func (e drainExecutor) Capture(context.Context, authcapture.CaptureTask) error {
	time.Sleep(e.latency)
	return nil
}

func (e drainExecutor) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	time.Sleep(e.latency)
	return task.Amount, nil
}

// BenchmarkSchedulerDrain measures how fast one scheduler with Concurrency
// 32 carries out 2,000 due delayed captures on memstore against a provider
// that answers in 50 ms. It reports captures per second and x-ideal, that
// rate over the ideal 32 / 50 ms = 640 per second; the target is 0.8 or
// more.
func BenchmarkSchedulerDrain(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		const (
			due         = 2000
			concurrency = 32
			latency     = 50 * time.Millisecond
		)
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		one := decimal.RequireFromString("10.00")
		captured := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			clock := clocktest.New(base)
			svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
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
			sched, err := authcapture.NewScheduler(svc, drainExecutor{latency}, &authcapture.SchedulerOptions{Concurrency: concurrency})
			if err != nil {
				b.Fatal(err)
			}
			clock.Advance(time.Hour) // every delayed capture is due
			runtime.GC()
			b.StartTimer()
			res, err := sched.RunDue(ctx, due)
			if err != nil || res.Captured != due {
				b.Fatalf("drain: %+v, %v", res, err)
			}
			captured += res.Captured
		}
		perSecond := float64(captured) / b.Elapsed().Seconds()
		b.ReportMetric(perSecond, "captures/s")
		b.ReportMetric(perSecond/(concurrency/latency.Seconds()), "x-ideal")
	})
}
