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
	"github.com/authcapture/authcapture/clocktest"
	"github.com/shopspring/decimal"
)

func usd(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestServiceEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	clock := clocktest.New(epoch)
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	created, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "job-1", Currency: "USD",
		Amount: usd("10.00"), Metadata: map[string]string{"job": "render"}, IdempotencyKey: "create-1"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Authorization.Status() != authcapture.StatusRequiresAuthorization {
		t.Fatalf("created: %s", created.Authorization.Status())
	}
	clock.Advance(time.Second)
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "job-1",
		Amount: usd("10.00"), IdempotencyKey: "auth-1"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	capture := authcapture.CaptureRequest{MerchantID: "m1", ID: "job-1", Amount: usd("4.50"),
		Final: authcapture.Bool(false), Reference: "usage", IdempotencyKey: "cap-1"}
	first, err := svc.Capture(ctx, capture)
	if err != nil {
		t.Fatal(err)
	}
	replay, err := svc.Capture(ctx, capture)
	if err != nil || !replay.Replayed || replay.Entry != first.Entry {
		t.Fatalf("replayed capture: %+v, %v; want the original entry", replay, err)
	}
	capture.Amount = usd("5.00")
	if _, err := svc.Capture(ctx, capture); !errors.Is(err, authcapture.ErrIdempotencyMismatch) {
		t.Fatalf("key reused with another amount: %v, want ErrIdempotencyMismatch", err)
	}
	voided, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "job-1", All: true, IdempotencyKey: "void-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := voided.Authorization
	if a.Status() != authcapture.StatusCaptured || a.Captured != 450 || a.Voided != 550 || a.Version != 4 {
		t.Fatalf("after void: %s captured %d voided %d version %d", a.Status(), a.Captured, a.Voided, a.Version)
	}
	got, err := svc.Get(ctx, "m1", "job-1")
	if err != nil || got.Version != 4 || got.Metadata["job"] != "render" || !got.ClosedAt.Equal(epoch.Add(2*time.Second)) {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	log, err := svc.Log(ctx, "m1", "job-1")
	if err != nil || len(log) != 4 {
		t.Fatalf("log: %+v, %v", log, err)
	}
	evs, err := svc.Events(ctx, "m1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []authcapture.EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []authcapture.EventType{authcapture.EventCreated, authcapture.EventAuthorized,
		authcapture.EventCaptureSucceeded, authcapture.EventVoided}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("event types %v, want %v", types, want)
	}
	if refs, _ := b.store.Due(ctx, epoch.Add(365*24*time.Hour), 10); len(refs) != 0 {
		t.Errorf("a closed authorization is due: %+v", refs)
	}
}

func TestServiceAppliesExpiryFoundThroughDue(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	clock := clocktest.New(epoch)
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2"} {
		if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "JPY",
			Amount: decimal.NewFromInt(1000), IdempotencyKey: id + "-c"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id,
			Amount: decimal.NewFromInt(800), IdempotencyKey: id + "-a"}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Nanosecond)
	}
	expires := epoch.Add(authcapture.DefaultPolicy.Validity)
	if refs, _ := b.store.Due(ctx, expires.Add(-time.Nanosecond), 10); len(refs) != 0 {
		t.Errorf("due before expiry: %+v", refs)
	}
	refs, err := b.store.Due(ctx, expires, 10)
	if err != nil || len(refs) != 1 || refs[0].ID != "a1" || !refs[0].DueAt.Equal(expires) {
		t.Fatalf("due at expiry: %+v, %v; want a1 at %s", refs, err, expires)
	}
	clock.Set(expires)
	a, err := svc.Get(ctx, "m1", "a1")
	if err != nil || a.Status() != authcapture.StatusExpired || a.Expired != 800 {
		t.Fatalf("Get at expiry: %+v, %v", a, err)
	}
	if refs, _ := b.store.Due(ctx, expires.Add(time.Hour), 10); len(refs) != 1 || refs[0].ID != "a2" {
		t.Errorf("due after a1 expired: %+v, want a2 only", refs)
	}
}

func TestCaptureInsideTheCallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, "CREATE TABLE "+b.schema+".orders (id TEXT PRIMARY KEY, shipped BOOLEAN NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, "INSERT INTO "+b.schema+".orders VALUES ('o1', false)"); err != nil {
		t.Fatal(err)
	}
	svc, _ := authcapture.New(b.store, nil)
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "a1", Currency: "USD",
		Amount: usd("50.00"), IdempotencyKey: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "a1",
		Amount: usd("50.00"), IdempotencyKey: "a"}); err != nil {
		t.Fatal(err)
	}
	before, _ := b.store.Get(ctx, "m1", "a1")
	beforeEvents := b.count(t, "events", "")

	shipAndCapture := func(commit bool) {
		t.Helper()
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		txSvc, _ := authcapture.New(b.store.WithTx(tx), nil)
		if _, err := txSvc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a1", Amount: usd("20.00"),
			Reference: "o1", IdempotencyKey: "ship-o1"}); err != nil {
			t.Fatal(err)
		}
		// A rejected command inside the transaction leaves it usable.
		if _, err := txSvc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a1", Amount: usd("1.00"),
			Reference: "o1", IdempotencyKey: "ship-o1"}); !errors.Is(err, authcapture.ErrIdempotencyMismatch) {
			t.Fatalf("reused key inside the transaction: %v", err)
		}
		if err := b.store.WithTx(tx).Write(ctx, newWrite("m1", "a1", "dup")); !errors.Is(err, authcapture.ErrAlreadyExists) {
			t.Fatalf("duplicate create inside the transaction: %v", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE "+b.schema+".orders SET shipped = true WHERE id = 'o1'"); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	shipAndCapture(false)
	a, _ := b.store.Get(ctx, "m1", "a1")
	if a.Version != before.Version || a.Captured != 0 {
		t.Errorf("after rollback: version %d captured %d, want %d and 0", a.Version, a.Captured, before.Version)
	}
	if _, err := b.store.Idempotency(ctx, "m1", "ship-o1"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("key of a rolled back capture: %v", err)
	}
	if n := b.count(t, "events", ""); n != beforeEvents {
		t.Errorf("%d events after rollback, want %d", n, beforeEvents)
	}
	if n := b.count(t, "orders", "shipped"); n != 0 {
		t.Errorf("order shipped after rollback")
	}

	shipAndCapture(true)
	a, _ = b.store.Get(ctx, "m1", "a1")
	if a.Version != before.Version+1 || a.Captured != 2000 {
		t.Errorf("after commit: version %d captured %d", a.Version, a.Captured)
	}
	if n := b.count(t, "orders", "shipped"); n != 1 {
		t.Errorf("order not shipped after commit")
	}
	if _, err := b.store.Idempotency(ctx, "m1", "ship-o1"); err != nil {
		t.Errorf("key of the committed capture: %v", err)
	}
}

func TestConcurrentCapturesNeverOvercapture(t *testing.T) {
	t.Parallel()
	b := setup(t, 16)
	ctx := context.Background()
	svc, _ := authcapture.New(b.store, &authcapture.Options{MaxRetries: 1000})
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "hot", Currency: "USD",
		Amount: usd("20.00"), IdempotencyKey: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "hot",
		Amount: usd("20.00"), IdempotencyKey: "a"}); err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "hot", Amount: usd("1.00"),
					IdempotencyKey: fmt.Sprintf("g%d-%d", g, i)})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, authcapture.ErrExceedsCapturable), errors.Is(err, authcapture.ErrInvalidStatus):
					refused.Add(1)
				default:
					t.Errorf("capture: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	a, _ := b.store.Get(ctx, "m1", "hot")
	if ok.Load() != 20 || refused.Load() != 44 || a.Captured != 2000 || a.Status() != authcapture.StatusCaptured {
		t.Errorf("%d captures succeeded, %d refused; captured %d, %s; want 20, 44, 2000, captured",
			ok.Load(), refused.Load(), a.Captured, a.Status())
	}
	if n := b.count(t, "entries", "entry->>'Kind' = 'capture'"); n != 20 {
		t.Errorf("%d capture entries, want 20", n)
	}
}

