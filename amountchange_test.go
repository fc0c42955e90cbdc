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

// Amount-change policies as the providers document them, on copies of the
// presets (the presets' own values are set elsewhere).
var (
	// Stripe: increments only, on a PaymentIntent not yet captured (not
	// even partly, with multicapture), at most 10 attempts per payment.
	stripeIncremental = func() authcapture.Policy {
		p := authcapture.Stripe
		p.Name = "stripe-incremental"
		p.IncrementalAuthorization = true
		p.AmountChangeBeforeCapture = true
		p.MaxAmountChangeAttempts = 10
		p.AmountChangeTypes = nil // the rules below, on any type; the preset's own is tested apart
		return p
	}()
	// Adyen: pre-authorisations may be adjusted up or down, for what is
	// not yet captured, any number of times.
	adyenAdjustment = func() authcapture.Policy {
		p := authcapture.Adyen
		p.Name = "adyen-adjustment"
		p.IncrementalAuthorization = true
		p.DecrementalAuthorization = true
		p.AmountChangeTypes = []authcapture.AuthorizationType{authcapture.AuthorizationEstimated}
		return p
	}()
	// Checkout.com: incremental authorizations (a delta) on an estimated
	// authorization, not after a full or partial capture.
	checkoutIncremental = authcapture.Policy{Name: "checkout-incremental", MultipleCaptures: true, PartialCapture: true,
		PartialVoid: true, Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true,
		AmountChangeTypes:         []authcapture.AuthorizationType{authcapture.AuthorizationEstimated},
		AmountChangeBeforeCapture: true}
	// A hold whose approved changes keep it for 7 days from the change,
	// and that captures what is open before it lapses.
	extending = authcapture.Policy{Name: "extending", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true,
		AmountChangeValidity: 7 * 24 * time.Hour, ExpiryAction: authcapture.ExpiryCapture}
	// extendingNoticing is extending with a 48-hour expiring-soon notice.
	extendingNoticing = func() authcapture.Policy {
		p := extending
		p.Name, p.ExpiringSoon = "extending_noticing", 48*time.Hour
		return p
	}()
)

func setupChanges(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: clocktest.New(t0), store: memstore.New()}
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock,
		Policies: []authcapture.Policy{stripeIncremental, adyenAdjustment, checkoutIncremental, extending,
			extendingNoticing}})
	require.NoError(t, err)
	f.svc = svc
	return f
}

// holdOf creates and approves a hold of amount USD of type typ under policy.
func (f *fixture) holdOf(policy string, typ authcapture.AuthorizationType, amount string) *authcapture.Authorization {
	f.t.Helper()
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt(amount),
		Policy: policy, CaptureMode: authcapture.CaptureManual, AuthorizationType: typ, IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
		Amount: amt(amount), IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Authorization
}

func (f *fixture) toTotal(id, total string) (*authcapture.Result, error) {
	return f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt(total), IdempotencyKey: f.key()})
}

func (f *fixture) byDelta(id, delta string) (*authcapture.Result, error) {
	return f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Delta: amt(delta), IdempotencyKey: f.key()})
}

func (f *fixture) declined(id, total string) (*authcapture.Result, error) {
	return f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt(total), Declined: true,
		Reason: "insufficient_funds", IdempotencyKey: f.key()})
}

