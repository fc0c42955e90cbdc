package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/shopspring/decimal"
)

// BenchmarkPGCapture compares partial captures through the Service on
// pgstore with a single hand-written conditional UPDATE on the same
// database, with 1 and 16 connections busy. Each worker captures from its
// own authorization (its own row, for the baseline).
//
// baseline/conns=N reports the UPDATE's rate alone. pgstore/conns=N runs
// its captures in rounds that alternate with as many baseline UPDATEs, so
// that both see the same machine, and reports its rate and x-baseline, its
// rate over the baseline's in the same rounds. pgstore/hot has 16 workers
// capturing from one authorization and reports the version conflicts the
// Service retried per capture.
//
//	AUTHCAPTURE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench PGCapture ./pgstore/
func BenchmarkPGCapture(b *testing.B) {
	databaseURL(b)
	for _, conns := range []int{1, 16} {
		name := fmt.Sprintf("conns=%d", conns)
		b.Run("baseline/"+name, func(b *testing.B) {
			bb := setup(b, int32(conns))
			update := baselineUpdate(b, bb, conns)
			b.ResetTimer()
			b.ReportMetric(rate(b.N, run(b, conns, b.N, update)), "captures/s")
		})
		b.Run("pgstore/"+name, func(b *testing.B) {
			bb := setup(b, int32(conns))
			base := baselineUpdate(b, bb, conns)
			svc, err := authcapture.New(bb.store, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			ids := make([]string, conns)
			for w := range ids {
				ids[w] = newOpenAuthorization(b, svc, fmt.Sprintf("w%d", w))
			}
			one := decimal.RequireFromString("0.01")
			compare(b, conns, base, func(w int) error {
				_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: ids[w], Amount: one,
					IdempotencyKey: fmt.Sprintf("k%d", keys.Add(1))})
				return err
			})
		})
	}
	b.Run("pgstore/hot", benchHotCapture)
}

// BenchmarkPGWriteParts prices the parts of a capture's write. Each
// sub-benchmark calls Store.Write directly (no Service) with the write of a
// one-cent capture cut down to some of its parts, so the statement is the
// one pgstore runs for that shape, and reports x-baseline as
// BenchmarkPGCapture does. The parts are row (the version-checked update of
// the authorization row alone), row+entry (and its log entry),
// row+entry+key (and its idempotency record) and row+entry+key+event (the
// whole write of a capture).
//
//	AUTHCAPTURE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench PGWriteParts ./pgstore/
func BenchmarkPGWriteParts(b *testing.B) {
	databaseURL(b)
	parts := []struct {
		name              string
		entry, key, event bool
	}{
		{"row", false, false, false},
		{"row+entry", true, false, false},
		{"row+entry+key", true, true, false},
		{"row+entry+key+event", true, true, true},
	}
	for _, conns := range []int{1, 16} {
		for _, p := range parts {
			b.Run(fmt.Sprintf("%s/conns=%d", p.name, conns), func(b *testing.B) {
				bb := setup(b, int32(conns))
				base := baselineUpdate(b, bb, conns)
				ctx := context.Background()
				auths := make([]*authcapture.Authorization, conns)
				for w := range auths {
					first := newWrite("m1", fmt.Sprintf("w%d", w), "")
					// Enough for any number of one-cent captures.
					first.Authorization.Requested, first.Authorization.Authorized = 1e12, 1e12
					auths[w] = mustWrite(b, bb.store, first)
				}
				compare(b, conns, base, func(w int) error {
					var key string
					if p.key {
						key = fmt.Sprintf("k%d", keys.Add(1))
					}
					wr := captureWrite(auths[w], key, 1)
					if !p.entry {
						wr.Authorization.Entries--
						wr.Entries = nil
					}
					if !p.event {
						wr.Authorization.Events--
						wr.Events = nil
					}
					if err := bb.store.Write(ctx, wr); err != nil {
						return err
					}
					auths[w] = wr.Authorization
					return nil
				})
			})
		}
	}
}

// keys makes idempotency keys unique across the runs of a benchmark.
var keys atomic.Int64

