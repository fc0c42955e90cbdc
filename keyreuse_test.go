package authcapture_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// setupAll is a Service on a fresh memstore with every test policy: the
// reauthorization, refund and amount change ones.
func setupAll(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: clocktest.New(t0), store: memstore.New()}
	policies := append(append([]authcapture.Policy{}, testPolicies...), refundPolicies()...)
	policies = append(policies, stripeIncremental, adyenAdjustment)
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: policies})
	require.NoError(t, err)
	f.svc = svc
	return f
}

// TestKeyReusedWithOtherParametersIsAMismatch checks, for each command of
// the provider boundary, refunds, amount changes and reauthorization, that
// a key already used by an accepted command, sent again with other
// parameters, is ErrIdempotencyMismatch and changes nothing: no amount, no
// version, no event, and the key's record still holds the first result.
func TestKeyReusedWithOtherParametersIsAMismatch(t *testing.T) {
	t.Parallel()
	const k = "reused"
	// Each row: hold returns the authorization, first is accepted under
	// k, second is the other request under k.
	captured := func(f *fixture) string { // 100.00 captured whole, refundable under refunds-closed
		a := f.hold("refunds-closed", "100.00")
		_, err := f.capture(a.ID, "100.00", nil)
		require.NoError(f.t, err)
		return a.ID
	}
	begunRefund := func(f *fixture) string { // 10.00 of it pending refund as refund_4
		id := captured(f)
		r, err := f.beginRefund(id, "10.00", "")
		require.NoError(f.t, err)
		require.Equal(f.t, "refund_4", r.Entry.RefundID)
		return id
	}
	estimated := func(f *fixture) string {
		return f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100.00").ID
	}
	begunChange := func(f *fixture) string { // a change to 120.00 pending as chg_3
		id := estimated(f)
		r, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("120"),
			IdempotencyKey: f.key()})
		require.NoError(f.t, err)
		require.Equal(f.t, "chg_3", r.Entry.ChangeID)
		return id
	}
	open := func(f *fixture) string { return f.hold("stripe_extended", "100.00").ID }
	refundReq := func(id, amount string) authcapture.RefundRequest {
		return authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt(amount), IdempotencyKey: k}
	}
	settleRefund := func(id, reason string) authcapture.SettleRefundRequest {
		return authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_4", Reason: reason, IdempotencyKey: k}
	}
	changeReq := func(id, total string) authcapture.AmountChangeRequest {
		return authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt(total), IdempotencyKey: k}
	}
	settleChange := func(id, reason string) authcapture.SettleAmountChangeRequest {
		return authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: id, ChangeID: "chg_3", Reason: reason, IdempotencyKey: k}
	}
	outcomeReq := func(id, ref, amount string) authcapture.OutcomeRequest {
		return authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: ref, Kind: authcapture.OutcomeCapture,
			Outcome: authcapture.OutcomeSucceeded, Amount: amt(amount), IdempotencyKey: k}
	}
	tests := []struct {
		name          string
		hold          func(f *fixture) string
		first, second func(f *fixture, id string) error
	}{
		{"Refund: another amount", captured,
			func(f *fixture, id string) error { _, err := f.svc.Refund(f.ctx, refundReq(id, "10")); return err },
			func(f *fixture, id string) error { _, err := f.svc.Refund(f.ctx, refundReq(id, "11")); return err }},
		{"BeginRefund: another amount", captured,
			func(f *fixture, id string) error { _, err := f.svc.BeginRefund(f.ctx, refundReq(id, "10")); return err },
			func(f *fixture, id string) error { _, err := f.svc.BeginRefund(f.ctx, refundReq(id, "11")); return err }},
		{"BeginRefund: a direct refund under its key", captured,
			func(f *fixture, id string) error { _, err := f.svc.BeginRefund(f.ctx, refundReq(id, "10")); return err },
			func(f *fixture, id string) error { _, err := f.svc.Refund(f.ctx, refundReq(id, "10")); return err }},
		{"ConfirmRefund: another reason", begunRefund,
			func(f *fixture, id string) error {
				_, err := f.svc.ConfirmRefund(f.ctx, settleRefund(id, ""))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.ConfirmRefund(f.ctx, settleRefund(id, "x"))
				return err
			}},
		{"ConfirmRefund: a failure under its key", begunRefund,
			func(f *fixture, id string) error {
				_, err := f.svc.ConfirmRefund(f.ctx, settleRefund(id, ""))
				return err
			},
			func(f *fixture, id string) error { _, err := f.svc.FailRefund(f.ctx, settleRefund(id, "")); return err }},
		{"FailRefund: another reason", begunRefund,
			func(f *fixture, id string) error {
				_, err := f.svc.FailRefund(f.ctx, settleRefund(id, "declined"))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.FailRefund(f.ctx, settleRefund(id, "other"))
				return err
			}},
		{"ChangeAmount: another total", estimated,
			func(f *fixture, id string) error {
				_, err := f.svc.ChangeAmount(f.ctx, changeReq(id, "120"))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.ChangeAmount(f.ctx, changeReq(id, "130"))
				return err
			}},
		{"BeginAmountChange: another total", estimated,
			func(f *fixture, id string) error {
				_, err := f.svc.BeginAmountChange(f.ctx, changeReq(id, "120"))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.BeginAmountChange(f.ctx, changeReq(id, "130"))
				return err
			}},
		{"ConfirmAmountChange: another reference", begunChange,
			func(f *fixture, id string) error {
				_, err := f.svc.ConfirmAmountChange(f.ctx, settleChange(id, ""))
				return err
			},
			func(f *fixture, id string) error {
				req := settleChange(id, "")
				req.Reference = "other"
				_, err := f.svc.ConfirmAmountChange(f.ctx, req)
				return err
			}},
		{"DeclineAmountChange: another reason", begunChange,
			func(f *fixture, id string) error {
				_, err := f.svc.DeclineAmountChange(f.ctx, settleChange(id, "insufficient_funds"))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.DeclineAmountChange(f.ctx, settleChange(id, "do_not_honor"))
				return err
			}},
		{"Reauthorize: another expiry", func(f *fixture) string {
			id := f.hold("paypal_reauth", "10.00").ID
			f.clock.Advance(5 * 24 * time.Hour)
			return id
		},
			func(f *fixture, id string) error {
				_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, IdempotencyKey: k})
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id,
					ExpiresAt: f.clock.Now().Add(24 * time.Hour), IdempotencyKey: k})
				return err
			}},
		{"RecordOutcome: another capture", open,
			func(f *fixture, id string) error {
				_, err := f.svc.RecordOutcome(f.ctx, outcomeReq(id, "ch_1", "10"))
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.RecordOutcome(f.ctx, outcomeReq(id, "ch_2", "10"))
				return err
			}},
		{"BeginVoid: another amount", func(f *fixture) string { return f.hold("racing", "100.00").ID },
			func(f *fixture, id string) error {
				_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: k})
				return err
			},
			func(f *fixture, id string) error {
				_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt("11"), IdempotencyKey: k})
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupAll(t)
			id := tt.hold(f)
			require.NoError(t, tt.first(f, id))
			rec, err := f.store.Idempotency(f.ctx, "m1", k)
			require.NoError(t, err, "the accepted command's key is recorded")
			before := f.get(id)
			evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
			require.NoError(t, err)

			err = tt.second(f, id)
			require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
			assert.Equal(t, 409, authcapture.HTTPStatus(err))

			assert.Equal(t, before, f.get(id), "nothing changed")
			evs2, err := f.svc.Events(f.ctx, "m1", 0, 1000)
			require.NoError(t, err)
			assert.Equal(t, evs, evs2, "no event")
			rec2, err := f.store.Idempotency(f.ctx, "m1", k)
			require.NoError(t, err)
			assert.Equal(t, rec, rec2, "the key's record still holds the first result")
			assert.False(t, errors.Is(tt.first(f, id), authcapture.ErrIdempotencyMismatch), "the first request is still a replay")
		})
	}
}
