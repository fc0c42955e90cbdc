package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
)

// TestColumnsAreWrittenFromTheAuthorization checks invariant 4 for every
// command that moves a ledger kept in a column: after each one, the
// row's status column is the status derived from the stored authorization,
// and each ledger column (in major units) and closed_at are what its JSON
// says, written in the same statement.
func TestColumnsAreWrittenFromTheAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	p := authcapture.Policy{Name: "everything", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true, RefundBeforeFinalCapture: true}
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clocktest.New(epoch), Policies: []authcapture.Policy{p}})
	if err != nil {
		t.Fatal(err)
	}
	const id = "cols-1"
	var result, refundAgain *authcapture.Result
	steps := []struct {
		name string
		run  func() (*authcapture.Result, error)
	}{
		{"create", func() (*authcapture.Result, error) {
			return svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "USD", Amount: usd("100"),
				Policy: "everything", IdempotencyKey: "c"})
		}},
		{"authorize", func() (*authcapture.Result, error) {
			return svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: usd("100"), IdempotencyKey: "a"})
		}},
		{"begin void", func() (*authcapture.Result, error) {
			return svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: usd("5"), IdempotencyKey: "bv"})
		}},
		{"confirm void", func() (*authcapture.Result, error) {
			return svc.ConfirmVoid(ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: result.Entry.VoidID, IdempotencyKey: "cv"})
		}},
		{"begin decrease", func() (*authcapture.Result, error) {
			return svc.BeginAmountChange(ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: usd("80"), IdempotencyKey: "bd"})
		}},
		{"decline decrease", func() (*authcapture.Result, error) {
			return svc.DeclineAmountChange(ctx, authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: id,
				ChangeID: result.Entry.ChangeID, Reason: "declined", IdempotencyKey: "dd"})
		}},
		{"increase", func() (*authcapture.Result, error) {
			return svc.ChangeAmount(ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: usd("120"), IdempotencyKey: "i"})
		}},
		{"partial capture", func() (*authcapture.Result, error) {
			return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: usd("50"), Final: authcapture.Bool(false),
				IdempotencyKey: "pc"})
		}},
		{"refund", func() (*authcapture.Result, error) {
			return svc.Refund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: usd("10"), IdempotencyKey: "r"})
		}},
		{"begin refund", func() (*authcapture.Result, error) {
			return svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: usd("5"), IdempotencyKey: "br"})
		}},
		{"fail refund", func() (*authcapture.Result, error) {
			return svc.FailRefund(ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: result.Entry.RefundID,
				IdempotencyKey: "fr"})
		}},
		{"begin refund again", func() (*authcapture.Result, error) {
			r, err := svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: usd("5"), IdempotencyKey: "br2"})
			refundAgain = r
			return r, err
		}},
		{"final capture", func() (*authcapture.Result, error) {
			return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: "fc"})
		}},
		{"confirm refund after close", func() (*authcapture.Result, error) {
			return svc.ConfirmRefund(ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: refundAgain.Entry.RefundID,
				IdempotencyKey: "cr"})
		}},
	}
	for _, s := range steps {
		r, err := s.run()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		result = r
		a, err := b.store.Get(ctx, "m1", id)
		if err != nil {
			t.Fatal(err)
		}
		var status string
		var authorized, captured, pending, voided, expired, pendingVoid, pendingDecrement, overcaptured, refunded,
			pendingRefund decimal.Decimal
		var closed *time.Time
		if err := b.pool.QueryRow(ctx, `SELECT status, authorized, captured, pending, voided, expired, pending_void,
			pending_decrement, overcaptured, refunded, pending_refund, closed_at FROM `+b.schema+`.authorizations
			WHERE merchant_id = 'm1' AND id = $1`, id).Scan(&status, &authorized, &captured, &pending, &voided, &expired,
			&pendingVoid, &pendingDecrement, &overcaptured, &refunded, &pendingRefund, &closed); err != nil {
			t.Fatal(err)
		}
		if status != string(a.Status()) {
			t.Errorf("%s: status column %q, derived %q", s.name, status, a.Status())
		}
		for _, c := range []struct {
			name   string
			column decimal.Decimal
			minor  int64
		}{{"authorized", authorized, a.Authorized}, {"captured", captured, a.Captured}, {"pending", pending, a.Pending},
			{"voided", voided, a.Voided}, {"expired", expired, a.Expired}, {"pending_void", pendingVoid, a.PendingVoid},
			{"pending_decrement", pendingDecrement, a.PendingDecrement}, {"overcaptured", overcaptured, a.Overcaptured},
			{"refunded", refunded, a.Refunded}, {"pending_refund", pendingRefund, a.PendingRefund}} {
			if want := decimal.New(c.minor, -2); !c.column.Equal(want) {
				t.Errorf("%s: column %s is %s, the authorization says %s", s.name, c.name, c.column, want)
			}
		}
		if (closed == nil) != a.PrunableSince().IsZero() {
			t.Errorf("%s: closed_at %v, PrunableSince %v", s.name, closed, a.PrunableSince())
		}
	}
	a, err := b.store.Get(ctx, "m1", id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status() != authcapture.StatusCaptured || a.Refunded != 1500 || a.PendingRefund != 0 || a.Authorized != 12000 {
		t.Fatalf("the steps did not end where they should: %s refunded %d pending refund %d authorized %d", a.Status(), a.Refunded,
			a.PendingRefund, a.Authorized)
	}
}
