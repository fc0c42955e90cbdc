package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

var (
	// everything turns on every feature that may be combined: overcapture
	// (15 percent, at most 75 USD), incremental and decremental
	// authorization of estimated holds (each approved change keeping the
	// hold 4 days), refunds before the final capture within 36 hours of
	// the capture, two reauthorizations from an hour to 4 days after
	// approval, an expiring-soon notice 12 hours ahead, partial voids and
	// multiple captures, on a 3-day hold.
	everything = authcapture.Policy{Name: "everything", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 3 * 24 * time.Hour, OvercapturePercent: 15, OvercaptureMax: map[authcapture.Currency]string{"USD": "75.00"},
		IncrementalAuthorization: true, DecrementalAuthorization: true,
		AmountChangeTypes:       []authcapture.AuthorizationType{authcapture.AuthorizationEstimated},
		MaxAmountChangeAttempts: 8, AmountChangeValidity: 4 * 24 * time.Hour,
		RefundBeforeFinalCapture: true, RefundWindow: 36 * time.Hour,
		MaxReauthorizations: 2, ReauthorizeAfter: time.Hour, ReauthorizeBefore: 4 * 24 * time.Hour, ExpiringSoon: 12 * time.Hour}
	// everythingBeforeCapture is everything with amount changes only
	// before the first capture (Stripe-like).
	everythingBeforeCapture = func() authcapture.Policy {
		p := everything
		p.Name, p.AmountChangeBeforeCapture = "everything_before_capture", true
		return p
	}()
	// everythingLong is everything with a refund window of 200 days, for
	// retention: longer than every preset's.
	everythingLong = func() authcapture.Policy {
		p := everything
		p.Name, p.RefundWindow = "everything_long", 200*24*time.Hour
		return p
	}()
)

func setupInteractions(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: clocktest.New(t0), store: memstore.New()}
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock,
		Policies: []authcapture.Policy{everything, everythingBeforeCapture, everythingLong}})
	require.NoError(t, err)
	f.svc = svc
	return f
}

// ledgers renders every ledger: "authorized+overcaptured = open pending
// pendingVoid pendingDecrement captured voided expired | refunded
// pendingRefund status", and checks the ledger equation and the refund
// bound.
func ledgers(t *testing.T, a *authcapture.Authorization) string {
	t.Helper()
	require.Equal(t, a.Authorized+a.Overcaptured,
		a.Open()+a.Pending+a.PendingVoid+a.PendingDecrement+a.Captured+a.Voided+a.Expired, "the ledger equation")
	require.LessOrEqual(t, a.Refunded+a.PendingRefund, a.Captured, "refunds within what was captured")
	c := a.Currency
	return c.Format(a.Authorized) + "+" + c.Format(a.Overcaptured) + " = " + c.Format(a.Open()) + " " + c.Format(a.Pending) + " " +
		c.Format(a.PendingVoid) + " " + c.Format(a.PendingDecrement) + " " + c.Format(a.Captured) + " " + c.Format(a.Voided) + " " +
		c.Format(a.Expired) + " | " + c.Format(a.Refunded) + " " + c.Format(a.PendingRefund) + " " + string(a.Status())
}

// holdLedgers is ledgers without the refund ledger: what a refund must
// not change.
func holdLedgers(a *authcapture.Authorization) (authcapture.Status, [9]int64, int, time.Time) {
	return a.Status(), [9]int64{a.Authorized, a.Overcaptured, a.Open(), a.Pending, a.PendingVoid, a.PendingDecrement,
		a.Captured, a.Voided, a.Expired}, a.Captures, a.ExpiresAt
}

