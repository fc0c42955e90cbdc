package authcapture_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	create := func(f *fixture, amount string) string {
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt(amount), IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusRequiresAuthorization, r.Authorization.Status())
		return r.Authorization.ID
	}
	t.Run("partial approval holds less than requested", func(t *testing.T) {
		f := setup(t)
		id := create(f, "100.00")
		r, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("60"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		a := r.Authorization
		assert.Equal(t, int64(10000), a.Requested)
		assert.Equal(t, "60.00/0.00/0.00/0.00/0.00 authorized", amounts(a))
	})
	t.Run("approval above the requested amount is rejected", func(t *testing.T) {
		f := setup(t)
		id := create(f, "100.00")
		_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("100.01"), IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrExceedsRequested)
		assert.Equal(t, int64(1), f.get(id).Version)
	})
	t.Run("expiry comes from the policy's validity", func(t *testing.T) {
		f := setup(t)
		a := f.hold("paymongo", "10.00")
		assert.Equal(t, t0.Add(7*24*time.Hour), a.ExpiresAt)
		assert.Equal(t, "policy paymongo validity 168h0m0s", a.ExpiryRule)
		assert.Equal(t, a.ExpiresAt, a.NextDue)
	})
	t.Run("an explicit expiry is kept in UTC", func(t *testing.T) {
		f := setup(t)
		id := create(f, "10.00")
		at := t0.Add(36 * time.Hour).In(time.FixedZone("X", 3600))
		r, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), ExpiresAt: at, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.True(t, r.Authorization.ExpiresAt.Equal(at))
		assert.Equal(t, time.UTC, r.Authorization.ExpiresAt.Location())
		assert.Equal(t, "explicit", r.Authorization.ExpiryRule)
	})
	t.Run("an approval of a hold already past its expiry is recorded and expires in the same write", func(t *testing.T) {
		f := setup(t)
		id := create(f, "10.00")
		r, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"),
			ExpiresAt: t0.Add(-time.Minute), IdempotencyKey: f.key()})
		require.NoError(t, err)
		a := r.Authorization
		assert.Equal(t, "0.00/0.00/0.00/0.00/10.00 expired", amounts(a))
		assert.Equal(t, int64(1000), a.Authorized, "the approval is on the books")
		assert.True(t, a.ExpiredAt.Equal(t0.Add(-time.Minute)), "the hold lapsed when the provider said")
		assert.Equal(t, authcapture.EntryAuthorized, r.Entry.Kind)
		_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: create(f, "10.00"), Amount: amt("10"),
			ExpiresAt: t0.Add(91 * 24 * time.Hour), IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument, "more than 90 days is still refused")
	})
	t.Run("pending then authorized", func(t *testing.T) {
		f := setup(t)
		id := create(f, "10.00")
		r, err := f.svc.MarkPending(f.ctx, authcapture.MarkPendingRequest{MerchantID: "m1", ID: id, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusPending, r.Authorization.Status())
		_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: f.key()})
		require.NoError(t, err)
	})
	t.Run("decline is terminal", func(t *testing.T) {
		f := setup(t)
		id := create(f, "10.00")
		r, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, Reason: "insufficient_funds", IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusDeclined, r.Authorization.Status())
		_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidStatus)
		var e *authcapture.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, authcapture.StatusDeclined, e.Status)
		assert.Equal(t, "authorize", e.Op)
	})
	t.Run("cancel before approval ends it, once (after approval: TestCancelAfterApprovalVoidsEverythingOpen)", func(t *testing.T) {
		f := setup(t)
		id := create(f, "10.00")
		r, err := f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: id, Reason: authcapture.ReasonAbandoned, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusCanceled, r.Authorization.Status())
		_, err = f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: id, IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidStatus)
	})
}

