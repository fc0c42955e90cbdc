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
	"github.com/shopspring/decimal"
)

// BenchmarkPGCapture compares partial captures through the Service on
// pgstore with a single hand-written conditional UPDATE on the same
// database, in the same run, with 1 and 16 connections busy. Each worker
// captures from its own authorization (its own row, for the baseline).
// Both report captures/s; pgstore also reports x-baseline, its rate over
// the baseline's measured just before it. pgstore/hot has 16 workers
// capturing from one authorization and reports the version conflicts the
// Service retried per capture.
//
//	AUTHCAPTURE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench PGCapture ./pgstore/
func BenchmarkPGCapture(b *testing.B) {
	databaseURL(b)
	for _, conns := range []int{1, 16} {
		name := fmt.Sprintf("conns=%d", conns)
		var base float64
		b.Run("baseline/"+name, func(b *testing.B) { base = benchBaselineCapture(b, conns) })
		b.Run("pgstore/"+name, func(b *testing.B) {
			rate := benchPGStoreCapture(b, conns)
			if base > 0 {
				b.ReportMetric(rate/base, "x-baseline")
			}
		})
	}
	b.Run("pgstore/hot", benchHotCapture)
}

// keys makes idempotency keys unique across the runs of a benchmark.
var keys atomic.Int64

func benchPGStoreCapture(b *testing.B, conns int) float64 {
	bb := setup(b, int32(conns))
	ctx := context.Background()
	svc, err := authcapture.New(bb.store, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, conns)
	for w := range ids {
		ids[w] = newOpenAuthorization(b, svc, fmt.Sprintf("w%d", w))
	}
	one := decimal.RequireFromString("0.01")
	return runWorkers(b, conns, func(w int) error {
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: ids[w], Amount: one,
			IdempotencyKey: fmt.Sprintf("k%d", keys.Add(1))})
		return err
	})
}

func benchBaselineCapture(b *testing.B, conns int) float64 {
	bb := setup(b, int32(conns))
	ctx := context.Background()
	if _, err := bb.pool.Exec(ctx, "CREATE TABLE "+bb.schema+".bench (id BIGINT PRIMARY KEY, open BIGINT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	if _, err := bb.pool.Exec(ctx, "INSERT INTO "+bb.schema+".bench SELECT g, 1000000000000 FROM generate_series(0, $1) AS g", conns); err != nil {
		b.Fatal(err)
	}
	update := "UPDATE " + bb.schema + ".bench SET open = open - $2 WHERE id = $1 AND open >= $2"
	return runWorkers(b, conns, func(w int) error {
		tag, err := bb.pool.Exec(ctx, update, int64(w), int64(1))
		if err == nil && tag.RowsAffected() != 1 {
			err = errors.New("nothing open")
		}
		return err
	})
}

func benchHotCapture(b *testing.B) {
	const workers = 16
	bb := setup(b, workers)
	ctx := context.Background()
	var conflicts atomic.Int64
	svc, err := authcapture.New(conflictCounter{bb.store, &conflicts}, &authcapture.Options{MaxRetries: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	id := newOpenAuthorization(b, svc, "hot")
	one := decimal.RequireFromString("0.01")
	conflicts.Store(0)
	runWorkers(b, workers, func(int) error {
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: one,
			IdempotencyKey: fmt.Sprintf("k%d", keys.Add(1))})
		return err
	})
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/capture")
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

// runWorkers runs b.N calls of op on workers goroutines, each with its
// worker number, and reports (and returns) the calls per second.
func runWorkers(b *testing.B, workers int, op func(worker int) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "captures/s")
	return rate
}

// conflictCounter is a Store that counts the version conflicts of its
// writes.
type conflictCounter struct {
	authcapture.Store
	n *atomic.Int64
}

func (c conflictCounter) Write(ctx context.Context, w *authcapture.Write) error {
	err := c.Store.Write(ctx, w)
	if errors.Is(err, authcapture.ErrVersionConflict) {
		c.n.Add(1)
	}
	return err
}