// TestAmountChangeRules checks each rule of amount changes with the
// providers' own numbers: a rejected change changes nothing.
func TestAmountChangeRules(t *testing.T) {
	t.Parallel()
	est, final := authcapture.AuthorizationEstimated, authcapture.AuthorizationFinal
	tests := []struct {
		name   string
		policy string
		typ    authcapture.AuthorizationType
		before func(f *fixture, id string) // what happened first
		change func(f *fixture, id string) (*authcapture.Result, error)
		want   error  // nil: accepted
		total  string // the authorized amount after an accepted change
	}{
		{name: "stripe: an increment before capture is approved", policy: "stripe-incremental", typ: final,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "150") }, total: "150.00"},
		{name: "stripe: no increment once part is captured (multicapture)", policy: "stripe-incremental", typ: final,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "10", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "150") },
			want:   authcapture.ErrAmountChangeAfterCapture},
		{name: "stripe: no increment while a capture is pending", policy: "stripe-incremental", typ: final,
			before: func(f *fixture, id string) {
				_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("10"),
					Final: authcapture.Bool(false), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "150") },
			want:   authcapture.ErrAmountChangeAfterCapture},
		{name: "stripe: increments only, no decrement", policy: "stripe-incremental", typ: final,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "90") },
			want:   authcapture.ErrAmountChangeNotAllowed},
		{name: "stripe: the 11th attempt is refused, declines counted", policy: "stripe-incremental", typ: final,
			before: func(f *fixture, id string) {
				for i := range 10 {
					var err error
					if i%2 == 0 {
						_, err = f.declined(id, "500")
					} else {
						_, err = f.byDelta(id, "1")
					}
					require.NoError(f.t, err)
				}
				assert.Equal(f.t, 10, f.get(id).AmountChangeAttempts)
				assert.Equal(f.t, 5, f.get(id).AmountChanges)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "1") },
			want:   authcapture.ErrTooManyAmountChanges},
		{name: "stripe: the 10th attempt is still allowed", policy: "stripe-incremental", typ: final,
			before: func(f *fixture, id string) {
				for range 9 {
					_, err := f.declined(id, "500")
					require.NoError(f.t, err)
				}
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "1") }, total: "101.00"},
		{name: "adyen: a pre-authorisation is adjusted up", policy: "adyen-adjustment", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "250") }, total: "250.00"},
		{name: "adyen: a final authorisation cannot be adjusted", policy: "adyen-adjustment", typ: final,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "250") },
			want:   authcapture.ErrAuthorizationTypeNotAllowed},
		{name: "adyen: what is not captured is adjusted after a capture", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "30", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "50") }, total: "50.00"},
		{name: "adyen: an increase after a capture", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "30", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "20") }, total: "120.00"},
		{name: "adyen: a decrease cannot reach what is captured", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "30", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "30") },
			want:   authcapture.ErrBelowCaptured},
		{name: "adyen: a decrease cannot go below what is captured", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "30", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "-80") },
			want:   authcapture.ErrBelowCaptured},
		{name: "adyen: a decrease cannot take what is voided", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) { _, err := f.void(id, "60"); require.NoError(f.t, err) },
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "60") },
			want:   authcapture.ErrBelowCaptured},
		{name: "adyen: a decrease cannot take what a pending capture holds", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("60"),
					Final: authcapture.Bool(false), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "30") },
			want:   authcapture.ErrActionInFlight},
		{name: "adyen: nothing changes after the hold was released", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("40"),
					Final: authcapture.Bool(false), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
				_, err = f.voidAll(id) // the provider let go of the hold; the capture is still pending
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "10") },
			want:   authcapture.ErrInvalidStatus},
		{name: "adyen: nothing changes on a closed authorization", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) { _, err := f.capture(id, "100", nil); require.NoError(f.t, err) },
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "10") },
			want:   authcapture.ErrInvalidStatus},
		{name: "adyen: nothing changes after the hold expired", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) { f.clock.Advance(29 * 24 * time.Hour); f.get(id) },
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "10") },
			want:   authcapture.ErrExpired},
		{name: "checkout.com: an increment by a delta", policy: "checkout-incremental", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "25") }, total: "125.00"},
		{name: "checkout.com: no increment after a final authorization", policy: "checkout-incremental", typ: final,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "25") },
			want:   authcapture.ErrAuthorizationTypeNotAllowed},
		{name: "checkout.com: no increment after a partial capture", policy: "checkout-incremental", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.capture(id, "10", authcapture.Bool(false))
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "25") },
			want:   authcapture.ErrAmountChangeAfterCapture},
		{name: "checkout.com: no decrement", policy: "checkout-incremental", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "-25") },
			want:   authcapture.ErrAmountChangeNotAllowed},
		{name: "a policy without amount changes refuses them", policy: "default", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "25") },
			want:   authcapture.ErrAmountChangeNotAllowed},
		{name: "a new total equal to the authorized amount is refused", policy: "adyen-adjustment", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "100") },
			want:   authcapture.ErrInvalidAmount},
		{name: "a change in another currency is refused", policy: "adyen-adjustment", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) {
				return f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("150"),
					Currency: "EUR", IdempotencyKey: f.key()})
			},
			want: authcapture.ErrCurrencyMismatch},
		{name: "a total more precise than the currency is refused", policy: "adyen-adjustment", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "150.001") },
			want:   authcapture.ErrAmountPrecision},
		{name: "a total beyond the largest amount is refused", policy: "adyen-adjustment", typ: est,
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.byDelta(id, "9999999999999.99") },
			want:   authcapture.ErrAmountTooLarge},
		{name: "one change in flight at a time", policy: "adyen-adjustment", typ: est,
			before: func(f *fixture, id string) {
				_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("150"),
					IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			},
			change: func(f *fixture, id string) (*authcapture.Result, error) { return f.toTotal(id, "120") },
			want:   authcapture.ErrActionInFlight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupChanges(t)
			id := f.holdOf(tt.policy, tt.typ, "100").ID
			if tt.before != nil {
				tt.before(f, id)
			}
			before := f.get(id)
			evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
			require.NoError(t, err)
			r, err := tt.change(f, id)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				var e *authcapture.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, before, f.get(id), "a rejected change changes nothing")
				evs2, err := f.svc.Events(f.ctx, "m1", 0, 1000)
				require.NoError(t, err)
				assert.Equal(t, evs, evs2, "and emits nothing")
				return
			}
			require.NoError(t, err)
			a := f.get(id)
			assert.Equal(t, tt.total, a.Amounts().Authorized.StringFixed(2))
			assert.LessOrEqual(t, a.Authorized, a.Requested)
			assert.Equal(t, before.AmountChanges+1, a.AmountChanges)
			assert.Equal(t, authcapture.EntryAmountChange, r.Entry.Kind)
			assert.Equal(t, authcapture.ActionSucceeded, r.Entry.ChangeState)
			assert.Equal(t, a.Authorized-before.Authorized, r.Entry.Delta)
			assert.Equal(t, before.Status(), a.Status())
		})
	}
}