func TestCapture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  string
		steps   func(f *fixture, id string) error
		want    string // open/pending/captured/voided/expired status
		wantErr error
		reason  authcapture.CloseReason
	}{
		{name: "a final capture releases the remainder in the same write", policy: "default",
			steps: func(f *fixture, id string) error { _, err := f.capture(id, "4.50", authcapture.Bool(true)); return err },
			want:  "0.00/0.00/4.50/5.50/0.00 captured", reason: authcapture.CloseFinalCapture},
		{name: "a non-final capture keeps the remainder open", policy: "default",
			steps: func(f *fixture, id string) error {
				_, err := f.capture(id, "4.50", authcapture.Bool(false))
				return err
			},
			want: "5.50/0.00/4.50/0.00/0.00 partially_captured"},
		{name: "the policy supplies the final default", policy: "stripe",
			steps: func(f *fixture, id string) error { _, err := f.capture(id, "4.50", nil); return err },
			want:  "0.00/0.00/4.50/5.50/0.00 captured", reason: authcapture.CloseFinalCapture},
		{name: "the call overrides the policy's final default", policy: "stripe",
			steps: func(f *fixture, id string) error {
				_, err := f.capture(id, "4.50", authcapture.Bool(false))
				return err
			},
			want: "5.50/0.00/4.50/0.00/0.00 partially_captured"},
		{name: "capturing everything closes as fully captured", policy: "default",
			steps: func(f *fixture, id string) error {
				_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: f.key()})
				return err
			},
			want: "0.00/0.00/10.00/0.00/0.00 captured", reason: authcapture.CloseFullyCaptured},
		{name: "several partial captures add up", policy: "default",
			steps: func(f *fixture, id string) error {
				for _, a := range []string{"1.00", "2.00", "3.00"} {
					if _, err := f.capture(id, a, nil); err != nil {
						return err
					}
				}
				return nil
			},
			want: "4.00/0.00/6.00/0.00/0.00 partially_captured"},
		{name: "a capture above the open amount is rejected", policy: "default",
			steps: func(f *fixture, id string) error { _, err := f.capture(id, "10.01", nil); return err },
			want:  "10.00/0.00/0.00/0.00/0.00 authorized", wantErr: authcapture.ErrExceedsCapturable},
		{name: "a capture after the remainder was released is rejected", policy: "default",
			steps: func(f *fixture, id string) error {
				if _, err := f.capture(id, "1.00", authcapture.Bool(true)); err != nil {
					return err
				}
				_, err := f.capture(id, "1.00", nil)
				return err
			},
			want: "0.00/0.00/1.00/9.00/0.00 captured", wantErr: authcapture.ErrInvalidStatus, reason: authcapture.CloseFinalCapture},
		{name: "a capture in another currency is rejected", policy: "default",
			steps: func(f *fixture, id string) error {
				_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Currency: "EUR", IdempotencyKey: f.key()})
				return err
			},
			want: "10.00/0.00/0.00/0.00/0.00 authorized", wantErr: authcapture.ErrCurrencyMismatch},
		{name: "a capture too precise for the currency is rejected, not rounded", policy: "default",
			steps: func(f *fixture, id string) error { _, err := f.capture(id, "1.001", nil); return err },
			want:  "10.00/0.00/0.00/0.00/0.00 authorized", wantErr: authcapture.ErrAmountPrecision},
		{name: "the maximum number of captures is enforced", policy: "stripe",
			steps: func(f *fixture, id string) error {
				for i := 0; i < 50; i++ {
					if _, err := f.capture(id, "0.01", authcapture.Bool(false)); err != nil {
						return err
					}
				}
				_, err := f.capture(id, "0.01", authcapture.Bool(false))
				return err
			},
			want: "9.50/0.00/0.50/0.00/0.00 partially_captured", wantErr: authcapture.ErrTooManyCaptures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			a := f.hold(tt.policy, "10.00")
			err := tt.steps(f, a.ID)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var e *authcapture.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, a.ID, e.AuthorizationID)
			} else {
				require.NoError(t, err)
			}
			got := f.get(a.ID)
			assert.Equal(t, tt.want, amounts(got))
			assert.Equal(t, tt.reason, got.CloseReason)
		})
	}
}

