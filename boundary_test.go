package authcapture_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// The provider boundary's rules (docs/design.md, section 11), each on its
// own: what the provider did can always be recorded, temporary conflicts
// are 409s, released money stays released.

// pendingAmounts renders "open/pending/pendingVoid/captured/voided/expired status".
func pendingAmounts(a *authcapture.Authorization) string {
	c := a.Currency
	return c.Format(a.Open()) + "/" + c.Format(a.Pending) + "/" + c.Format(a.PendingVoid) + "/" +
		c.Format(a.Captured) + "/" + c.Format(a.Voided) + "/" + c.Format(a.Expired) + " " + string(a.Status())
}

func (f *fixture) beginVoid(id string, all bool, amount string) *authcapture.Result {
	f.t.Helper()
	req := authcapture.VoidRequest{MerchantID: "m1", ID: id, All: all, IdempotencyKey: f.key()}
	if !all {
		req.Amount = amt(amount)
	}
	r, err := f.svc.BeginVoid(f.ctx, req)
	require.NoError(f.t, err)
	return r
}

func (f *fixture) confirmVoid(id, voidID string, released *decimal.Decimal) (*authcapture.Result, error) {
	return f.svc.ConfirmVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: voidID,
		Released: released, IdempotencyKey: f.key()})
}

func dec(s string) *decimal.Decimal { d := amt(s); return &d }

func TestTwoPhaseVoid(t *testing.T) {
	t.Parallel()
	t.Run("begin reserves what the provider will be asked to release", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, false, "40.00")
		assert.Equal(t, "60.00/0.00/40.00/0.00/0.00/0.00 authorized", pendingAmounts(f.get(a.ID)))
		assert.NotEmpty(t, r.Entry.VoidID)
		assert.Equal(t, authcapture.ActionPending, r.Entry.VoidState)
		_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("60.01"), IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrActionInFlight, "nothing may begin against the reservation")
	})
	t.Run("confirm releases what the provider reports; the rest returns to open", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, true, "")
		got, err := f.confirmVoid(a.ID, r.Entry.VoidID, dec("70.00"))
		require.NoError(t, err)
		assert.Equal(t, "30.00/0.00/0.00/0.00/70.00/0.00 authorized", pendingAmounts(got.Authorization))
		assert.Equal(t, authcapture.CloseVoided, got.Authorization.ReleasedBy, "a void of everything lets go of the hold")
		f.get(a.ID) // invariants
	})
	t.Run("confirm without an amount releases all it reserves and closes", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, true, "")
		got, err := f.confirmVoid(a.ID, r.Entry.VoidID, nil)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(got.Authorization))
	})
	t.Run("confirm may not release more than the void still reserves", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, false, "40.00")
		_, err := f.confirmVoid(a.ID, r.Entry.VoidID, dec("40.01"))
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		assert.Equal(t, "60.00/0.00/40.00/0.00/0.00/0.00 authorized", pendingAmounts(f.get(a.ID)), "a rejection changes nothing")
	})
	t.Run("fail returns the reservation to open", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, true, "")
		got, err := f.svc.FailVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: a.ID, VoidID: r.Entry.VoidID,
			Reason: "processor_unavailable", IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "100.00/0.00/0.00/0.00/0.00/0.00 authorized", pendingAmounts(got.Authorization))
		assert.Empty(t, got.Authorization.ReleasedBy, "a refused void lets go of nothing")
	})
	t.Run("a pending void survives expiry and settles after it", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		r := f.beginVoid(a.ID, false, "40.00")
		f.clock.Set(a.ExpiresAt)
		assert.Equal(t, "0.00/0.00/40.00/0.00/0.00/60.00 authorized", pendingAmounts(f.get(a.ID)))
		got, err := f.svc.FailVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: a.ID, VoidID: r.Entry.VoidID, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/0.00/0.00/100.00 expired", pendingAmounts(got.Authorization), "a refused void after the hold lapsed expires")
	})
}

