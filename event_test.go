package authcapture_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Events say what happened: a final capture's released remainder has its
// own type (never authorization.voided), and every event carries the
// capture ID, the caller's reference, the reason and, on the change that
// closed the authorization, the close reason.
func TestEventsSayWhatHappened(t *testing.T) {
	t.Parallel()
	// since returns the events of m1 written after the first n.
	since := func(f *fixture, n int) []authcapture.Event {
		t.Helper()
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		return evs[n:]
	}
	type want struct {
		typ       authcapture.EventType
		captureID string
		reference string
		reason    authcapture.Reason
		closed    authcapture.CloseReason
	}
	check := func(t *testing.T, evs []authcapture.Event, ws ...want) {
		t.Helper()
		require.Len(t, evs, len(ws))
		for i, w := range ws {
			e := evs[i]
			assert.Equal(t, w, want{e.Type, e.CaptureID, e.Reference, e.Reason, e.CloseReason}, "event %d", i)
		}
	}
	t.Run("a final capture releases the remainder, not a void", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"),
			Final: authcapture.Bool(true), Reference: "shipment-1", IdempotencyKey: f.key()})
		require.NoError(t, err)
		evs := since(f, 2)
		check(t, evs,
			want{authcapture.EventCaptureSucceeded, r.Entry.CaptureID, "shipment-1", "", authcapture.CloseFinalCapture},
			want{authcapture.EventRemainderReleased, "", "", authcapture.ReasonFinalCapture, authcapture.CloseFinalCapture})
		assert.Equal(t, int64(600), evs[1].Amount)
		assert.Equal(t, authcapture.StatusCaptured, evs[1].Status)
	})
	t.Run("a confirmed final capture releases the remainder too", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"),
			Final: authcapture.Bool(true), Reference: "shipment-1", IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID,
			CaptureID: r.Entry.CaptureID, Reference: "psp-77", IdempotencyKey: f.key()})
		require.NoError(t, err)
		check(t, since(f, 2),
			want{authcapture.EventCapturePending, r.Entry.CaptureID, "shipment-1", "", ""},
			want{authcapture.EventCaptureSucceeded, r.Entry.CaptureID, "psp-77", "", authcapture.CloseFinalCapture},
			want{authcapture.EventRemainderReleased, "", "", authcapture.ReasonFinalCapture, authcapture.CloseFinalCapture})
	})
	t.Run("a failed capture carries the provider's code", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"),
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID,
			CaptureID: r.Entry.CaptureID, Reason: "processor_declined", IdempotencyKey: f.key()})
		require.NoError(t, err)
		check(t, since(f, 3),
			want{authcapture.EventCaptureFailed, r.Entry.CaptureID, "", "processor_declined", ""},
			want{authcapture.EventAmountCapturableUpdated, r.Entry.CaptureID, "", "processor_declined", ""})
	})
	t.Run("voids keep their type, with the caller's reason", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, Amount: amt("3.00"),
			Reason: authcapture.ReasonRequestedByCustomer, Reference: "ticket-9", IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true,
			Reason: authcapture.ReasonFraudulent, IdempotencyKey: f.key()})
		require.NoError(t, err)
		check(t, since(f, 2),
			want{authcapture.EventPartiallyVoided, "", "ticket-9", authcapture.ReasonRequestedByCustomer, ""},
			want{authcapture.EventVoided, "", "", authcapture.ReasonFraudulent, authcapture.CloseVoided})
	})
	t.Run("the lifecycle events", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10.00"),
			Reference: "order-1", IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: r.Authorization.ID,
			Reason: "insufficient_funds", Reference: "psp-1", IdempotencyKey: f.key()})
		require.NoError(t, err)
		check(t, since(f, 0),
			want{authcapture.EventCreated, "", "order-1", "", ""},
			want{authcapture.EventDeclined, "", "psp-1", "insufficient_funds", authcapture.CloseDeclined})
	})
	t.Run("expiry closes with its reason", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt)
		f.get(a.ID)
		check(t, since(f, 2), want{authcapture.EventExpired, "", "", authcapture.ReasonExpired, authcapture.CloseExpired})
	})
}

// A two-phase void's events name the void, as capture, refund and amount
// change events name theirs: a consumer told that a void failed or
// succeeded can tell which one without reading the log.
func TestVoidEventsNameTheVoid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		settle func(f *fixture, id, voidID string) error
		want   []authcapture.EventType
	}{
		{"confirmed", func(f *fixture, id, voidID string) error {
			_, err := f.svc.ConfirmVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: voidID, IdempotencyKey: f.key()})
			return err
		}, []authcapture.EventType{authcapture.EventVoidPending, authcapture.EventPartiallyVoided}},
		{"failed", func(f *fixture, id, voidID string) error {
			_, err := f.svc.FailVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: voidID, Reason: "processor_declined",
				IdempotencyKey: f.key()})
			return err
		}, []authcapture.EventType{authcapture.EventVoidPending, authcapture.EventVoidFailed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			a := f.hold("racing", "10.00")
			r, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4"), IdempotencyKey: f.key()})
			require.NoError(t, err)
			voidID := r.Entry.VoidID
			require.NotEmpty(t, voidID)
			require.NoError(t, tc.settle(f, a.ID, voidID))
			evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
			require.NoError(t, err)
			var named []authcapture.EventType
			for _, e := range evs {
				if e.VoidID != "" {
					assert.Equal(t, voidID, e.VoidID, "%s", e.Type)
					named = append(named, e.Type)
				}
			}
			assert.Subset(t, named, tc.want, "the void's events carry its ID")
		})
	}
}