func TestTwoPhaseCapture(t *testing.T) {
	t.Parallel()
	begin := func(f *fixture, id, amount string, final *bool) string {
		r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount), Final: final, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.CapturePending, r.Entry.CaptureState)
		return r.Entry.CaptureID
	}
	settle := func(f *fixture, id, capID string, ok bool) (*authcapture.Result, error) {
		req := authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: capID, IdempotencyKey: f.key()}
		if ok {
			return f.svc.ConfirmCapture(f.ctx, req)
		}
		req.Reason = "processor_declined"
		return f.svc.FailCapture(f.ctx, req)
	}
	t.Run("begin reserves the amount so no one can over-capture", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		begin(f, a.ID, "8.00", nil)
		assert.Equal(t, "2.00/8.00/0.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
		_, err := f.capture(a.ID, "2.01", nil)
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "a temporary conflict while 8.00 is in flight")
		assert.Equal(t, 409, authcapture.HTTPStatus(err))
		_, err = f.capture(a.ID, "10.01", nil)
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable, "more than the hold is never possible")
	})
	t.Run("confirm moves pending to captured", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "8.00", nil)
		r, err := settle(f, a.ID, c, true)
		require.NoError(t, err)
		assert.Equal(t, authcapture.CaptureSucceeded, r.Entry.CaptureState)
		assert.Equal(t, "2.00/0.00/8.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
	})
	t.Run("fail returns the amount to open", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "8.00", nil)
		_, err := settle(f, a.ID, c, false)
		require.NoError(t, err)
		assert.Equal(t, "10.00/0.00/0.00/0.00/0.00 authorized", amounts(f.get(a.ID)))
	})
	t.Run("fail after the hold expired releases the amount to expired", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "8.00", nil)
		f.clock.Set(a.ExpiresAt)
		assert.Equal(t, "0.00/8.00/0.00/0.00/2.00 partially_captured", amounts(f.get(a.ID)))
		_, err := settle(f, a.ID, c, false)
		require.NoError(t, err)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/0.00/0.00/10.00 expired", amounts(got))
		assert.Equal(t, authcapture.CloseExpired, got.CloseReason)
	})
	t.Run("confirm after the hold expired still captures", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "8.00", nil)
		f.clock.Set(a.ExpiresAt.Add(time.Hour))
		_, err := settle(f, a.ID, c, true)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/8.00/0.00/2.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("a pending final capture blocks other captures and releases on confirm", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "4.00", authcapture.Bool(true))
		_, err := f.capture(a.ID, "1.00", nil)
		require.ErrorIs(t, err, authcapture.ErrCapturePending)
		_, err = settle(f, a.ID, c, true)
		require.NoError(t, err)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/4.00/6.00/0.00 captured", amounts(got))
		assert.Equal(t, authcapture.CloseFinalCapture, got.CloseReason)
	})
	t.Run("a failed final capture leaves the authorization open", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "4.00", authcapture.Bool(true))
		_, err := settle(f, a.ID, c, false)
		require.NoError(t, err)
		assert.Equal(t, "10.00/0.00/0.00/0.00/0.00 authorized", amounts(f.get(a.ID)))
		_, err = f.capture(a.ID, "4.00", authcapture.Bool(true))
		require.NoError(t, err)
	})
	t.Run("settling twice is rejected", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		c := begin(f, a.ID, "4.00", nil)
		_, err := settle(f, a.ID, c, true)
		require.NoError(t, err)
		_, err = settle(f, a.ID, c, false)
		require.ErrorIs(t, err, authcapture.ErrCaptureSettled)
	})
}