func TestWhatTheProviderAcceptedCanBeRecorded(t *testing.T) {
	t.Parallel()
	t.Run("a direct capture draws from a void in flight, which then releases less", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		v := f.beginVoid(a.ID, true, "")
		_, err := f.capture(a.ID, "30.00", nil)
		require.NoError(t, err, "the provider captured before it voided")
		assert.Equal(t, "0.00/0.00/70.00/30.00/0.00/0.00 partially_captured", pendingAmounts(f.get(a.ID)))
		got, err := f.confirmVoid(a.ID, v.Entry.VoidID, nil)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/30.00/70.00/0.00 captured", pendingAmounts(got.Authorization))
	})
	t.Run("a direct capture recorded after the void settled takes what the void did not release", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		v := f.beginVoid(a.ID, true, "")
		_, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("70.00"))
		require.NoError(t, err)
		got, err := f.capture(a.ID, "30.00", nil)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/30.00/70.00/0.00 captured", pendingAmounts(got.Authorization))
	})
	t.Run("a direct void draws from a void in flight", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		v := f.beginVoid(a.ID, true, "")
		_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, Amount: amt("100.00"), IdempotencyKey: f.key()})
		require.NoError(t, err, "the host's own cancel reached the provider first")
		got, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("0"))
		require.NoError(t, err, "the scheduled void found nothing left to release")
		assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(got.Authorization))
	})
}

func TestTemporaryConflictsAre409(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		run  func(f *fixture, id string) error
	}{
		{"a void while a final capture holds everything", func(f *fixture, id string) error {
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, All: true, Final: authcapture.Bool(true), IdempotencyKey: f.key()})
			require.NoError(f.t, err)
			_, err = f.voidAll(id)
			return err
		}},
		{"a capture of more than open while a capture is pending", func(f *fixture, id string) error {
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("60.00"), IdempotencyKey: f.key()})
			require.NoError(f.t, err)
			_, err = f.capture(id, "50.00", nil)
			return err
		}},
		{"a begin while a void holds everything", func(f *fixture, id string) error {
			f.beginVoid(id, true, "")
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1.00"), IdempotencyKey: f.key()})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			a := f.hold("default", "100.00")
			err := tt.run(f, a.ID)
			require.ErrorIs(t, err, authcapture.ErrActionInFlight)
			assert.Equal(t, 409, authcapture.HTTPStatus(err))
		})
	}
	t.Run("more than the whole hold is never possible: 422", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		f.beginVoid(a.ID, true, "")
		_, err := f.capture(a.ID, "100.01", nil)
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		assert.Equal(t, 422, authcapture.HTTPStatus(err))
	})
}

func TestReleasedStaysReleased(t *testing.T) {
	t.Parallel()
	t.Run("a capture that fails after a void of everything is released, not reopened", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		b, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.voidAll(a.ID)
		require.NoError(t, err)
		got, err := f.failCapture(a.ID, b.Entry.CaptureID, "")
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(got.Authorization))
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		assert.Equal(t, authcapture.ReasonHoldReleased, log[len(log)-1].Reason)
	})
	t.Run("a capture that fails after a final capture is released", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		b, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.capture(a.ID, "50.00", authcapture.Bool(true))
		require.NoError(t, err)
		got, err := f.failCapture(a.ID, b.Entry.CaptureID, "")
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/50.00/50.00/0.00 captured", pendingAmounts(got.Authorization))
		assert.Equal(t, authcapture.CloseFinalCapture, got.Authorization.CloseReason)
	})
	t.Run("nothing may begin once the hold is released; what the provider did may still be recorded", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		v := f.beginVoid(a.ID, true, "")
		_, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("70.00"))
		require.NoError(t, err)
		_, err = f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10.00"), IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidStatus)
		_, err = f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: f.key()})
		require.ErrorIs(t, err, authcapture.ErrInvalidStatus)
		_, err = f.capture(a.ID, "30.00", nil)
		require.NoError(t, err)
	})
	t.Run("a partial void on a policy with partial voids keeps the hold", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		got, err := f.void(a.ID, "40.00")
		require.NoError(t, err)
		assert.Empty(t, got.Authorization.ReleasedBy)
	})
}

func TestProviderKeysAreUnambiguous(t *testing.T) {
	t.Parallel()
	// Joined with ":", these two triples gave the same key.
	a := authcapture.ProviderKey("acme:eu", "42", "sched_2")
	b := authcapture.ProviderKey("acme", "eu:42", "sched_2")
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, authcapture.ProviderKey("ab", "c", "d"), authcapture.ProviderKey("a", "bc", "d"))
	assert.Equal(t, a, authcapture.ProviderKey("acme:eu", "42", "sched_2"), "stable")
	assert.Len(t, a, 44)
	assert.Regexp(t, `^ac1-[0-9a-f]{40}$`, a)

	t.Run("colliding IDs, each with a delayed capture, give the provider two keys", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		var ids [2]string
		for i, m := range []struct{ merchant, id string }{{"acme:eu", "42"}, {"acme", "eu:42"}} {
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: m.merchant, ID: m.id, Currency: "USD",
				Amount: amt("100.00"), CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour, IdempotencyKey: "c"})
			require.NoError(t, err)
			_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: m.merchant, ID: m.id, Amount: amt("100.00"), IdempotencyKey: "a"})
			require.NoError(t, err)
			ids[i] = r.Authorization.ID
		}
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 2, res.Captured, "%+v", res)
		assert.Len(t, exec.captures, 2, "two distinct keys reached the provider")
	})
}

