package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Refund policies for the tests, copies of presets with the refund knobs
// set: "refunds-early" refunds while the authorization is still open to
// capture, within 30 days (Adyen's model); "refunds-closed" only once it
// is closed (Stripe without multicapture), without a window.
func refundPolicies() []authcapture.Policy {
	early := authcapture.Adyen
	early.Name, early.RefundBeforeFinalCapture, early.RefundWindow = "refunds-early", true, 30*24*time.Hour
	closed := authcapture.Stripe
	closed.Name, closed.RefundBeforeFinalCapture, closed.RefundWindow = "refunds-closed", false, 0
	return []authcapture.Policy{early, closed}
}

func setupRefunds(t *testing.T) *fixture {
	t.Helper()
	f := setup(t)
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: refundPolicies()})
	require.NoError(t, err)
	f.svc = svc
	return f
}

func (f *fixture) refund(id, amount, captureID string) (*authcapture.Result, error) {
	return f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt(amount), CaptureID: captureID,
		IdempotencyKey: f.key()})
}

func (f *fixture) beginRefund(id, amount, captureID string) (*authcapture.Result, error) {
	return f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt(amount), CaptureID: captureID,
		IdempotencyKey: f.key()})
}

// refunds renders the refund ledger: "refunded/pending refundable status".
func refunds(a *authcapture.Authorization) string {
	c := a.Currency
	return c.Format(a.Refunded) + "/" + c.Format(a.PendingRefund) + " " + c.Format(a.Refundable()) + " " + string(a.RefundStatus())
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	no := false
	// captured: a 100.00 hold under policy, captured as given (non-final
	// captures), returning the authorization and the capture IDs.
	captured := func(f *fixture, policy string, amounts ...string) (*authcapture.Authorization, []string) {
		f.t.Helper()
		a := f.hold(policy, "100.00")
		var ids []string
		for _, x := range amounts {
			r, err := f.capture(a.ID, x, &no)
			require.NoError(f.t, err)
			ids = append(ids, r.Entry.CaptureID)
		}
		return a, ids
	}
	t.Run("a full refund of a closed authorization gives everything back and leaves the hold as it was", func(t *testing.T) {
		f := setupRefunds(t)
		a, _ := captured(f, "refunds-closed", "100.00")
		before := f.get(a.ID)
		require.Equal(t, authcapture.StatusCaptured, before.Status())
		r, err := f.refund(a.ID, "100.00", "")
		require.NoError(t, err)
		after := f.check(a.ID)
		assert.Equal(t, "100.00/0.00 0.00 refunded", refunds(after))
		assert.Equal(t, amounts(before), amounts(after), "a refund changes no hold ledger")
		assert.Equal(t, authcapture.StatusCaptured, after.Status())
		assert.Equal(t, before.ClosedAt, after.ClosedAt)
		assert.Equal(t, authcapture.EntryRefund, r.Entry.Kind)
		assert.Equal(t, authcapture.ActionSucceeded, r.Entry.RefundState)
		assert.NotEmpty(t, r.Entry.RefundID)
		evs := f.events(a.ID)
		last := evs[len(evs)-1]
		assert.Equal(t, authcapture.EventRefundSucceeded, last.Type)
		assert.Equal(t, r.Entry.RefundID, last.RefundID)
		assert.Equal(t, int64(10000), last.Refunded)
	})
	t.Run("partial refunds, several times, up to what was captured", func(t *testing.T) {
		f := setupRefunds(t)
		a, _ := captured(f, "refunds-closed", "60.00")
		_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: f.key()})
		require.NoError(t, err)
		for _, x := range []string{"10.00", "20.00", "25.00"} {
			_, err := f.refund(a.ID, x, "")
			require.NoError(t, err)
		}
		assert.Equal(t, "55.00/0.00 5.00 partially_refunded", refunds(f.check(a.ID)))
		_, err = f.refund(a.ID, "5.01", "")
		require.ErrorIs(t, err, authcapture.ErrExceedsRefundable)
		_, err = f.refund(a.ID, "5.00", "")
		require.NoError(t, err)
		assert.Equal(t, "60.00/0.00 0.00 refunded", refunds(f.check(a.ID)))
	})
	t.Run("a refund naming a capture gives back at most what it captured", func(t *testing.T) {
		f := setupRefunds(t)
		a, ids := captured(f, "refunds-early", "30.00", "50.00")
		_, err := f.refund(a.ID, "30.01", ids[0])
		require.ErrorIs(t, err, authcapture.ErrExceedsRefundable)
		_, err = f.refund(a.ID, "20.00", ids[0])
		require.NoError(t, err)
		_, err = f.refund(a.ID, "10.01", ids[0])
		require.ErrorIs(t, err, authcapture.ErrExceedsRefundable, "20 of 30 refunded")
		_, err = f.refund(a.ID, "50.00", ids[1])
		require.NoError(t, err)
		// Against the total: 80 captured, 70 refunded.
		_, err = f.refund(a.ID, "10.01", "")
		require.ErrorIs(t, err, authcapture.ErrExceedsRefundable)
		_, err = f.refund(a.ID, "10.00", "")
		require.NoError(t, err)
		assert.Equal(t, "80.00/0.00 0.00 refunded", refunds(f.check(a.ID)))
		assert.Equal(t, "20.00/0.00/80.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)), "open stays open")
	})
	t.Run("refunds before the final capture need the policy", func(t *testing.T) {
		f := setupRefunds(t)
		a, ids := captured(f, "refunds-closed", "30.00")
		v := f.get(a.ID).Version
		_, err := f.refund(a.ID, "10.00", ids[0])
		require.ErrorIs(t, err, authcapture.ErrRefundNotAllowed)
		_, err = f.beginRefund(a.ID, "10.00", "")
		require.ErrorIs(t, err, authcapture.ErrRefundNotAllowed)
		assert.Equal(t, v, f.get(a.ID).Version, "nothing changed")
		// Once closed, it may.
		_, err = f.capture(a.ID, "70.00", nil)
		require.NoError(t, err)
		_, err = f.refund(a.ID, "10.00", ids[0])
		require.NoError(t, err)

		f2 := setupRefunds(t)
		b, ids := captured(f2, "refunds-early", "30.00")
		_, err = f2.refund(b.ID, "10.00", ids[0])
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusPartiallyCaptured, f2.check(b.ID).Status())
	})
	t.Run("the refund window counts from the capture refunded, or from the latest capture", func(t *testing.T) {
		f := setupRefunds(t)
		a, ids := captured(f, "refunds-early", "30.00")
		f.clock.Advance(10 * 24 * time.Hour)
		r, err := f.capture(a.ID, "20.00", &no)
		require.NoError(t, err)
		f.clock.Advance(20*24*time.Hour - time.Nanosecond) // 30 days less 1ns after the first capture
		_, err = f.refund(a.ID, "1.00", ids[0])
		require.NoError(t, err)
		f.clock.Advance(time.Nanosecond) // 30 days after the first capture
		_, err = f.refund(a.ID, "1.00", ids[0])
		require.ErrorIs(t, err, authcapture.ErrRefundWindowClosed)
		_, err = f.refund(a.ID, "1.00", r.Entry.CaptureID)
		require.NoError(t, err, "20 days after the second")
		_, err = f.refund(a.ID, "1.00", "")
		require.NoError(t, err, "against the total, from the latest capture")
		f.clock.Advance(10 * 24 * time.Hour)
		_, err = f.refund(a.ID, "1.00", "")
		require.ErrorIs(t, err, authcapture.ErrRefundWindowClosed)
		_, err = f.beginRefund(a.ID, "1.00", r.Entry.CaptureID)
		require.ErrorIs(t, err, authcapture.ErrRefundWindowClosed)
	})
	t.Run("a two-phase refund reserves, then succeeds", func(t *testing.T) {
		f := setupRefunds(t)
		a, _ := captured(f, "refunds-closed", "100.00")
		r, err := f.beginRefund(a.ID, "40.00", "")
		require.NoError(t, err)
		assert.Equal(t, "0.00/40.00 60.00 refund_pending", refunds(f.check(a.ID)))
		assert.Len(t, f.get(a.ID).PendingRefunds, 1)
		assert.False(t, f.get(a.ID).PendingSince.IsZero(), "pending refunds are in the unsettled index")
		_, err = f.refund(a.ID, "60.01", "")
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "the pending refund may still fail")
		c, err := f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r.Entry.RefundID,
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "40.00/0.00 60.00 partially_refunded", refunds(f.check(a.ID)))
		assert.Equal(t, authcapture.ActionSucceeded, c.Entry.RefundState)
		assert.True(t, f.get(a.ID).PendingSince.IsZero())
	})
	t.Run("a failed refund returns its amount to refundable", func(t *testing.T) {
		f := setupRefunds(t)
		a, ids := captured(f, "refunds-early", "50.00")
		r, err := f.beginRefund(a.ID, "50.00", ids[0])
		require.NoError(t, err)
		_, err = f.refund(a.ID, "1.00", ids[0])
		require.ErrorIs(t, err, authcapture.ErrExceedsRefundable, "the capture's refunds reserve all of it")
		_, err = f.svc.FailRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r.Entry.RefundID,
			Reason: "insufficient_funds", IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00 50.00 none", refunds(f.check(a.ID)))
		evs := f.events(a.ID)
		assert.Equal(t, authcapture.EventRefundFailed, evs[len(evs)-1].Type)
		assert.Equal(t, ids[0], evs[len(evs)-1].CaptureID)
		_, err = f.refund(a.ID, "50.00", ids[0])
		require.NoError(t, err)
		_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r.Entry.RefundID,
			IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrNotFound, "settled already")
	})
	t.Run("a replay returns the original result; another request under the key is a mismatch", func(t *testing.T) {
		f := setupRefunds(t)
		a, _ := captured(f, "refunds-closed", "100.00")
		req := authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10"), IdempotencyKey: "rk", ProviderRef: "re_1"}
		r1, err := f.svc.Refund(f.ctx, req)
		require.NoError(t, err)
		r2, err := f.svc.Refund(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r2.Replayed)
		assert.Equal(t, r1.Entry, r2.Entry)
		req.Amount = amt("11")
		_, err = f.svc.Refund(f.ctx, req)
		require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
		// The same provider refund under another key is a replay too.
		req.Amount, req.IdempotencyKey = amt("10"), "rk2"
		r3, err := f.svc.Refund(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r3.Replayed)
		assert.Equal(t, "10.00/0.00 90.00 partially_refunded", refunds(f.check(a.ID)))
	})
	t.Run("refunds of what cannot be refunded are refused and change nothing", func(t *testing.T) {
		f := setupRefunds(t)
		a, ids := captured(f, "refunds-early", "10.00")
		pc, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10"),
			Final: &no, IdempotencyKey: f.key()})
		require.NoError(t, err)
		fc, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10"),
			Final: &no, IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: fc.Entry.CaptureID,
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		other := f.hold("refunds-early", "5.00")
		oc, err := f.capture(other.ID, "5.00", nil)
		require.NoError(t, err)
		voided := f.hold("refunds-early", "5.00")
		_, err = f.voidAll(voided.ID)
		require.NoError(t, err)
		v := f.get(a.ID)
		for _, c := range []struct {
			name    string
			id      string
			amount  string
			capture string
			want    error
		}{
			{"above refundable", a.ID, "10.01", "", authcapture.ErrExceedsRefundable},
			{"above the capture", a.ID, "10.01", ids[0], authcapture.ErrExceedsRefundable},
			{"a pending capture", a.ID, "1.00", pc.Entry.CaptureID, authcapture.ErrActionInFlight},
			{"a failed capture", a.ID, "1.00", fc.Entry.CaptureID, authcapture.ErrCaptureNotRefundable},
			{"another authorization's capture", a.ID, "1.00", oc.Entry.CaptureID + "9", authcapture.ErrNotFound},
			{"too precise", a.ID, "1.001", "", authcapture.ErrAmountPrecision},
			{"nothing captured", voided.ID, "1.00", "", authcapture.ErrInvalidStatus},
		} {
			_, err := f.refund(c.id, c.amount, c.capture)
			assert.ErrorIs(t, err, c.want, c.name)
		}
		_, err = f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("1"), Currency: "EUR",
			IdempotencyKey: f.key()})
		assert.ErrorIs(t, err, authcapture.ErrCurrencyMismatch)
		assert.Equal(t, v, f.get(a.ID), "nothing changed")
	})
}