// TestAmountChangeApproved checks what an approved change records: the new
// total, the form asked for, Requested raised with it, and the events.
func TestAmountChangeApproved(t *testing.T) {
	t.Parallel()
	t.Run("an increase as a new total raises Requested and emits the change", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		r, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("140"),
			ProviderRef: "psp-adj-1", IdempotencyKey: "inc"})
		require.NoError(t, err)
		a := r.Authorization
		assert.Equal(t, int64(14000), a.Authorized)
		assert.Equal(t, int64(14000), a.Requested, "authorized <= requested")
		assert.Equal(t, int64(14000), a.Open())
		assert.Equal(t, authcapture.AmountChangeTotal, r.Entry.ChangeForm)
		assert.Equal(t, int64(4000), r.Entry.Delta)
		assert.Equal(t, int64(14000), r.Entry.Total)
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		last := evs[len(evs)-2:]
		assert.Equal(t, authcapture.EventAmountChanged, last[0].Type)
		assert.Equal(t, int64(10000), last[0].PreviousAuthorized)
		assert.Equal(t, int64(14000), last[0].Authorized)
		assert.Equal(t, int64(4000), last[0].Delta)
		assert.Equal(t, authcapture.AmountChangeTotal, last[0].ChangeForm)
		assert.Equal(t, "psp-adj-1", last[0].ProviderRef)
		assert.Equal(t, authcapture.EventAmountCapturableUpdated, last[1].Type)
		assert.Equal(t, int64(14000), last[1].Amount)

		again, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("140"),
			ProviderRef: "psp-adj-1", IdempotencyKey: "inc"})
		require.NoError(t, err)
		assert.True(t, again.Replayed)
		_, err = f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("150"), IdempotencyKey: "inc2"})
		require.NoError(t, err)
		_, err = f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Delta: amt("10"), IdempotencyKey: "inc2"})
		require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch, "the form is part of the fingerprint")
		found, err := f.svc.FindByProviderRef(f.ctx, "m1", "psp-adj-1")
		require.NoError(t, err)
		assert.Equal(t, id, found.ID)
	})
	t.Run("a decrease as a negative delta lowers what is open", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		_, err := f.capture(id, "30", authcapture.Bool(false))
		require.NoError(t, err)
		r, err := f.byDelta(id, "-50")
		require.NoError(t, err)
		a := r.Authorization
		assert.Equal(t, "20.00/0.00/30.00/0.00/0.00 partially_captured", amounts(a))
		assert.Equal(t, int64(5000), a.Authorized)
		assert.Equal(t, int64(10000), a.Requested, "a decrease leaves Requested")
		assert.Equal(t, authcapture.AmountChangeDelta, r.Entry.ChangeForm)
		assert.Equal(t, int64(-5000), r.Entry.Delta)
		assert.Equal(t, int64(5000), r.Entry.Amount)
		_, err = f.capture(id, "20.01", nil)
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable, "the decrease is gone from the hold")
	})
	t.Run("a declined change records the attempt and nothing else", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("stripe-incremental", authcapture.AuthorizationFinal, "100").ID
		before := f.get(id)
		r, err := f.declined(id, "500")
		require.NoError(t, err)
		assert.Equal(t, authcapture.ActionFailed, r.Entry.ChangeState)
		assert.Equal(t, authcapture.Reason("insufficient_funds"), r.Entry.Reason)
		assertOnlyAttempt(t, before, f.get(id))
	})
}