// TestFeatureInteractions checks the rules where refunds, amount changes,
// overcapture, reauthorization, expiry and retention meet, under a policy
// that turns them all on.
func TestFeatureInteractions(t *testing.T) {
	t.Parallel()
	no, yes := authcapture.Bool(false), authcapture.Bool(true)
	est := authcapture.AuthorizationEstimated
	tests := []struct {
		rule string
		run  func(t *testing.T, f *fixture)
	}{
		{"a refund, begun, confirmed, failed or direct, changes no hold ledger: not Open, not the captures counted, not the expiry", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			before := f.get(a.ID)
			r1, err := f.beginRefund(a.ID, "10.00", "")
			require.NoError(t, err)
			r2, err := f.beginRefund(a.ID, "5.00", "")
			require.NoError(t, err)
			_, err = f.refund(a.ID, "3.00", "")
			require.NoError(t, err)
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r1.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.svc.FailRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: r2.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			after := f.get(a.ID)
			s0, l0, c0, e0 := holdLedgers(before)
			s1, l1, c1, e1 := holdLedgers(after)
			assert.Equal(t, s0, s1)
			assert.Equal(t, l0, l1)
			assert.Equal(t, c0, c1)
			assert.Equal(t, e0, e1)
			assert.Equal(t, "100.00+0.00 = 60.00 0.00 0.00 0.00 40.00 0.00 0.00 | 13.00 0.00 partially_captured", ledgers(t, after))
		}},
		{"a capture refunded in full still counts for AmountChangeBeforeCapture: the change is refused", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything_before_capture", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			_, err = f.refund(a.ID, "40.00", "")
			require.NoError(t, err)
			before := f.state(a.ID)
			_, err = f.toTotal(a.ID, "120.00")
			require.ErrorIs(t, err, authcapture.ErrAmountChangeAfterCapture)
			_, err = f.byDelta(a.ID, "-10.00")
			require.ErrorIs(t, err, authcapture.ErrAmountChangeAfterCapture)
			assert.Equal(t, before, f.state(a.ID), "a rejection writes nothing")
		}},
		{"refunded money does not return to the hold: a decrease may take only what is open, never below what was captured", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			_, err = f.refund(a.ID, "40.00", "")
			require.NoError(t, err)
			_, err = f.toTotal(a.ID, "40.00")
			require.ErrorIs(t, err, authcapture.ErrBelowCaptured, "the refund made nothing open")
			_, err = f.toTotal(a.ID, "41.00")
			require.NoError(t, err)
			assert.Equal(t, "41.00+0.00 = 1.00 0.00 0.00 0.00 40.00 0.00 0.00 | 40.00 0.00 partially_captured", ledgers(t, f.get(a.ID)))
		}},
		{"a decrease in flight and a refund in flight keep their own reservations: neither bounds the other", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			rf, err := f.beginRefund(a.ID, "30.00", "")
			require.NoError(t, err)
			ch, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID, Delta: amt("-50.00"), IdempotencyKey: f.key()})
			require.NoError(t, err, "a decrease while a refund is pending")
			assert.Equal(t, "100.00+0.00 = 10.00 0.00 0.00 50.00 40.00 0.00 0.00 | 0.00 30.00 partially_captured", ledgers(t, f.get(a.ID)))
			_, err = f.refund(a.ID, "10.01", "")
			require.ErrorIs(t, err, authcapture.ErrActionInFlight, "the pending refund holds the rest")
			_, err = f.refund(a.ID, "10.00", "")
			require.NoError(t, err, "a refund while a decrease is in flight")
			_, err = f.svc.DeclineAmountChange(f.ctx, authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: a.ID, ChangeID: ch.Entry.ChangeID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: rf.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			assert.Equal(t, "100.00+0.00 = 60.00 0.00 0.00 0.00 40.00 0.00 0.00 | 40.00 0.00 partially_captured", ledgers(t, f.get(a.ID)))
		}},
		{"a refund of an overcapture is bounded by what was captured, the overcaptured part included (100.00 captured at 115.00)", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			c, err := f.capture(a.ID, "115.00", yes)
			require.NoError(t, err)
			assert.Equal(t, "100.00+15.00 = 0.00 0.00 0.00 0.00 115.00 0.00 0.00 | 0.00 0.00 captured", ledgers(t, f.get(a.ID)))
			_, err = f.refund(a.ID, "115.01", c.Entry.CaptureID)
			require.ErrorIs(t, err, authcapture.ErrExceedsRefundable)
			_, err = f.refund(a.ID, "115.01", "")
			require.ErrorIs(t, err, authcapture.ErrExceedsRefundable)
			_, err = f.refund(a.ID, "100.00", c.Entry.CaptureID)
			require.NoError(t, err)
			_, err = f.beginRefund(a.ID, "15.00", "")
			require.NoError(t, err, "the overcaptured part is refundable too")
			_, err = f.refund(a.ID, "0.01", c.Entry.CaptureID)
			require.ErrorIs(t, err, authcapture.ErrActionInFlight, "the pending refund holds the rest")
			assert.Equal(t, "100.00+15.00 = 0.00 0.00 0.00 0.00 115.00 0.00 0.00 | 100.00 15.00 captured", ledgers(t, f.get(a.ID)))
		}},
		{"an amount change is refused on a closed authorization, a refund still goes through", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "60.00", yes)
			require.NoError(t, err)
			closed := f.get(a.ID)
			require.True(t, closed.Closed())
			before := f.state(a.ID)
			for _, total := range []string{"120.00", "80.00"} {
				_, err = f.toTotal(a.ID, total)
				require.ErrorIs(t, err, authcapture.ErrInvalidStatus, "to %s", total)
				_, err = f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID, Total: amt(total), IdempotencyKey: f.key()})
				require.ErrorIs(t, err, authcapture.ErrInvalidStatus, "begun, to %s", total)
			}
			assert.Equal(t, before, f.state(a.ID), "rejections write nothing")
			_, err = f.refund(a.ID, "60.00", "")
			require.NoError(t, err)
			after := f.get(a.ID)
			assert.Equal(t, "100.00+0.00 = 0.00 0.00 0.00 0.00 60.00 40.00 0.00 | 60.00 0.00 captured", ledgers(t, after))
			assert.Equal(t, authcapture.RefundFullyRefunded, after.RefundStatus())
			assert.Equal(t, closed.ClosedAt, after.ClosedAt, "the refund does not reopen or re-close it")
		}},
		{"an amount change is refused while an overcapture is pending; refunds wait for its capture", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("110.00"), Final: yes, IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.toTotal(a.ID, "105.00")
			require.ErrorIs(t, err, authcapture.ErrActionInFlight)
			_, err = f.refund(a.ID, "1.00", r.Entry.CaptureID)
			require.ErrorIs(t, err, authcapture.ErrActionInFlight, "a pending capture is not refundable yet")
			assert.Equal(t, "100.00+10.00 = 0.00 110.00 0.00 0.00 0.00 0.00 0.00 | 0.00 0.00 partially_captured", ledgers(t, f.get(a.ID)))
		}},
		{"reauthorization touches no refund: the refund ledger stays, and the window still counts from the capture", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			rf, err := f.beginRefund(a.ID, "10.00", "")
			require.NoError(t, err)
			_, err = f.refund(a.ID, "5.00", "")
			require.NoError(t, err)
			f.clock.Advance(2 * time.Hour)
			before := f.get(a.ID)
			_, err = f.reauthorize(a.ID, time.Time{}, "")
			require.NoError(t, err)
			after := f.get(a.ID)
			assert.Equal(t, ledgers(t, before), ledgers(t, after))
			assert.Equal(t, before.PendingRefunds, after.PendingRefunds)
			assert.Equal(t, before.Refunds, after.Refunds)
			assert.Equal(t, t0.Add(2*time.Hour+72*time.Hour), after.ExpiresAt)
			assert.Equal(t, after.ExpiresAt.Add(-12*time.Hour), after.ExpiringNoticeAt, "the notice is due for the new hold")
			f.clock.Set(t0.Add(36 * time.Hour))
			_, err = f.refund(a.ID, "1.00", "")
			require.ErrorIs(t, err, authcapture.ErrRefundWindowClosed, "36 hours after the capture, whatever the new hold")
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: rf.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err, "a refund begun within the window settles after it")
			assert.Equal(t, "100.00+0.00 = 60.00 0.00 0.00 0.00 40.00 0.00 0.00 | 15.00 0.00 partially_captured", ledgers(t, f.get(a.ID)))
		}},
		{"an amount change that extends the hold does not extend the refund window", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			f.clock.Advance(30 * time.Hour)
			_, err = f.toTotal(a.ID, "150.00")
			require.NoError(t, err)
			assert.Equal(t, t0.Add(30*time.Hour+4*24*time.Hour), f.get(a.ID).ExpiresAt)
			_, err = f.refund(a.ID, "1.00", "")
			require.NoError(t, err, "within 36 hours of the capture")
			f.clock.Set(t0.Add(36 * time.Hour))
			_, err = f.refund(a.ID, "1.00", "")
			require.ErrorIs(t, err, authcapture.ErrRefundWindowClosed)
		}},
		{"a refund pending when the hold expires settles after the expiry; a refund within the window is still accepted then", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			f.clock.Advance(60 * time.Hour)
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			rf, err := f.beginRefund(a.ID, "10.00", "")
			require.NoError(t, err)
			f.clock.Advance(13 * time.Hour) // past the 3-day hold
			expired := f.get(a.ID)
			assert.Equal(t, "100.00+0.00 = 0.00 0.00 0.00 0.00 40.00 0.00 60.00 | 0.00 10.00 captured", ledgers(t, expired))
			assert.True(t, expired.Closed())
			assert.True(t, expired.ExpiringNoticeAt.IsZero(), "no notice for a lapsed hold")
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: a.ID, RefundID: rf.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.refund(a.ID, "30.00", "")
			require.NoError(t, err, "13 hours after the capture")
			_, err = f.toTotal(a.ID, "120.00")
			require.ErrorIs(t, err, authcapture.ErrExpired, "the hold lapsed")
			_, err = f.reauthorize(a.ID, time.Time{}, "")
			require.ErrorIs(t, err, authcapture.ErrExpired)
			assert.Equal(t, "100.00+0.00 = 0.00 0.00 0.00 0.00 40.00 0.00 60.00 | 40.00 0.00 captured", ledgers(t, f.get(a.ID)))
		}},
		{"an approved change that extends the hold moves the expiring-soon notice to the new expiry", func(t *testing.T, f *fixture) {
			a := f.holdOf("everything", est, "100.00")
			require.Equal(t, t0.Add(60*time.Hour), a.ExpiringNoticeAt, "12 hours before the 3-day hold lapses")
			s := f.scheduler(nil)
			f.clock.Advance(30 * time.Hour)
			r, err := f.toTotal(a.ID, "150.00")
			require.NoError(t, err)
			assert.Equal(t, authcapture.EntryAmountChange, r.Entry.Kind, "the change is the command's entry")
			log, err := f.svc.Log(f.ctx, "m1", a.ID)
			require.NoError(t, err)
			last := log[len(log)-1]
			assert.Equal(t, authcapture.ReasonExpiringNoticeScheduled, last.Reason, "the new notice time is logged")
			got := f.get(a.ID)
			require.Equal(t, t0.Add(30*time.Hour+4*24*time.Hour), got.ExpiresAt)
			assert.Equal(t, got.ExpiresAt.Add(-12*time.Hour), got.ExpiringNoticeAt, "12 hours before the new expiry")
			f.clock.Set(t0.Add(60 * time.Hour))
			assert.Equal(t, 0, f.sweep(s).Notified, "the old hold's notice time: the hold has 66 hours left")
			f.clock.Set(got.ExpiresAt.Add(-12 * time.Hour))
			assert.Equal(t, 1, f.sweep(s).Notified)
			evs := f.expiringEvents(a.ID)
			require.Len(t, evs, 1)
		}},
		{"pruning never deletes an authorization whose refund window is open, nor one with a refund in flight", func(t *testing.T, f *fixture) {
			// A retention far shorter than the policy's 200-day window: the
			// window keeps each authorization, counted from its capture.
			const window, retention = 200 * 24 * time.Hour, 24 * time.Hour
			a := f.holdOf("everything_long", est, "100.00")
			_, err := f.capture(a.ID, "40.00", no)
			require.NoError(t, err)
			captured := f.clock.Now()
			b := f.holdOf("everything_long", est, "100.00")
			_, err = f.capture(b.ID, "40.00", no)
			require.NoError(t, err)
			rf, err := f.beginRefund(b.ID, "10.00", "")
			require.NoError(t, err)
			// Both close by expiry, after the capture: the window counts
			// from the capture, the retention from the later of the close
			// and the window's end.
			f.clock.Advance(80 * time.Hour)
			require.True(t, f.get(a.ID).Closed())
			require.True(t, f.get(b.ID).Closed())
			until := f.get(a.ID).RefundableUntil
			require.Equal(t, captured.Add(window), until)
			f.clock.Set(until.Add(-time.Nanosecond))
			res, err := f.svc.Prune(f.ctx, authcapture.PruneRequest{AuthorizationRetention: retention})
			require.NoError(t, err)
			assert.Equal(t, 0, res.Authorizations)
			_, err = f.refund(a.ID, "1.00", "")
			require.NoError(t, err, "the last instant of the window")
			assert.Equal(t, until, f.get(a.ID).RefundableUntil, "a refund moves nothing")
			f.clock.Set(until.Add(retention))
			res, err = f.svc.Prune(f.ctx, authcapture.PruneRequest{AuthorizationRetention: retention})
			require.NoError(t, err)
			assert.Equal(t, 0, res.Authorizations, "past the window by the retention exactly")
			f.clock.Set(until.Add(retention + time.Second))
			res, err = f.svc.Prune(f.ctx, authcapture.PruneRequest{AuthorizationRetention: retention})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Authorizations, "the one with nothing in flight, past its window for the retention")
			_, err = f.svc.Get(f.ctx, "m1", a.ID)
			require.ErrorIs(t, err, authcapture.ErrNotFound)
			assert.Equal(t, "100.00+0.00 = 0.00 0.00 0.00 0.00 40.00 0.00 60.00 | 0.00 10.00 captured", ledgers(t, f.get(b.ID)), "kept with its refund in flight")
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: b.ID, RefundID: rf.Entry.RefundID, IdempotencyKey: f.key()})
			require.NoError(t, err)
			res, err = f.svc.Prune(f.ctx, authcapture.PruneRequest{AuthorizationRetention: retention})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Authorizations, "once the refund settled")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			tt.run(t, setupInteractions(t))
		})
	}
}