// check reads an authorization; get checks its invariants against its log.
func (f *fixture) check(id string) *authcapture.Authorization {
	f.t.Helper()
	return f.get(id)
}

// events returns the events of authorization id.
func (f *fixture) events(id string) []authcapture.Event {
	f.t.Helper()
	evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
	require.NoError(f.t, err)
	var out []authcapture.Event
	for _, e := range evs {
		if e.AuthorizationID == id {
			out = append(out, e)
		}
	}
	return out
}

func TestRefundOutcomes(t *testing.T) {
	t.Parallel()
	// closedHold: 100.00 captured in full under refunds-closed.
	closedHold := func(f *fixture) *authcapture.Authorization {
		f.t.Helper()
		a := f.hold("refunds-closed", "100.00")
		_, err := f.capture(a.ID, "100.00", nil)
		require.NoError(f.t, err)
		return a
	}
	outcome := func(f *fixture, id, ref string, state authcapture.OutcomeState, amount string) (*authcapture.OutcomeResult, error) {
		req := authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: ref, Kind: authcapture.OutcomeRefund,
			Outcome: state}
		if amount != "" {
			req.Amount = amt(amount)
		}
		return f.svc.RecordOutcome(f.ctx, req)
	}
	t.Run("a pending refund is settled by its provider reference, and a repeated delivery is a replay", func(t *testing.T) {
		f := setupRefunds(t)
		a := closedHold(f)
		_, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30"), ProviderRef: "re_1",
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		r, err := outcome(f, "", "re_1", authcapture.OutcomeSucceeded, "")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectSettled, r.Effect)
		assert.Equal(t, "30.00/0.00 70.00 partially_refunded", refunds(f.check(a.ID)))
		r, err = outcome(f, "", "re_1", authcapture.OutcomeSucceeded, "30")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectReplayed, r.Effect)
		_, err = outcome(f, "", "re_1", authcapture.OutcomeFailed, "")
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict, "recorded as succeeded")
		_, err = f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "re_1",
			Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict, "a refund reported as a capture")
		assert.Equal(t, "30.00/0.00 70.00 partially_refunded", refunds(f.check(a.ID)))
	})
	t.Run("a failed refund outcome returns its amount; a pending one changes nothing", func(t *testing.T) {
		f := setupRefunds(t)
		a := closedHold(f)
		_, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30"), ProviderRef: "re_2",
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		r, err := outcome(f, "", "re_2", authcapture.OutcomePending, "")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectIgnored, r.Effect)
		r, err = outcome(f, "", "re_2", authcapture.OutcomeFailed, "")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectSettled, r.Effect)
		assert.Equal(t, "0.00/0.00 100.00 none", refunds(f.check(a.ID)))
	})
	t.Run("a refund the host never recorded becomes the direct refund, once, whichever comes first", func(t *testing.T) {
		f := setupRefunds(t)
		a := closedHold(f)
		r, err := outcome(f, a.ID, "re_3", authcapture.OutcomeSucceeded, "25")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectRecorded, r.Effect)
		// The host's own record after the webhook is a replay of it.
		h, err := f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("25"), ProviderRef: "re_3",
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.True(t, h.Replayed)
		// The host's record first, then the webhook: a replay too.
		_, err = f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("5"), ProviderRef: "re_4",
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		r, err = outcome(f, "", "re_4", authcapture.OutcomeSucceeded, "5")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectReplayed, r.Effect)
		assert.Equal(t, "30.00/0.00 70.00 partially_refunded", refunds(f.check(a.ID)))
		// A failure of a refund never recorded moved no money.
		r, err = outcome(f, a.ID, "re_5", authcapture.OutcomeFailed, "")
		require.NoError(t, err)
		assert.Equal(t, authcapture.EffectIgnored, r.Effect)
	})
	t.Run("pending refunds of a closed authorization are listed unsettled until settled", func(t *testing.T) {
		f := setupRefunds(t)
		a := closedHold(f)
		r, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10"), ProviderRef: "re_6",
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		require.True(t, r.Authorization.Closed())
		un, err := f.svc.Unsettled(f.ctx, authcapture.UnsettledRequest{Limit: 10})
		require.NoError(t, err)
		require.Len(t, un, 1)
		assert.Equal(t, authcapture.OutcomeRefund, un[0].Kind)
		assert.Equal(t, r.Entry.RefundID, un[0].ActionID)
		assert.Equal(t, int64(1000), un[0].Amount)
		assert.Equal(t, "re_6", un[0].ProviderRef)
		_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r.Entry.RefundID,
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		un, err = f.svc.Unsettled(f.ctx, authcapture.UnsettledRequest{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, un)
	})
}

func TestRefundPolicyIsValidated(t *testing.T) {
	t.Parallel()
	for _, w := range []time.Duration{-time.Nanosecond, 10*365*24*time.Hour + 1} {
		p := authcapture.DefaultPolicy
		p.Name, p.RefundWindow = "bad-window", w
		require.ErrorIs(t, p.Validate(), authcapture.ErrInvalidPolicy, "RefundWindow %s", w)
	}
	p := authcapture.DefaultPolicy
	p.Name, p.RefundWindow = "ok-window", 180*24*time.Hour
	require.NoError(t, p.Validate())
}
