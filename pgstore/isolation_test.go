package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// Events works whatever the server's default isolation: on a pool whose
// sessions default to SERIALIZABLE, relays reading while writers capture
// get no error, and see every event once, in increasing positions.
func TestEventsUnderSerializableDefaultIsolation(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("concurrency test")
	}
	b := setup(t, 0)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 24
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var iso string
	if err := pool.QueryRow(ctx, "SHOW default_transaction_isolation").Scan(&iso); err != nil || iso != "serializable" {
		t.Fatalf("default isolation: %q, %v", iso, err)
	}
	store, err := pgstore.New(pool, &pgstore.Options{Schema: b.store.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := authcapture.New(store, nil)
	if err != nil {
		t.Fatal(err)
	}

	const (
		writers  = 8
		captures = 10
		relays   = 6
	)
	var writing atomic.Int32
	writing.Store(writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers+relays)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer writing.Add(-1)
			id := fmt.Sprintf("a%d", w)
			if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "USD",
				Amount: decimal.RequireFromString("100.00"), IdempotencyKey: id + "-create"}); err != nil {
				errs <- err
				return
			}
			if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id,
				Amount: decimal.RequireFromString("100.00"), IdempotencyKey: id + "-auth"}); err != nil {
				errs <- err
				return
			}
			for c := range captures {
				if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id,
					Amount: decimal.RequireFromString("1.00"), IdempotencyKey: fmt.Sprintf("%s-cap%d", id, c)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var calls, failed atomic.Int64
	seen := make([]int, relays)
	for r := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := int64(0)
			for last := false; ; {
				finished := writing.Load() == 0
				page, err := svc.Events(ctx, "m1", after, 5)
				calls.Add(1)
				if err != nil {
					if failed.Add(1) == 1 {
						t.Log(err)
					}
					if !errors.Is(err, authcapture.ErrVersionConflict) {
						errs <- fmt.Errorf("relay %d: %w", r, err)
						return
					}
					continue
				}
				for _, e := range page {
					if e.Position <= after {
						errs <- fmt.Errorf("relay %d: position %d after %d", r, e.Position, after)
						return
					}
					after = e.Position
					seen[r]++
				}
				if last && len(page) == 0 {
					return
				}
				last = finished
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d Events calls failed with ErrVersionConflict", n, calls.Load())
	}
	for r, n := range seen {
		if want := writers * (2 + captures); n != want {
			t.Errorf("relay %d saw %d events, want %d", r, n, want)
		}
	}
}