// panicking panics in every call.
type panicking struct{}

func (panicking) Capture(context.Context, authcapture.CaptureTask) error { panic("provider SDK bug") }
func (panicking) Void(context.Context, authcapture.VoidTask) (int64, error) {
	panic("provider SDK bug")
}

func TestSchedulerNeverHalfDoesWork(t *testing.T) {
	t.Parallel()
	t.Run("an unknown policy is deferred, not dropped, and nothing is called", func(t *testing.T) {
		f := setup(t)
		newer, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{{
			Name: "default-v2", MultipleCaptures: true, PartialCapture: true, PartialVoid: true, Validity: 7 * 24 * time.Hour}}})
		require.NoError(t, err)
		r, err := newer.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("100.00"),
			Policy: "default-v2", CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour,
			CancelMode: authcapture.CancelDelayed, CancelDelay: 2 * time.Hour, IdempotencyKey: "c"})
		require.NoError(t, err)
		_, err = newer.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("100.00"), IdempotencyKey: "a"})
		require.NoError(t, err)
		exec := newExecutor()
		older := f.scheduler(exec) // f.svc does not know default-v2
		f.clock.Advance(time.Hour)
		res := f.sweep(older)
		assert.Equal(t, 1, res.Deferred, "%+v", res)
		require.Len(t, res.Errors, 1)
		assert.ErrorIs(t, res.Errors[0], authcapture.ErrUnknownPolicy)
		c, v := exec.calls()
		assert.Equal(t, 0, c+v, "nothing was called at the provider")
		a, err := newer.Get(f.ctx, "m1", r.Authorization.ID)
		require.NoError(t, err)
		assert.False(t, a.CaptureAt.IsZero(), "the delayed capture is still scheduled")
		assert.False(t, a.CancelAt.IsZero(), "the delayed cancel is still scheduled")

		f.clock.Advance(time.Minute) // the lease
		current, err := authcapture.NewScheduler(newer, exec, nil)
		require.NoError(t, err)
		res, err = current.RunDue(f.ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Captured, "a scheduler that knows the policy completes it: %+v", res)
	})
	t.Run("an executor that panics is an unknown outcome, and the batch goes on", func(t *testing.T) {
		f := setup(t)
		s := f.scheduler(panicking{})
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		b := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 2, res.Unknown, "%+v", res)
		for _, err := range res.Errors {
			assert.Contains(t, err.Error(), "panicked")
		}
		assert.Equal(t, int64(10000), f.get(a.ID).Pending, "the capture stays reserved for a re-drive")
		assert.Equal(t, int64(10000), f.get(b.ID).PendingVoid, "the cancel stays reserved for a re-drive")
	})
	t.Run("a scheduled cancel confirms with what the provider released", func(t *testing.T) {
		f := setup(t)
		exec := &releasing{released: 6000}
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Canceled, "%+v", res)
		assert.Equal(t, "40.00/0.00/0.00/0.00/60.00/0.00 authorized", pendingAmounts(f.get(a.ID)),
			"40.00 awaits the capture the provider took first")
		_, err := f.capture(a.ID, "40.00", nil)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/40.00/60.00/0.00 captured", pendingAmounts(f.get(a.ID)))
	})
}

// releasing is an executor whose provider releases a fixed amount.
type releasing struct{ released int64 }

func (releasing) Capture(context.Context, authcapture.CaptureTask) error {
	return errors.New("unexpected")
}
func (e *releasing) Void(context.Context, authcapture.VoidTask) (int64, error) {
	return e.released, nil
}