// assertOnlyAttempt checks that after differs from before only by one
// attempt and the version, log and events it recorded.
func assertOnlyAttempt(t *testing.T, before, after *authcapture.Authorization) {
	t.Helper()
	assert.Equal(t, before.AmountChangeAttempts+1, after.AmountChangeAttempts)
	b, a := *before.Clone(), *after.Clone()
	for _, x := range []*authcapture.Authorization{&b, &a} {
		x.AmountChangeAttempts, x.Version, x.Entries, x.Events = 0, 0, 0, 0
	}
	assert.Equal(t, b, a)
}

// TestAmountChangeTwoPhase checks a change begun before the provider
// answers: a decrease reserves its amount, an increase nothing; the answer
// settles it, directly or through RecordOutcome.
func TestAmountChangeTwoPhase(t *testing.T) {
	t.Parallel()
	begin := func(f *fixture, id string, req authcapture.AmountChangeRequest) *authcapture.Result {
		f.t.Helper()
		req.MerchantID, req.ID, req.IdempotencyKey = "m1", id, f.key()
		r, err := f.svc.BeginAmountChange(f.ctx, req)
		require.NoError(f.t, err)
		return r
	}
	settle := func(f *fixture, id, change string, confirm bool) (*authcapture.Result, error) {
		req := authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: id, ChangeID: change, IdempotencyKey: f.key()}
		if confirm {
			return f.svc.ConfirmAmountChange(f.ctx, req)
		}
		req.Reason = "issuer_declined"
		return f.svc.DeclineAmountChange(f.ctx, req)
	}
	t.Run("a pending decrease reserves its amount until the provider answers", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		before := f.get(id)
		r := begin(f, id, authcapture.AmountChangeRequest{Total: amt("60")})
		a := r.Authorization
		assert.Equal(t, int64(4000), a.PendingDecrement)
		assert.Equal(t, int64(6000), a.Open())
		assert.Equal(t, int64(10000), a.Authorized, "nothing changes before the answer")
		assert.Equal(t, authcapture.ActionPending, r.Entry.ChangeState)
		_, err := f.capture(id, "60.01", nil)
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "the reserved decrease cannot be captured while it is in flight")
		_, err = f.voidAll(id)
		require.NoError(t, err, "what is open can still be voided")
		a = f.get(id)
		assert.False(t, a.Closed(), "the decrease is still pending on the hold")
		assert.Equal(t, authcapture.StatusAuthorized, a.Status())

		r, err = settle(f, id, r.Entry.ChangeID, true)
		require.NoError(t, err)
		a = f.get(id)
		assert.Equal(t, int64(6000), a.Authorized)
		assert.Equal(t, int64(0), a.PendingDecrement)
		assert.True(t, a.Closed(), "the decrease took the last of the hold")
		assert.Equal(t, authcapture.StatusVoided, a.Status())
		_ = before
	})
	t.Run("a declined decrease leaves the authorization as it was", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		before := f.get(id)
		r := begin(f, id, authcapture.AmountChangeRequest{Delta: amt("-40"), ProviderRef: "psp-dec"})
		_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Delta: amt("10"),
			IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "one change in flight at a time")
		_, err = settle(f, id, r.Entry.ChangeID, false)
		require.NoError(t, err)
		after := f.get(id)
		assertOnlyAttempt(t, before, after)
		log, err := f.svc.Log(f.ctx, "m1", id)
		require.NoError(t, err)
		last := log[len(log)-1]
		assert.Equal(t, authcapture.ActionFailed, last.ChangeState)
		assert.Equal(t, "psp-dec", last.ProviderRef)
	})
	t.Run("a pending increase reserves nothing", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("stripe-incremental", authcapture.AuthorizationFinal, "100").ID
		before := f.get(id)
		r := begin(f, id, authcapture.AmountChangeRequest{Total: amt("180")})
		assert.Equal(t, before.Open(), r.Authorization.Open())
		assert.Equal(t, int64(0), r.Authorization.PendingDecrement)
		_, err := settle(f, id, r.Entry.ChangeID, true)
		require.NoError(t, err)
		a := f.get(id)
		assert.Equal(t, int64(18000), a.Authorized)
		assert.Equal(t, int64(18000), a.Open())
		assert.Equal(t, int64(18000), a.Requested)
		_, err = settle(f, id, r.Entry.ChangeID, true)
		require.ErrorIs(t, err, authcapture.ErrNotFound, "settled already")
	})
	t.Run("RecordOutcome settles a change by its provider reference, and Unsettled lists it", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		f.clock.Advance(time.Minute)
		begun := f.clock.Now()
		r := begin(f, id, authcapture.AmountChangeRequest{Total: amt("70"), ProviderRef: "psp-upd-1"})
		assert.True(t, r.Authorization.PendingSince.Equal(begun))
		f.clock.Advance(time.Hour)
		us, err := f.svc.Unsettled(f.ctx, authcapture.UnsettledRequest{OlderThan: 30 * time.Minute, Limit: 10})
		require.NoError(t, err)
		require.Len(t, us, 1)
		assert.Equal(t, authcapture.OutcomeAmountChange, us[0].Kind)
		assert.Equal(t, r.Entry.ChangeID, us[0].ActionID)
		assert.Equal(t, int64(3000), us[0].Amount, "what the decrease reserves")
		assert.Equal(t, "psp-upd-1", us[0].ProviderRef)

		out, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-1",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded, Amount: amt("70")})
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectSettled, out.Effect)
		assert.Equal(t, int64(7000), out.Authorization.Authorized)
		assert.True(t, out.Authorization.PendingSince.IsZero())
		again, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-1",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded})
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectReplayed, again.Effect)
		_, err = f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-1",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeFailed})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict)
		_, err = f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-1",
			Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict, "of another kind")
		us, err = f.svc.Unsettled(f.ctx, authcapture.UnsettledRequest{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, us)
	})
	t.Run("RecordOutcome reports a change declined, or an amount other than asked", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		before := f.get(id)
		begin(f, id, authcapture.AmountChangeRequest{Total: amt("130"), ProviderRef: "psp-upd-2"})
		_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-2",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded, Amount: amt("120")})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict)
		out, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "psp-upd-2",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeFailed, Reason: "refused"})
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectSettled, out.Effect)
		assertOnlyAttempt(t, before, f.get(id))
	})
	t.Run("RecordOutcome records an approved change the host never recorded", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "psp-upd-3",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded})
		require.ErrorIs(t, err, authcapture.ErrInvalidAmount, "the new total is needed")
		out, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "psp-upd-3",
			Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded, Amount: amt("110")})
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectRecorded, out.Effect)
		assert.Equal(t, int64(11000), out.Authorization.Authorized)
		again, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("110"),
			ProviderRef: "psp-upd-3", IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.True(t, again.Replayed, "the host's own record of it, later, is a replay")
	})
	t.Run("an increase approved after the hold lapsed is released", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		r := begin(f, id, authcapture.AmountChangeRequest{Total: amt("150")})
		f.clock.Advance(29 * 24 * time.Hour)
		a := f.get(id)
		assert.True(t, a.HoldExpired())
		assert.False(t, a.Closed(), "the change is still in flight")
		_, err := settle(f, id, r.Entry.ChangeID, true)
		require.NoError(t, err)
		a = f.get(id)
		assert.Equal(t, int64(15000), a.Authorized)
		assert.Equal(t, int64(15000), a.Expired)
		assert.Equal(t, authcapture.StatusExpired, a.Status())
	})
	t.Run("a decrease declined after the hold lapsed is released", func(t *testing.T) {
		f := setupChanges(t)
		id := f.holdOf("adyen-adjustment", authcapture.AuthorizationEstimated, "100").ID
		r := begin(f, id, authcapture.AmountChangeRequest{Total: amt("30")})
		f.clock.Advance(29 * 24 * time.Hour)
		_, err := settle(f, id, r.Entry.ChangeID, false)
		require.NoError(t, err)
		a := f.get(id)
		assert.Equal(t, "0.00/0.00/0.00/0.00/100.00 expired", amounts(a))
	})
}

