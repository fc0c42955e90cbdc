package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Cancel after approval is a void of everything open with the caller's
// reason, as the one cancel call of PayMongo, NjiaPay and Payrails is: the
// authorization closes (voided, or captured if something was captured),
// pending captures stand, and the key's record says cancel.
func TestCancelAfterApprovalVoidsEverythingOpen(t *testing.T) {
	t.Parallel()
	cancel := func(f *fixture, id, key string) (*authcapture.Result, error) {
		return f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: id,
			Reason: authcapture.ReasonRequestedByCustomer, Reference: "ticket-3", IdempotencyKey: key})
	}
	for _, policy := range []string{"paymongo", "njiapay", "payrails"} {
		t.Run("authorized under "+policy, func(t *testing.T) {
			f := setup(t)
			a := f.hold(policy, "10.00")
			r, err := cancel(f, a.ID, "cancel-1")
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/0.00/10.00/0.00 voided", amounts(f.get(a.ID)))
			assert.Equal(t, authcapture.CloseVoided, r.Authorization.CloseReason)
			assert.Equal(t, authcapture.EntryVoid, r.Entry.Kind)
			assert.Equal(t, int64(1000), r.Entry.Amount)
			assert.Equal(t, authcapture.ReasonRequestedByCustomer, r.Entry.Reason)
			assert.Equal(t, "ticket-3", r.Entry.Reference)
			rec, err := f.store.Idempotency(f.ctx, "m1", "cancel-1")
			require.NoError(t, err)
			assert.Equal(t, "cancel", rec.Op)
			evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
			require.NoError(t, err)
			last := evs[len(evs)-1]
			assert.Equal(t, authcapture.EventVoided, last.Type)
			assert.Equal(t, authcapture.ReasonRequestedByCustomer, last.Reason)

			again, err := cancel(f, a.ID, "cancel-1")
			require.NoError(t, err)
			assert.True(t, again.Replayed)
			assert.Equal(t, r.Entry, again.Entry)
			_, err = cancel(f, a.ID, "cancel-2")
			require.ErrorIs(t, err, authcapture.ErrInvalidStatus, "a voided authorization cannot be canceled again")
		})
	}
	t.Run("partially captured: the rest is released, captures stand", func(t *testing.T) {
		f := setup(t)
		a := f.hold("payrails", "10.00")
		_, err := f.capture(a.ID, "4.00", authcapture.Bool(false))
		require.NoError(t, err)
		r, err := cancel(f, a.ID, f.key())
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/4.00/6.00/0.00 captured", amounts(f.get(a.ID)))
		assert.Equal(t, authcapture.CloseVoided, r.Authorization.CloseReason)
	})
	t.Run("a pending capture stands and settles after", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		b, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = cancel(f, a.ID, f.key())
		require.NoError(t, err)
		assert.Equal(t, "0.00/4.00/0.00/6.00/0.00 partially_captured", amounts(f.get(a.ID)))
		_, err = f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID,
			CaptureID: b.Entry.CaptureID, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/4.00/6.00/0.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("a delayed cancel is dropped", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("payrails", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		require.False(t, a.CancelAt.IsZero())
		r, err := cancel(f, a.ID, f.key())
		require.NoError(t, err)
		assert.True(t, r.Authorization.CancelAt.IsZero())
		assert.True(t, r.Authorization.NextDue.IsZero())
	})
	t.Run("the void's rules apply", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = cancel(f, a.ID, f.key())
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "pending captures hold everything: a temporary conflict")
		b := f.hold("default", "10.00")
		f.clock.Set(b.ExpiresAt)
		_, err = cancel(f, b.ID, f.key())
		require.ErrorIs(t, err, authcapture.ErrExpired, "expired, as for a void")
		_, err = f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: a.ID, Reason: authcapture.ReasonFinalCapture, IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument, "a system reason")
	})
}