func TestVoid(t *testing.T) {
	t.Parallel()
	t.Run("a partial void lowers open and keeps the rest capturable", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.void(a.ID, "3.00")
		require.NoError(t, err)
		assert.Equal(t, "7.00/0.00/0.00/3.00/0.00 authorized", amounts(f.get(a.ID)))
		_, err = f.capture(a.ID, "7.00", nil)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/7.00/3.00/0.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("voiding everything closes as voided", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.voidAll(a.ID)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/10.00/0.00 voided", amounts(r.Authorization))
		assert.Equal(t, authcapture.CloseVoided, r.Authorization.CloseReason)
	})
	t.Run("voiding the remainder after a partial capture closes as captured", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.capture(a.ID, "4.00", authcapture.Bool(false))
		require.NoError(t, err)
		r, err := f.voidAll(a.ID)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/4.00/6.00/0.00 captured", amounts(r.Authorization))
		assert.Equal(t, authcapture.CloseVoided, r.Authorization.CloseReason)
	})
	t.Run("a partial void where the policy forbids it is rejected", func(t *testing.T) {
		f := setup(t)
		a := f.hold("stripe", "10.00")
		_, err := f.void(a.ID, "3.00")
		require.ErrorIs(t, err, authcapture.ErrPartialVoidNotAllowed)
		_, err = f.void(a.ID, "10.00")
		require.NoError(t, err)
	})
	t.Run("a system reason from the caller is rejected", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, Reason: authcapture.ReasonExpired, IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
	})
	t.Run("caller reasons are kept on the entry", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		r, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, Reason: authcapture.ReasonFraudulent, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, authcapture.ReasonFraudulent, r.Entry.Reason)
		assert.False(t, r.Entry.Reason.IsSystem())
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	t.Run("a capture at exactly ExpiresAt is rejected", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt)
		_, err := f.capture(a.ID, "1.00", nil)
		require.ErrorIs(t, err, authcapture.ErrExpired)
	})
	t.Run("a capture one nanosecond before ExpiresAt is accepted", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt.Add(-time.Nanosecond))
		_, err := f.capture(a.ID, "1.00", nil)
		require.NoError(t, err)
	})
	t.Run("expiry releases only the open remainder; captures stay", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.capture(a.ID, "4.00", authcapture.Bool(false))
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/4.00/0.00/6.00 captured", amounts(got))
		assert.Equal(t, authcapture.CloseExpired, got.CloseReason)
	})
	t.Run("expiry is applied on read without any sweeper, once", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt.Add(time.Hour))
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/0.00/0.00/10.00 expired", amounts(got))
		assert.Equal(t, a.Version+1, got.Version)
		assert.True(t, got.ExpiredAt.Equal(a.ExpiresAt), "dated when the hold lapsed, not when it was noticed")
		assert.Equal(t, got.Version, f.get(a.ID).Version, "a second read writes nothing")
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		assert.Equal(t, authcapture.EventExpired, evs[len(evs)-1].Type)
	})
	t.Run("a late expiry is dated when the hold lapsed", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt.Add(36 * time.Hour)) // no read and no sweep for a day and a half
		got := f.get(a.ID)
		assert.True(t, got.ExpiredAt.Equal(a.ExpiresAt), "ExpiredAt %s", got.ExpiredAt)
		assert.True(t, got.ClosedAt.Equal(a.ExpiresAt), "ClosedAt %s", got.ClosedAt)
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		last := log[len(log)-1]
		assert.Equal(t, authcapture.EntryExpiry, last.Kind)
		assert.True(t, last.At.Equal(a.ExpiresAt), "entry at %s", last.At)
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		assert.True(t, evs[len(evs)-1].At.Equal(a.ExpiresAt), "event at %s", evs[len(evs)-1].At)
	})
	t.Run("a void after expiry is rejected with ErrExpired", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		f.clock.Set(a.ExpiresAt)
		_, err := f.voidAll(a.ID)
		require.ErrorIs(t, err, authcapture.ErrExpired)
		assert.Equal(t, 409, authcapture.HTTPStatus(err))
	})
}

func TestRejectedCommandChangesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("afterpay", "100.00")
	before := f.get(a.ID)
	evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
	require.NoError(t, err)
	_, err = f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("0.99"), IdempotencyKey: "retry-me"})
	require.ErrorIs(t, err, authcapture.ErrBelowMinimum)
	after := f.get(a.ID)
	assert.Equal(t, before, after)
	evs2, err := f.svc.Events(f.ctx, "m1", 0, 1000)
	require.NoError(t, err)
	assert.Equal(t, evs, evs2)
	// The key of a rejected command is not recorded: the same key with a
	// corrected request is a new command.
	r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("1.00"), IdempotencyKey: "retry-me"})
	require.NoError(t, err)
	assert.False(t, r.Replayed)
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	t.Run("the same key and command returns the original result once", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		req := authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: "ship-1"}
		r1, err := f.svc.Capture(f.ctx, req)
		require.NoError(t, err)
		r2, err := f.svc.Capture(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r2.Replayed)
		assert.Equal(t, r1.Entry, r2.Entry)
		assert.Equal(t, "6.00/0.00/4.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
	})
	t.Run("a replay after the authorization closed still returns the original", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		req := authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: "all"}
		r1, err := f.svc.Capture(f.ctx, req)
		require.NoError(t, err)
		r2, err := f.svc.Capture(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r2.Replayed)
		assert.Equal(t, r1.Entry, r2.Entry)
	})
	t.Run("the same key with other parameters is rejected", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: "ship-1"})
		require.NoError(t, err)
		_, err = f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("5.00"), IdempotencyKey: "ship-1"})
		require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
		_, err = f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: "ship-1"})
		require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
		assert.Equal(t, 409, authcapture.HTTPStatus(err))
	})
	t.Run("equal amounts written differently are the same command", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "10.00")
		_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4"), IdempotencyKey: "k"})
		require.NoError(t, err)
		r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: "k"})
		require.NoError(t, err)
		assert.True(t, r.Replayed)
	})
	t.Run("keys are scoped by merchant", func(t *testing.T) {
		f := setup(t)
		for _, m := range []string{"m1", "m2"} {
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: m, Currency: "USD", Amount: amt("1"), IdempotencyKey: "order-1"})
			require.NoError(t, err)
			assert.False(t, r.Replayed, m)
		}
	})
	t.Run("a create replay returns the generated ID", func(t *testing.T) {
		f := setup(t)
		req := authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), IdempotencyKey: "order-1"}
		r1, err := f.svc.Create(f.ctx, req)
		require.NoError(t, err)
		r2, err := f.svc.Create(f.ctx, req)
		require.NoError(t, err)
		assert.True(t, r2.Replayed)
		assert.Equal(t, r1.Authorization.ID, r2.Authorization.ID)
		assert.Equal(t, 1, f.store.Len())
	})
}

func TestMerchantIsolation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "10.00")
	_, err := f.svc.Get(f.ctx, "m2", a.ID)
	require.ErrorIs(t, err, authcapture.ErrNotFound)
	assert.Equal(t, 404, authcapture.HTTPStatus(err))
	_, err = f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m2", ID: a.ID, All: true, IdempotencyKey: "x"})
	require.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = f.svc.Log(f.ctx, "m2", a.ID)
	require.ErrorIs(t, err, authcapture.ErrNotFound)
	evs, err := f.svc.Events(f.ctx, "m2", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, evs)
	assert.Equal(t, "10.00/0.00/0.00/0.00/0.00 authorized", amounts(f.get(a.ID)))
}

func TestEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "10.00")
	_, err := f.capture(a.ID, "4.00", authcapture.Bool(false))
	require.NoError(t, err)
	_, err = f.voidAll(a.ID)
	require.NoError(t, err)
	evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
	require.NoError(t, err)
	var types []authcapture.EventType
	for i, e := range evs {
		types = append(types, e.Type)
		assert.Equal(t, int64(i+1), e.Seq)
		if i > 0 {
			assert.Greater(t, e.Position, evs[i-1].Position)
		}
	}
	assert.Equal(t, []authcapture.EventType{
		authcapture.EventCreated, authcapture.EventAuthorized,
		authcapture.EventCaptureSucceeded, authcapture.EventVoided,
	}, types)
	assert.Equal(t, int64(600), evs[2].Open, "the capture's event carries what is left")
	assert.Equal(t, authcapture.StatusPartiallyCaptured, evs[2].Status)
	assert.Equal(t, authcapture.StatusCaptured, evs[3].Status)
	// The cursor pages without gaps or repeats.
	page, err := f.svc.Events(f.ctx, "m1", evs[0].Position, 2)
	require.NoError(t, err)
	assert.Equal(t, evs[1:3], page)
}

// conflictStore fails the first n writes with a version conflict.
type conflictStore struct {
	authcapture.Store
	n atomic.Int64
}

func (s *conflictStore) Write(ctx context.Context, w *authcapture.Write) error {
	if s.n.Add(-1) >= 0 {
		return authcapture.ErrVersionConflict
	}
	return s.Store.Write(ctx, w)
}