// TestAmountChangeValidity checks that an approved change moves the hold's
// expiry per the policy and that the schedules follow it as at approval.
func TestAmountChangeValidity(t *testing.T) {
	t.Parallel()
	f := setupChanges(t)
	a := f.holdOf("extending", authcapture.AuthorizationFinal, "100")
	require.True(t, a.ExpiresAt.Equal(t0.Add(7*24*time.Hour)))
	require.True(t, a.CaptureAt.Equal(a.ExpiresAt.Add(-5*time.Minute)), "the capture before expiry")
	f.clock.Advance(3 * 24 * time.Hour)
	r, err := f.byDelta(a.ID, "20")
	require.NoError(t, err)
	a = r.Authorization
	assert.True(t, a.ExpiresAt.Equal(t0.Add(10*24*time.Hour)), "7 days from the change")
	assert.Equal(t, "policy extending amount change validity 168h0m0s", a.ExpiryRule)
	assert.True(t, a.CaptureAt.Equal(a.ExpiresAt.Add(-5*time.Minute)), "the capture before expiry follows the expiry")
	assert.True(t, a.NextDue.Equal(a.CaptureAt))
	// A declined change moves nothing.
	f.clock.Advance(24 * time.Hour)
	before := f.get(a.ID)
	_, err = f.declined(a.ID, "500")
	require.NoError(t, err)
	assertOnlyAttempt(t, before, f.get(a.ID))
	// A change whose validity ends sooner than the hold leaves it.
	f.clock.Advance(-2 * 24 * time.Hour)
	_, err = f.byDelta(a.ID, "-10")
	require.NoError(t, err)
	assert.True(t, f.get(a.ID).ExpiresAt.Equal(t0.Add(10*24*time.Hour)))
}

