package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/storetest"
	"github.com/jackc/pgx/v5"
)

// execModes are every query exec mode of pgx. Exec and SimpleProtocol are
// what a transaction-pooling PgBouncer needs.
var execModes = []pgx.QueryExecMode{
	pgx.QueryExecModeCacheStatement,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeSimpleProtocol,
}

// The store works whatever exec mode the pool's connections default to: the
// conformance suite and a lifecycle through the Service pass in each.
func TestStoreWorksInEveryQueryExecMode(t *testing.T) {
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			t.Run("conformance", func(t *testing.T) {
				storetest.RunConformanceTests(t, func(t *testing.T) authcapture.Store { return setupMode(t, 0, mode).store })
			})
			t.Run("service", func(t *testing.T) {
				b := setupMode(t, 0, mode)
				captureLifecycle(t, b.store)
			})
		})
	}
}

// captureLifecycle creates, authorizes, captures in two parts and voids the
// rest of an authorization through a Service on s, replays a capture, locks
// the authorization, and reads the events and the due index.
func captureLifecycle(t *testing.T, s authcapture.Store) {
	t.Helper()
	ctx := context.Background()
	clock := clocktest.New(epoch)
	svc, err := authcapture.New(s, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "life-1", Currency: "USD",
		Amount: usd("10.00"), Reference: "order <1> & ü", Metadata: map[string]string{"job": "render"},
		IdempotencyKey: "create-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "life-1",
		Amount: usd("10.00"), IdempotencyKey: "auth-1"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	capture := authcapture.CaptureRequest{MerchantID: "m1", ID: "life-1", Amount: usd("4.50"),
		Final: authcapture.Bool(false), IdempotencyKey: "cap-1"}
	if _, err := svc.Capture(ctx, capture); err != nil {
		t.Fatal(err)
	}
	if r, err := svc.Capture(ctx, capture); err != nil || !r.Replayed {
		t.Fatalf("replayed capture: %+v, %v", r, err)
	}
	begun, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "life-1",
		Amount: usd("1.00"), Final: authcapture.Bool(false), IdempotencyKey: "begin-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: "life-1",
		CaptureID: begun.Entry.CaptureID, IdempotencyKey: "confirm-2"}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "life-1", All: true, IdempotencyKey: "void-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Authorization
	if a.Status() != authcapture.StatusCaptured || a.Captured != 550 || a.Voided != 450 {
		t.Fatalf("after the void: %s, captured %d, voided %d", a.Status(), a.Captured, a.Voided)
	}
	got, err := svc.Get(ctx, "m1", "life-1")
	if err != nil || got.Version != a.Version || got.Reference != "order <1> & ü" {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	if locker, ok := s.(authcapture.Locker); ok {
		_, l, err := locker.Lock(ctx, "m1", "life-1")
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	events, err := svc.Events(ctx, "m1", 0, 100)
	if err != nil || len(events) != 6 {
		t.Fatalf("Events: %d events, %v; want 6", len(events), err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].Position <= events[i-1].Position {
			t.Fatalf("event positions out of order: %+v", events)
		}
	}
	if _, err := s.Due(ctx, epoch.Add(30*24*time.Hour), 10); err != nil {
		t.Fatalf("Due: %v", err)
	}
}