func TestAVoidOfEverythingReleasesWhatAFailedCaptureReturned(t *testing.T) {
	t.Parallel()
	// The provider released the whole hold, then declined the capture; the
	// capture's failure is recorded first.
	f := setup(t)
	a := f.hold("default", "100.00")
	c, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), IdempotencyKey: f.key()})
	require.NoError(t, err)
	v := f.beginVoid(a.ID, true, "")
	_, err = f.failCapture(a.ID, c.Entry.CaptureID, "")
	require.NoError(t, err)
	assert.Equal(t, "30.00/0.00/70.00/0.00/0.00/0.00 authorized", pendingAmounts(f.get(a.ID)))
	got, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("100.00"))
	require.NoError(t, err)
	assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(got.Authorization))
	f.get(a.ID) // invariants
	_, err = f.confirmVoid(a.ID, "void_x", dec("1"))
	require.Error(t, err)

	b := f.hold("default", "100.00")
	w := f.beginVoid(b.ID, false, "70.00")
	_, err = f.confirmVoid(b.ID, w.Entry.VoidID, dec("70.01"))
	require.ErrorIs(t, err, authcapture.ErrExceedsCapturable, "a partial void releases at most what it reserved")
}

func TestAScheduledVoidInFlightKeepsItsLease(t *testing.T) {
	t.Parallel()
	f := setup(t)
	exec := newExecutor()
	exec.outcome = func(string, int) error { return errors.New("timeout") } // unknown outcome
	s := f.scheduler(exec)
	a := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
	f.clock.Advance(time.Hour)
	res := f.sweep(s)
	assert.Equal(t, 1, res.Unknown)
	got := f.get(a.ID)
	require.Len(t, got.PendingVoids, 1)
	_, err := f.void(a.ID, "10.00") // the host's own partial void reached the provider first
	require.NoError(t, err)
	assert.False(t, f.get(a.ID).CancelAt.IsZero(), "the lease stays, so the scheduler re-drives the void")
	exec.outcome = nil
	f.clock.Advance(time.Minute)
	res = f.sweep(s)
	assert.Equal(t, 1, res.Canceled, "%+v", res)
	c, v := exec.calls()
	assert.Equal(t, 0, c)
	assert.Equal(t, 2, v)
	assert.Len(t, exec.voids, 1, "the re-drive used the same provider key")
	assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(f.get(a.ID)))
}

func TestBoundaryEdges(t *testing.T) {
	t.Parallel()
	t.Run("a cancel while a partial void is in flight releases what is open", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		f.beginVoid(a.ID, false, "40.00")
		r, err := f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: a.ID, IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/40.00/0.00/60.00/0.00 authorized", pendingAmounts(r.Authorization))
	})
	t.Run("what a void confirmed after expiry did not release expires", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		v := f.beginVoid(a.ID, true, "")
		f.clock.Advance(8 * 24 * time.Hour)
		f.get(a.ID)
		r, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("40.00"))
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/0.00/0.00/40.00/60.00 voided", pendingAmounts(r.Authorization))
		assert.True(t, r.Authorization.Closed(), "nothing is left open that nothing could ever close")
	})
	t.Run("a void of everything on a policy without partial voids takes what is open while a void is in flight", func(t *testing.T) {
		f := setup(t)
		a := f.hold("stripe", "100.00")
		b, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"),
			Final: authcapture.Bool(false), IdempotencyKey: f.key()})
		require.NoError(t, err)
		f.beginVoid(a.ID, true, "")
		_, err = f.failCapture(a.ID, b.Entry.CaptureID, "")
		require.NoError(t, err)
		r, err := f.voidAll(a.ID)
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/70.00/0.00/30.00/0.00 authorized", pendingAmounts(r.Authorization))
	})
}

func TestAVoidOfEverythingMayReportWhatCapturesInFlightHold(t *testing.T) {
	t.Parallel()
	// The provider let go of the whole hold before the capture reached it;
	// the void's confirm comes first.
	f := setup(t)
	a := f.hold("default", "100.00")
	c, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), IdempotencyKey: f.key()})
	require.NoError(t, err)
	v := f.beginVoid(a.ID, true, "")
	r, err := f.confirmVoid(a.ID, v.Entry.VoidID, dec("100.00"))
	require.NoError(t, err)
	assert.Equal(t, "0.00/30.00/0.00/0.00/70.00/0.00 partially_captured", pendingAmounts(r.Authorization))
	got, err := f.failCapture(a.ID, c.Entry.CaptureID, "")
	require.NoError(t, err)
	assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(got.Authorization))
	_, err = f.confirmVoid(a.ID, v.Entry.VoidID, dec("100.01"))
	require.Error(t, err)
}