// TestAmountChangeValidityMovesTheNotice checks that the expiring-soon
// notice follows the expiry an approved change moved: it is due the
// policy's lead time before the new expiry, not before the old one, and a
// hold already warned about is warned about again once it was extended.
func TestAmountChangeValidityMovesTheNotice(t *testing.T) {
	t.Parallel()
	for _, begun := range []bool{false, true} {
		f := setupChanges(t)
		a := f.holdOf("extending_noticing", authcapture.AuthorizationFinal, "100")
		require.True(t, a.ExpiringNoticeAt.Equal(t0.Add(5*24*time.Hour)))
		f.clock.Advance(3 * 24 * time.Hour)
		var r *authcapture.Result
		var err error
		if begun {
			r, err = f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID, Delta: amt("20"),
				IdempotencyKey: f.key()})
			require.NoError(t, err)
			r, err = f.svc.ConfirmAmountChange(f.ctx, authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: a.ID,
				ChangeID: r.Entry.ChangeID, IdempotencyKey: f.key()})
		} else {
			r, err = f.byDelta(a.ID, "20")
		}
		require.NoError(t, err)
		a = r.Authorization
		require.True(t, a.ExpiresAt.Equal(t0.Add(10*24*time.Hour)))
		assert.True(t, a.ExpiringNoticeAt.Equal(t0.Add(8*24*time.Hour)), "begun %v: notice at %s, 48 hours before %s",
			begun, a.ExpiringNoticeAt, a.ExpiresAt)
		// Warned about, then extended: warned about again.
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiringNoticeAt)
		require.Equal(t, 1, f.sweep(s).Notified)
		f.clock.Advance(time.Hour)
		r, err = f.byDelta(a.ID, "5")
		require.NoError(t, err)
		assert.True(t, r.Authorization.ExpiringNoticeAt.Equal(r.Authorization.ExpiresAt.Add(-48*time.Hour)),
			"begun %v: the extended hold is warned about again", begun)
	}
}

