package authcapture_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Settling a capture that is no longer pending, under a new key, is a state
// conflict (409) that carries the capture's state; a capture ID the
// authorization never had stays ErrNotFound (404).
func TestSettlingASettledCaptureIsAConflictWithItsState(t *testing.T) {
	t.Parallel()
	settle := func(f *fixture, id, capID string, confirm bool) (*authcapture.Result, error) {
		req := authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: capID, IdempotencyKey: f.key()}
		if confirm {
			return f.svc.ConfirmCapture(f.ctx, req)
		}
		return f.svc.FailCapture(f.ctx, req)
	}
	begin := func(f *fixture, id string) string {
		r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("4.00"),
			IdempotencyKey: f.key()})
		require.NoError(t, err)
		return r.Entry.CaptureID
	}
	// settled checks err is the conflict, with the capture's state and the
	// authorization's status, and that nothing was written.
	settled := func(t *testing.T, f *fixture, a *authcapture.Authorization, err error, state authcapture.CaptureState) {
		t.Helper()
		require.ErrorIs(t, err, authcapture.ErrCaptureSettled)
		assert.Equal(t, 409, authcapture.HTTPStatus(err))
		var e *authcapture.Error
		require.True(t, errors.As(err, &e))
		assert.Equal(t, state, e.CaptureState)
		assert.Equal(t, a.Status(), e.Status)
		assert.Equal(t, a.Version, f.get(a.ID).Version, "nothing written")
	}
	for _, first := range []bool{true, false} {
		for _, then := range []bool{true, false} {
			name := map[bool]string{true: "confirm", false: "fail"}
			t.Run(name[then]+" after "+name[first], func(t *testing.T) {
				f := setup(t)
				a := f.hold("default", "10.00")
				c := begin(f, a.ID)
				r, err := settle(f, a.ID, c, first)
				require.NoError(t, err)
				_, err = settle(f, a.ID, c, then)
				state := authcapture.CaptureFailed
				if first {
					state = authcapture.CaptureSucceeded
				}
				settled(t, f, r.Authorization, err, state)
			})
		}
	}
	t.Run("a direct capture is settled", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.capture(a.ID, "4.00", nil)
		require.NoError(t, err)
		_, err = settle(f, a.ID, r.Entry.CaptureID, true)
		settled(t, f, r.Authorization, err, authcapture.CaptureSucceeded)
	})
	t.Run("a scheduled capture is settled", func(t *testing.T) {
		f := setup(t)
		s := f.scheduler(newExecutor())
		a := f.scheduled("payrails", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
		f.clock.Set(a.CaptureAt)
		require.Equal(t, 1, f.sweep(s).Captured)
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		capID := log[len(log)-1].CaptureID
		require.Contains(t, capID, "sched_")
		got := f.get(a.ID)
		_, err = settle(f, a.ID, capID, false)
		settled(t, f, got, err, authcapture.CaptureSucceeded)
	})
	t.Run("the same key still replays", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID)
		req := authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: c, IdempotencyKey: "confirm"}
		r1, err := f.svc.ConfirmCapture(f.ctx, req)
		require.NoError(t, err)
		r2, err := f.svc.ConfirmCapture(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r2.Replayed)
		assert.Equal(t, r1.Entry, r2.Entry)
	})
	t.Run("a capture that never existed is not found", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID)
		_, err := settle(f, a.ID, c, true)
		require.NoError(t, err)
		for _, id := range []string{"cap_1", "cap_2", "cap_99", "cap_x", "sched_1", "other"} {
			_, err := settle(f, a.ID, id, true)
			require.ErrorIs(t, err, authcapture.ErrNotFound, id)
			assert.NotErrorIs(t, err, authcapture.ErrCaptureSettled, id)
			assert.Equal(t, 404, authcapture.HTTPStatus(err), id)
		}
	})
}