func TestVersionConflictRetries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		conflicts int64
		retries   int
		wantErr   error
	}{
		{"conflicts within the bound are retried", 3, 3, nil},
		{"conflicts past the bound return ErrVersionConflict", 4, 3, authcapture.ErrVersionConflict},
		{"no retries when MaxRetries is negative", 1, -1, authcapture.ErrVersionConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			a := f.hold("default", "10.00")
			cs := &conflictStore{Store: f.store}
			cs.n.Store(tt.conflicts)
			svc, err := authcapture.New(cs, &authcapture.Options{Clock: f.clock, MaxRetries: tt.retries})
			require.NoError(t, err)
			_, err = svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("1"), IdempotencyKey: "c"})
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, int64(100), f.get(a.ID).Captured)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, int64(0), f.get(a.ID).Captured)
		})
	}
}

func TestServiceOptions(t *testing.T) {
	t.Parallel()
	_, err := authcapture.New(nil, nil)
	require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
	_, err = authcapture.New(memstore.New(), &authcapture.Options{DefaultPolicy: "nope"})
	require.ErrorIs(t, err, authcapture.ErrUnknownPolicy)
	_, err = authcapture.New(memstore.New(), &authcapture.Options{Policies: []authcapture.Policy{{Name: "bad", Validity: -1}}})
	require.ErrorIs(t, err, authcapture.ErrInvalidPolicy)
	_, err = authcapture.New(memstore.New(), &authcapture.Options{Policies: []authcapture.Policy{{Name: "x", Validity: time.Hour, MinCapture: map[authcapture.Currency]string{"USD": "0.001"}}}})
	require.ErrorIs(t, err, authcapture.ErrInvalidPolicy)
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Policies: []authcapture.Policy{{Name: "custom", Validity: time.Hour, PartialCapture: true, FinalByDefault: true}}})
	require.NoError(t, err)
	p, ok := svc.Policy("custom")
	require.True(t, ok)
	assert.Equal(t, time.Hour, p.Validity)
	_, err = svc.Create(context.Background(), authcapture.CreateRequest{MerchantID: "m", Currency: "USD", Amount: amt("1"), Policy: "unknown", IdempotencyKey: "k"})
	require.True(t, errors.Is(err, authcapture.ErrUnknownPolicy))
}

// hideCapabilities hides a store's optional capabilities (CheapReads), so
// the Service keeps its state cache.
type hideCapabilities struct{ authcapture.Store }

func TestStateCache(t *testing.T) {
	t.Parallel()
	t.Run("a command rejected on a stale cached state is evaluated again on a fresh read", func(t *testing.T) {
		f := setup(t)
		shared := hideCapabilities{f.store}
		a, err := authcapture.New(shared, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		b, err := authcapture.New(shared, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		h := f.hold("default", "10.00")
		r, err := a.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("8.00"), IdempotencyKey: "begin"})
		require.NoError(t, err) // a now remembers open 2.00
		_, err = b.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: h.ID, CaptureID: r.Entry.CaptureID, IdempotencyKey: "fail"})
		require.NoError(t, err) // open is 10.00 again
		_, err = a.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("5.00"), IdempotencyKey: "cap"})
		require.NoError(t, err)
		assert.Equal(t, "5.00/0.00/5.00/0.00/0.00 partially_captured", amounts(f.get(h.ID)))
	})
	t.Run("a command accepted on a stale cached state is caught by the version check", func(t *testing.T) {
		f := setup(t)
		shared := hideCapabilities{f.store}
		a, err := authcapture.New(shared, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		b, err := authcapture.New(shared, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		h := f.hold("default", "10.00")
		_, err = a.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("1.00"), IdempotencyKey: "a1"})
		require.NoError(t, err) // a remembers open 9.00
		_, err = b.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("8.00"), IdempotencyKey: "b1"})
		require.NoError(t, err) // open is 1.00
		_, err = a.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("5.00"), IdempotencyKey: "a2"})
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		assert.Equal(t, "1.00/0.00/9.00/0.00/0.00 partially_captured", amounts(f.get(h.ID)))
	})
	t.Run("expiry is applied to a cached state", func(t *testing.T) {
		f := setup(t)
		svc, err := authcapture.New(hideCapabilities{f.store}, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		h := f.hold("default", "10.00")
		_, err = svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("1.00"), IdempotencyKey: "c1"})
		require.NoError(t, err)
		f.clock.Set(h.ExpiresAt)
		_, err = svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: h.ID, Amount: amt("1.00"), IdempotencyKey: "c2"})
		require.ErrorIs(t, err, authcapture.ErrExpired)
	})
}
