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
	"github.com/authcapture/authcapture/storetest"
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

// BenchmarkSchedulerDrain runs storetest's drain of 2,000 due captures at
// concurrency 32 against a 50 ms provider on memstore; the target is an
// x-ideal of 0.8 or more.
func BenchmarkSchedulerDrain(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		storetest.BenchmarkSchedulerDrain(b, func(*testing.B) authcapture.Store { return memstore.New() })
	})
}