// baselineUpdate creates the baseline's table, a row per worker, and
// returns the baseline: a conditional UPDATE taking one minor unit from
// the worker's row.
func baselineUpdate(b *testing.B, bb *bundle, workers int) func(worker int) error {
	ctx := context.Background()
	if _, err := bb.pool.Exec(ctx, "CREATE TABLE "+bb.schema+".bench (id BIGINT PRIMARY KEY, open BIGINT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	if _, err := bb.pool.Exec(ctx, "INSERT INTO "+bb.schema+".bench SELECT g, 1000000000000 FROM generate_series(0, $1) AS g", workers); err != nil {
		b.Fatal(err)
	}
	update := "UPDATE " + bb.schema + ".bench SET open = open - $2 WHERE id = $1 AND open >= $2"
	return func(w int) error {
		tag, err := bb.pool.Exec(ctx, update, int64(w), int64(1))
		if err == nil && tag.RowsAffected() != 1 {
			err = errors.New("nothing open")
		}
		return err
	}
}

func benchHotCapture(b *testing.B) {
	const workers = 16
	bb := setup(b, workers)
	ctx := context.Background()
	var conflicts, locks atomic.Int64
	svc, err := authcapture.New(conflictCounter{bb.store, &conflicts, &locks}, &authcapture.Options{MaxRetries: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	id := newOpenAuthorization(b, svc, "hot")
	one := decimal.RequireFromString("0.01")
	conflicts.Store(0)
	locks.Store(0)
	b.ResetTimer()
	elapsed := run(b, workers, b.N, func(int) error {
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: one,
			IdempotencyKey: fmt.Sprintf("k%d", keys.Add(1))})
		return err
	})
	b.ReportMetric(rate(b.N, elapsed), "captures/s")
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/capture")
	b.ReportMetric(float64(locks.Load())/float64(b.N), "locks/capture")
}

// newOpenAuthorization creates and authorizes a hold large enough for any
// number of one-cent captures.
func newOpenAuthorization(b *testing.B, svc *authcapture.Service, id string) string {
	ctx := context.Background()
	amount := decimal.RequireFromString("1000000000.00")
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "USD", Amount: amount,
		IdempotencyKey: id + "-create"}); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amount,
		IdempotencyKey: id + "-auth"}); err != nil {
		b.Fatal(err)
	}
	return id
}

// compare times b.N calls of op against as many of base, both on workers
// goroutines, in rounds that alternate between the two so that both see
// the same machine (a shared machine's speed drifts by more than the
// difference measured). Only op's calls count towards ns/op. It reports
// op's calls per second and x-baseline, op's rate over base's.
func compare(b *testing.B, workers int, base, op func(worker int) error) {
	const rounds = 10
	var baseTime, opTime time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		if n == 0 {
			continue
		}
		b.StopTimer()
		baseTime += run(b, workers, n, base)
		b.StartTimer()
		opTime += run(b, workers, n, op)
	}
	b.StopTimer()
	b.ReportMetric(rate(b.N, opTime), "captures/s")
	b.ReportMetric(baseTime.Seconds()/opTime.Seconds(), "x-baseline")
}

// run makes n calls of op on workers goroutines, each with its worker
// number, and returns the time they took. It fails b if a call fails.
func run(b *testing.B, workers, n int, op func(worker int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := op(w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// conflictCounter is a pgstore.Store that counts the version conflicts of
// its writes and the locks taken.
type conflictCounter struct {
	*pgstore.Store
	conflicts, locks *atomic.Int64
}

func (c conflictCounter) Write(ctx context.Context, w *authcapture.Write) error {
	err := c.Store.Write(ctx, w)
	if errors.Is(err, authcapture.ErrVersionConflict) {
		c.conflicts.Add(1)
	}
	return err
}

func (c conflictCounter) Lock(ctx context.Context, merchantID, id string) (*authcapture.Authorization, authcapture.Lock, error) {
	c.locks.Add(1)
	return c.Store.Lock(ctx, merchantID, id)
}
