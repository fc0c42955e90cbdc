package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// A clock that steps back never dates a change before the latest time the
// authorization records: its creation, its approval, its expiry.
func TestClockGoingBackwardsNeverDatesAChangeBeforeTheAuthorizationsTimes(t *testing.T) {
	t.Parallel()
	// notBefore checks that every entry and event of id is dated at or
	// after at.
	notBefore := func(t *testing.T, f *fixture, id string, at time.Time) {
		t.Helper()
		log, err := f.svc.Log(f.ctx, "m1", id)
		require.NoError(t, err)
		for _, e := range log {
			assert.False(t, e.At.Before(at), "entry %d (%s) at %s, before %s", e.Seq, e.Kind, e.At, at)
		}
		evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
		require.NoError(t, err)
		for _, e := range evs {
			if e.AuthorizationID == id {
				assert.False(t, e.At.Before(at), "event %d (%s) at %s, before %s", e.Seq, e.Type, e.At, at)
			}
		}
	}
	t.Run("before approval", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10.00"),
			CaptureMode: authcapture.CaptureManual, IdempotencyKey: f.key()})
		require.NoError(t, err)
		id := r.Authorization.ID
		f.clock.Set(t0.Add(-time.Hour))
		r, err = f.svc.MarkPending(f.ctx, authcapture.MarkPendingRequest{MerchantID: "m1", ID: id, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, t0, r.Entry.At, "dated at creation")
		r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10.00"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, t0, r.Authorization.AuthorizedAt)
		assert.Equal(t, t0.Add(7*24*time.Hour), r.Authorization.ExpiresAt, "validity counts from the clamped time")
		notBefore(t, f, id, t0)
	})
	t.Run("after approval", func(t *testing.T) {
		f := setup(t)
		f.clock.Set(t0.Add(time.Hour))
		a := f.hold("default", "10.00")
		f.clock.Set(t0)
		r, err := f.capture(a.ID, "4.00", nil)
		require.NoError(t, err)
		assert.Equal(t, a.AuthorizedAt, r.Entry.At)
		r, err = f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: "void"})
		require.NoError(t, err)
		assert.Equal(t, a.AuthorizedAt, r.Authorization.ClosedAt)
		rec, err := f.store.Idempotency(f.ctx, "m1", "void")
		require.NoError(t, err)
		assert.Equal(t, a.AuthorizedAt, rec.CreatedAt)
		notBefore(t, f, a.ID, a.AuthorizedAt)
	})
	t.Run("after expiry", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		b, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt.Add(time.Hour))
		require.Equal(t, authcapture.StatusPartiallyCaptured, f.get(a.ID).Status(), "expired, the capture still pending")
		f.clock.Set(a.ExpiresAt.Add(-time.Hour))
		r, err := f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID,
			CaptureID: b.Entry.CaptureID, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, a.ExpiresAt, r.Entry.At, "dated at the expiry")
		assert.Equal(t, a.ExpiresAt, r.Authorization.ClosedAt)
		notBefore(t, f, a.ID, a.AuthorizedAt)
	})
}