// TestAuthorizationType checks the type set at create: final by default,
// part of the fingerprint, and validated.
func TestAuthorizationType(t *testing.T) {
	t.Parallel()
	f := setupChanges(t)
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: "c1"})
	require.NoError(t, err)
	assert.Equal(t, authcapture.AuthorizationFinal, r.Authorization.AuthorizationType)
	again, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"),
		AuthorizationType: authcapture.AuthorizationFinal, IdempotencyKey: "c1"})
	require.NoError(t, err, "final is the default")
	assert.True(t, again.Replayed)
	_, err = f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"),
		AuthorizationType: authcapture.AuthorizationEstimated, IdempotencyKey: "c1"})
	require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
	_, err = f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"),
		AuthorizationType: "incremental", IdempotencyKey: "c2"})
	require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
}

// TestAmountChangePolicyValidation checks the amount-change knobs.
func TestAmountChangePolicyValidation(t *testing.T) {
	t.Parallel()
	base := authcapture.Policy{Name: "p", Validity: 7 * 24 * time.Hour}
	tests := []struct {
		name   string
		change func(p *authcapture.Policy)
		ok     bool
	}{
		{"no amount changes", func(p *authcapture.Policy) {}, true},
		{"stripe's knobs", func(p *authcapture.Policy) { *p = stripeIncremental }, true},
		{"adyen's knobs", func(p *authcapture.Policy) { *p = adyenAdjustment }, true},
		{"negative attempt cap", func(p *authcapture.Policy) { p.IncrementalAuthorization, p.MaxAmountChangeAttempts = true, -1 }, false},
		{"negative validity", func(p *authcapture.Policy) { p.IncrementalAuthorization, p.AmountChangeValidity = true, -time.Hour }, false},
		{"validity beyond 90 days", func(p *authcapture.Policy) {
			p.IncrementalAuthorization, p.AmountChangeValidity = true, 91*24*time.Hour
		}, false},
		{"unknown authorization type", func(p *authcapture.Policy) {
			p.IncrementalAuthorization, p.AmountChangeTypes = true, []authcapture.AuthorizationType{"incremental"}
		}, false},
		{"an attempt cap without amount changes", func(p *authcapture.Policy) { p.MaxAmountChangeAttempts = 10 }, false},
		{"before-capture without amount changes", func(p *authcapture.Policy) { p.AmountChangeBeforeCapture = true }, false},
	}
	for _, tt := range tests {
		p := base
		tt.change(&p)
		err := p.Validate()
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.True(t, errors.Is(err, authcapture.ErrInvalidPolicy), "%s: %v", tt.name, err)
		}
	}
}
