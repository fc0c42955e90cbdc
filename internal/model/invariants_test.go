package model_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/authcapture/authcapture/memstore"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// scenario runs steps on a fresh 10.00 USD hold under a policy allowing
// refunds before the final capture, amount changes both ways and a 15%
// overcapture, and returns the authorization and its log.
func scenario(t *testing.T, steps func(ctx context.Context, svc *authcapture.Service, id string) error) (*authcapture.Authorization, []authcapture.Entry) {
	t.Helper()
	ctx := t.Context()
	store := memstore.New()
	changing := authcapture.Policy{Name: "changing", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true, RefundBeforeFinalCapture: true}
	over := authcapture.Policy{Name: "over", PartialCapture: true, FinalByDefault: true, Validity: 7 * 24 * time.Hour,
		OvercapturePercent: 15}
	svc, err := authcapture.New(store, &authcapture.Options{Clock: clocktest.New(t0), Policies: []authcapture.Policy{changing, over}})
	if err != nil {
		t.Fatal(err)
	}
	policy := "changing"
	if strings.HasPrefix(t.Name(), "TestCheckFails/overcapture") {
		policy = "over"
	}
	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: decimal.RequireFromString("10"),
		Policy: policy, IdempotencyKey: "create"})
	if err != nil {
		t.Fatal(err)
	}
	id := r.Authorization.ID
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: decimal.RequireFromString("10"),
		IdempotencyKey: "auth"}); err != nil {
		t.Fatal(err)
	}
	if err := steps(ctx, svc, id); err != nil {
		t.Fatal(err)
	}
	a, err := svc.Get(ctx, "m1", id)
	if err != nil {
		t.Fatal(err)
	}
	log, err := svc.Log(ctx, "m1", id)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.Check(a, log); err != nil {
		t.Fatalf("the unbroken scenario: %v", err)
	}
	return a, log
}

func usd(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// refunded: 10.00 captured whole, 3.00 refunded, 2.00 pending refund.
func refunded(ctx context.Context, svc *authcapture.Service, id string) error {
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: "c"}); err != nil {
		return err
	}
	if _, err := svc.Refund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: usd("3"), IdempotencyKey: "r1"}); err != nil {
		return err
	}
	_, err := svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: usd("2"), IdempotencyKey: "r2"})
	return err
}

// decreasing: a decrease to 6.00 pending (4.00 reserved).
func decreasing(ctx context.Context, svc *authcapture.Service, id string) error {
	_, err := svc.BeginAmountChange(ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: usd("6"), IdempotencyKey: "d"})
	return err
}

// increased: an approved increase to 12.00.
func increased(ctx context.Context, svc *authcapture.Service, id string) error {
	_, err := svc.ChangeAmount(ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: usd("12"), IdempotencyKey: "i"})
	return err
}

// overcaptured: a final capture of 11.00 from the 10.00 hold.
func overcaptured(ctx context.Context, svc *authcapture.Service, id string) error {
	_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: usd("11"), Final: authcapture.Bool(true),
		IdempotencyKey: "o"})
	return err
}

// TestCheckFails breaks one ledger or log entry of a real authorization
// at a time and checks that model.Check names the invariant broken: each
// clause of the reference checker can fail.
func TestCheckFails(t *testing.T) {
	t.Parallel()
	entry := func(log []authcapture.Entry, kind authcapture.EntryKind) int {
		for i := len(log) - 1; i >= 0; i-- {
			if log[i].Kind == kind {
				return i
			}
		}
		t.Fatalf("no %s entry", kind)
		return 0
	}
	tests := []struct {
		name  string
		steps func(context.Context, *authcapture.Service, string) error
		brk   func(a *authcapture.Authorization, log []authcapture.Entry)
		want  string
	}{
		{"refunds: Refunded is not the sum of succeeded refund entries", refunded,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Refunded-- }, "invariant 3"},
		{"refunds: PendingRefund is not the sum of pending refund entries", refunded,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.PendingRefund++ }, "invariant 3"},
		{"refunds: a refund entry of another amount", refunded,
			func(_ *authcapture.Authorization, log []authcapture.Entry) {
				log[entry(log, authcapture.EntryRefund)].Amount++
			}, "invariant 3"},
		{"refunds: refunded + pending refund above captured", refunded,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Refunded = a.Captured }, "invariant 1"},
		{"refunds: a negative refund ledger", refunded,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Refunded = -1 }, "invariant 2"},
		{"amount change: PendingDecrement is not what the pending decrease reserves", decreasing,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.PendingDecrement-- }, "invariant 3"},
		{"amount change: no PendingAmountChange while the log has one pending", decreasing,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.PendingAmountChange = nil }, "invariant 3"},
		{"amount change: Authorized is not the approval plus the approved deltas", increased,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Authorized-- }, "invariant 3"},
		{"amount change: AmountChanges is not the approved changes", increased,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.AmountChanges = 0 }, "invariant 3"},
		{"overcapture: Overcaptured is not what the capture takes beyond the hold", overcaptured,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Overcaptured-- }, "invariant"},
		{"overcapture: an overcapture beside a void", overcaptured,
			func(a *authcapture.Authorization, _ []authcapture.Entry) {
				a.Voided, a.Overcaptured = 1, a.Overcaptured+1
			}, "invariant"},
		{"open below zero", increased,
			func(a *authcapture.Authorization, _ []authcapture.Entry) { a.Captured = a.Authorized + 1 }, "invariant 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, log := scenario(t, tt.steps)
			tt.brk(a, log)
			err := model.Check(a, log)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("model.Check = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

// TestCheckStepFails checks that model.CheckStep refuses a later read in
// which captured, voided, expired, refunded or the version decreased
// (invariant 2), the release changed, or a closed hold changed other than
// by its refund ledger (invariant 5), and accepts a refund of a closed
// one.
func TestCheckStepFails(t *testing.T) {
	t.Parallel()
	prev, _ := scenario(t, refunded) // closed: captured whole, refunds since
	if !prev.Closed() {
		t.Fatal("the scenario should be closed")
	}
	tests := []struct {
		name string
		brk  func(next *authcapture.Authorization)
		want string // "" when the step is allowed
	}{
		{"captured decreased", func(n *authcapture.Authorization) { n.Captured-- }, "invariant 2"},
		{"voided decreased", func(n *authcapture.Authorization) { n.Voided-- }, "invariant 2"},
		{"expired decreased", func(n *authcapture.Authorization) { n.Expired-- }, "invariant 2"},
		{"refunded decreased", func(n *authcapture.Authorization) { n.Refunded-- }, "invariant 2"},
		{"version decreased", func(n *authcapture.Authorization) { n.Version-- }, "invariant 2"},
		{"the release changed", func(n *authcapture.Authorization) { n.ReleasedBy = authcapture.CloseVoided }, "released hold"},
		{"the release cleared", func(n *authcapture.Authorization) { n.ReleasedBy = authcapture.CloseNone }, "released hold"},
		{"a closed hold changed", func(n *authcapture.Authorization) { n.Version, n.Voided = n.Version+1, n.Voided+1 }, "invariant 5"},
		{"a closed hold was refunded", func(n *authcapture.Authorization) {
			n.Version, n.Refunded, n.PendingRefund = n.Version+1, n.Refunded+n.PendingRefund, 0
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := *prev
			before.ReleasedBy = authcapture.CloseFinalCapture // as if a final capture had released a remainder
			next := before
			tt.brk(&next)
			err := model.CheckStep(&before, &next)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("model.CheckStep = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("model.CheckStep = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