// An overcapture round-trips: PayPal's preset lets 100.00 authorized be
// captured at 115.00 by one final capture. The row's overcaptured column
// (in major units, like the other ledger columns),
// the JSON and the CHECK constraint on what is taken out of the hold
// (captured + pending + ... <= authorized + overcaptured) all take it, two
// phase and direct, and a failed overcapture writes it back to zero.
func TestOvercaptureRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clocktest.New(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	column := func(id string) (overcaptured, captured, pending decimal.Decimal) {
		t.Helper()
		if err := b.pool.QueryRow(ctx, `SELECT overcaptured, captured, pending FROM `+b.schema+
			`.authorizations WHERE merchant_id = 'm1' AND id = $1`, id).Scan(&overcaptured, &captured, &pending); err != nil {
			t.Fatal(err)
		}
		return
	}
	hold := func(id string) {
		t.Helper()
		if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "USD", Amount: usd("100.00"),
			Policy: "paypal", IdempotencyKey: id + "-c"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: usd("100.00"),
			IdempotencyKey: id + "-a"}); err != nil {
			t.Fatal(err)
		}
	}
	final := authcapture.Bool(true)

	hold("tip-1")
	begun, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "tip-1", Amount: usd("115.00"),
		Final: final, IdempotencyKey: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	if o, c, p := column("tip-1"); !o.Equal(usd("15.00")) || !c.IsZero() || !p.Equal(usd("115.00")) {
		t.Fatalf("begun overcapture: columns overcaptured %s captured %s pending %s, want 15.00 0 115.00", o, c, p)
	}
	if _, err := svc.ConfirmCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: "tip-1",
		CaptureID: begun.Entry.CaptureID, IdempotencyKey: "s1"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Get(ctx, "m1", "tip-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Overcaptured != 1500 || got.Captured != 11500 || got.Open() != 0 || got.Status() != authcapture.StatusCaptured {
		t.Fatalf("confirmed overcapture reads back as %+v", got)
	}
	if o, c, _ := column("tip-1"); !o.Equal(usd("15.00")) || !c.Equal(usd("115.00")) {
		t.Fatalf("confirmed overcapture: columns overcaptured %s captured %s, want 15.00 115.00", o, c)
	}

	hold("tip-2")
	begun, err = svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "tip-2", Amount: usd("115.00"),
		Final: final, IdempotencyKey: "b2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FailCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: "tip-2",
		CaptureID: begun.Entry.CaptureID, IdempotencyKey: "f2"}); err != nil {
		t.Fatal(err)
	}
	if o, c, p := column("tip-2"); !o.IsZero() || !c.IsZero() || !p.IsZero() {
		t.Fatalf("failed overcapture: columns overcaptured %s captured %s pending %s, want zeros", o, c, p)
	}
	r, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "tip-2", Amount: usd("1075.00"),
		Final: final, IdempotencyKey: "c2"})
	if !errors.Is(err, authcapture.ErrExceedsCapturable) {
		t.Fatalf("capture beyond the allowance: %+v, %v", r, err)
	}
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "tip-2", Amount: usd("112.50"),
		Final: final, IdempotencyKey: "c3"}); err != nil {
		t.Fatal(err)
	}
	if o, c, _ := column("tip-2"); !o.Equal(usd("12.50")) || !c.Equal(usd("112.50")) {
		t.Fatalf("direct overcapture: columns overcaptured %s captured %s, want 12.50 112.50", o, c)
	}
	got, err = svc.Get(ctx, "m1", "tip-2")
	if err != nil || got.Overcaptured != 1250 || got.CloseReason != authcapture.CloseFullyCaptured {
		t.Fatalf("direct overcapture reads back as %+v, %v", got, err)
	}
}
