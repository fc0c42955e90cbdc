package authcapture_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

const day = 24 * time.Hour

// The test policies the fixtures register beside the presets.
var (
	// paypalReauth is PayPal's reauthorization as its documentation
	// states it: an authorization stays valid for 29 days and may be
	// reauthorized once, from day 4 (after the 3-day honor period) to day
	// 29.
	paypalReauth = authcapture.Policy{Name: "paypal_reauth", PartialCapture: true, FinalByDefault: true,
		Validity: 29 * day, MaxReauthorizations: 1, ReauthorizeAfter: 4 * day, ReauthorizeBefore: 29 * day}
	// reauthClamping reauthorizes at any time, clamps schedules to a
	// two-day hold and warns 48 hours before expiry.
	reauthClamping = authcapture.Policy{Name: "reauth_clamping", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 2 * day, ScheduleMargin: time.Hour, ClampSchedules: true, MaxReauthorizations: 3}
	// reauthDropping is reauthClamping without the clamp: unfit schedules
	// are dropped.
	reauthDropping = authcapture.Policy{Name: "reauth_dropping", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * day, ScheduleMargin: time.Hour, MaxReauthorizations: 3}
	// noticing is the default policy with a 48-hour expiring-soon notice
	// and reauthorizations.
	noticing = authcapture.Policy{Name: "noticing", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * day, ExpiringSoon: 48 * time.Hour, MaxReauthorizations: 2}
	// racing warns half an hour after approval, before the delayed
	// actions of the two-schedulers race fall due.
	racing = authcapture.Policy{Name: "racing", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * day, ExpiringSoon: 7*day - 30*time.Minute}
	// stripeExtended is Stripe with extended authorization: the provider
	// gives a hold of up to 30 days at approval (an explicit ExpiresAt);
	// Stripe has no reauthorization.
	stripeExtended = authcapture.Policy{Name: "stripe_extended", MultipleCaptures: true, MaxCaptures: 50, PartialCapture: true,
		FinalByDefault: true, Validity: 7 * day}
)

// shortReauth reauthorizes holds that end 10 days after the original
// authorization, on a 29-day hold: from day 10 on, a reauthorized hold
// would already have lapsed.
var shortReauth = authcapture.Policy{Name: "short_reauth", PartialCapture: true, FinalByDefault: true,
	Validity: 29 * day, MaxReauthorizations: 1, ReauthorizationValidity: 10 * day}

// changeClamping is reauthClamping whose hold may also be raised, each
// approved change holding it 5 days from then.
var changeClamping = authcapture.Policy{Name: "change_clamping", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 2 * day, ScheduleMargin: time.Hour, ClampSchedules: true, IncrementalAuthorization: true,
	AmountChangeValidity: 5 * day}

var testPolicies = []authcapture.Policy{paypalReauth, reauthClamping, reauthDropping, noticing, racing, stripeExtended, shortReauth,
	changeClamping}

// reauthorize reauthorizes id at the clock's time; a zero expires takes
// the policy's validity.
func (f *fixture) reauthorize(id string, expires time.Time, providerRef string) (*authcapture.Result, error) {
	return f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, ExpiresAt: expires,
		ProviderRef: providerRef, IdempotencyKey: f.key()})
}

// state is what a rejected command must leave as it was.
type state struct {
	a       authcapture.Authorization
	entries int
	events  int
}

func (f *fixture) state(id string) state {
	f.t.Helper()
	a := f.get(id)
	log, err := f.svc.Log(f.ctx, "m1", id)
	require.NoError(f.t, err)
	evs, err := f.svc.Events(f.ctx, "m1", 0, 10_000)
	require.NoError(f.t, err)
	return state{a: *a, entries: len(log), events: len(evs)}
}

// The reauthorization rules, with PayPal's numbers: once, not before day 4,
// not after day 29; Stripe's extended authorization is a longer hold at
// approval, not a reauthorization.
func TestReauthorizationRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		policy  string
		expires time.Duration // explicit hold at approval; 0 for the policy's validity
		prepare func(f *fixture, id string)
		at      time.Duration // since approval
		want    error
	}{
		{name: "PayPal: 3 days 23 hours after the authorization is too early", policy: "paypal_reauth",
			at: 3*day + 23*time.Hour, want: authcapture.ErrReauthorizationWindow},
		{name: "PayPal: day 4 is allowed", policy: "paypal_reauth", at: 4 * day},
		{name: "PayPal: day 29 less a minute is allowed", policy: "paypal_reauth", at: 29*day - time.Minute},
		{name: "PayPal: after day 29 is too late", policy: "paypal_reauth", expires: 30 * day,
			at: 29*day + time.Nanosecond, want: authcapture.ErrReauthorizationNotAllowed},
		{name: "PayPal: day 29 itself, on a 29-day hold, has expired", policy: "paypal_reauth",
			at: 29 * day, want: authcapture.ErrExpired},
		{name: "PayPal: once only", policy: "paypal_reauth", at: 5 * day, want: authcapture.ErrReauthorizationNotAllowed,
			prepare: func(f *fixture, id string) {
				f.clock.Advance(4 * day)
				_, err := f.reauthorize(id, time.Time{}, "")
				require.NoError(f.t, err)
				f.clock.Advance(-4 * day)
			}},
		{name: "Stripe: no reauthorization", policy: "stripe", at: day, want: authcapture.ErrReauthorizationNotAllowed},
		{name: "Stripe extended authorization: no reauthorization either", policy: "stripe_extended", expires: 30 * day,
			at: 29 * day, want: authcapture.ErrReauthorizationNotAllowed},
		{name: "the default policy allows none", policy: "default", at: day, want: authcapture.ErrReauthorizationNotAllowed},
		{name: "a captured authorization is closed", policy: "noticing", at: day, want: authcapture.ErrInvalidStatus,
			prepare: func(f *fixture, id string) {
				_, err := f.capture(id, "100.00", authcapture.Bool(true))
				require.NoError(f.t, err)
			}},
		{name: "a voided authorization is closed", policy: "noticing", at: day, want: authcapture.ErrInvalidStatus,
			prepare: func(f *fixture, id string) {
				_, err := f.voidAll(id)
				require.NoError(f.t, err)
			}},
		{name: "an expired hold", policy: "noticing", at: 8 * day, want: authcapture.ErrExpired},
		{name: "an expired hold with a capture still pending", policy: "noticing", at: 8 * day, want: authcapture.ErrExpired,
			prepare: func(f *fixture, id string) {
				_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("10.00"), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			}},
		{name: "a hold the provider let go of by a final capture still pending", policy: "noticing", at: day,
			want: authcapture.ErrInvalidStatus, prepare: func(f *fixture, id string) {
				_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("10.00"),
					Final: authcapture.Bool(false), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
				_, err = f.capture(id, "20.00", authcapture.Bool(true)) // releases the rest; the first stays pending
				require.NoError(f.t, err)
			}},
		{name: "a void of the whole hold in flight", policy: "noticing", at: day, want: authcapture.ErrActionInFlight,
			prepare: func(f *fixture, id string) {
				_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			}},
		{name: "a void of part of the hold in flight does not stop it", policy: "noticing", at: day,
			prepare: func(f *fixture, id string) {
				_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt("1.00"), IdempotencyKey: f.key()})
				require.NoError(f.t, err)
			}},
		{name: "a partly captured hold", policy: "noticing", at: day, prepare: func(f *fixture, id string) {
			_, err := f.capture(id, "30.00", authcapture.Bool(false))
			require.NoError(f.t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("100.00"),
				Policy: tt.policy, CaptureMode: authcapture.CaptureManual, IdempotencyKey: f.key()})
			require.NoError(t, err)
			var expires time.Time
			if tt.expires != 0 {
				expires = t0.Add(tt.expires)
			}
			r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
				Amount: amt("100.00"), ExpiresAt: expires, IdempotencyKey: f.key()})
			require.NoError(t, err)
			id := r.Authorization.ID
			if tt.prepare != nil {
				tt.prepare(f, id)
			}
			f.clock.Set(t0.Add(tt.at))
			before := f.state(id)
			got, err := f.reauthorize(id, time.Time{}, "")
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				var e *authcapture.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, before, f.state(id), "a rejected reauthorization changes nothing")
				return
			}
			require.NoError(t, err)
			a := got.Authorization
			assert.Equal(t, before.a.Version+1, a.Version)
			assert.Equal(t, before.a.Reauthorizations+1, a.Reauthorizations)
			assert.Equal(t, f.clock.Now(), a.ReauthorizedAt)
			p, _ := f.svc.Policy(tt.policy)
			assert.Equal(t, f.clock.Now().Add(p.Validity), a.ExpiresAt, "the policy's validity from the reauthorization")
			assert.Equal(t, "reauthorization: policy "+tt.policy+" validity "+p.Validity.String(), a.ExpiryRule)
			assert.Equal(t, before.a.Amounts(), a.Amounts(), "the amounts stay as they are")
			assert.Equal(t, before.a.Status(), a.Status())
		})
	}
}

// A reauthorization records a log entry and an event with both expiries
// and the provider's new reference, which finds the authorization; it is
// idempotent by key.
func TestReauthorizeRecords(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("paypal_reauth", "100.00")
	f.clock.Advance(5 * day)
	newExpiry := f.clock.Now().Add(3 * day)
	req := authcapture.ReauthorizeRequest{MerchantID: "m1", ID: a.ID, ExpiresAt: newExpiry, ProviderRef: "PAYID-2", Reference: "extend-1",
		IdempotencyKey: "reauth-1"}
	r, err := f.svc.Reauthorize(f.ctx, req)
	require.NoError(t, err)
	assert.Equal(t, newExpiry, r.Authorization.ExpiresAt)
	assert.Equal(t, "reauthorization: explicit", r.Authorization.ExpiryRule)
	assert.Equal(t, authcapture.EntryReauthorized, r.Entry.Kind)
	assert.Equal(t, "PAYID-2", r.Entry.ProviderRef)
	assert.Equal(t, "extend-1", r.Entry.Reference)
	assert.Equal(t, int64(0), r.Entry.Amount)

	evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
	require.NoError(t, err)
	last := evs[len(evs)-1]
	assert.Equal(t, authcapture.EventReauthorized, last.Type)
	assert.Equal(t, newExpiry, last.ExpiresAt)
	assert.Equal(t, a.ExpiresAt, last.PreviousExpiresAt)
	assert.Equal(t, "PAYID-2", last.ProviderRef)
	assert.Equal(t, r.Entry.Seq, last.EntrySeq)
	assert.Equal(t, r.Authorization.Open(), last.Open)

	found, err := f.svc.FindByProviderRef(f.ctx, "m1", "PAYID-2")
	require.NoError(t, err)
	assert.Equal(t, a.ID, found.ID)

	again, err := f.svc.Reauthorize(f.ctx, req)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, r.Entry, again.Entry)
	assert.Equal(t, r.Authorization.Version, again.Authorization.Version)

	other := req
	other.ExpiresAt = newExpiry.Add(time.Hour)
	_, err = f.svc.Reauthorize(f.ctx, other)
	assert.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)

	// Another authorization cannot claim the same provider reference.
	b := f.hold("paypal_reauth", "10.00")
	f.clock.Advance(4 * day)
	before := f.state(b.ID)
	_, err = f.reauthorize(b.ID, time.Time{}, "PAYID-2")
	assert.ErrorIs(t, err, authcapture.ErrAlreadyExists)
	assert.Equal(t, before, f.state(b.ID))
}

// Bad input to Reauthorize is a typed error that changes nothing.
func TestReauthorizeBadExpiry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		expires time.Duration
	}{
		{"an expiry now", 0},
		{"an expiry in the past", -time.Nanosecond},
		{"an expiry more than 90 days ahead", 90*day + time.Nanosecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			a := f.hold("noticing", "10.00")
			f.clock.Advance(day)
			before := f.state(a.ID)
			_, err := f.reauthorize(a.ID, f.clock.Now().Add(tt.expires), "")
			require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
			assert.Equal(t, 422, authcapture.HTTPStatus(err))
			assert.Equal(t, before, f.state(a.ID))
		})
	}
}

// scheduleLog returns the reasons and references of a's schedule entries
// after entry seq.
func (f *fixture) scheduleLog(id string, after int64) []string {
	f.t.Helper()
	log, err := f.svc.Log(f.ctx, "m1", id)
	require.NoError(f.t, err)
	var out []string
	for _, e := range log[after:] {
		if e.Kind == authcapture.EntrySchedule {
			out = append(out, string(e.Reason)+" "+e.Reference)
		}
	}
	return out
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// The schedules are fitted to the new hold by the rules of approval.
func TestReauthorizeReschedules(t *testing.T) {
	t.Parallel()
	t.Run("a delayed capture clamped to the old hold takes its delay again", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_clamping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 3 * day})
		require.Equal(t, a.ExpiresAt.Add(-time.Hour), a.CaptureAt, "clamped at approval")
		f.clock.Advance(day)
		r, err := f.reauthorize(a.ID, f.clock.Now().Add(5*day), "")
		require.NoError(t, err)
		assert.Equal(t, t0.Add(3*day), r.Authorization.CaptureAt)
		assert.Equal(t, []string{"capture_scheduled " + rfc(t0.Add(3*day))}, f.scheduleLog(a.ID, a.Entries))
	})
	t.Run("a delayed cancel clamped to the old hold is clamped to the new one", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_clamping", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: 10 * day})
		require.Equal(t, a.ExpiresAt.Add(-time.Hour), a.CancelAt)
		f.clock.Advance(day)
		newExpiry := f.clock.Now().Add(4 * day)
		r, err := f.reauthorize(a.ID, newExpiry, "")
		require.NoError(t, err)
		assert.Equal(t, newExpiry.Add(-time.Hour), r.Authorization.CancelAt)
	})
	t.Run("a schedule that fits the new hold stays, with no entry", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_dropping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: day})
		f.clock.Advance(time.Hour)
		r, err := f.reauthorize(a.ID, time.Time{}, "")
		require.NoError(t, err)
		assert.Equal(t, a.CaptureAt, r.Authorization.CaptureAt)
		assert.Empty(t, f.scheduleLog(a.ID, a.Entries))
	})
	t.Run("a schedule the shorter new hold cannot fit is dropped, with an entry and an event", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_dropping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 2 * day,
			CancelMode: authcapture.CancelDelayed, CancelDelay: 3 * day})
		f.clock.Advance(time.Hour)
		r, err := f.reauthorize(a.ID, f.clock.Now().Add(day), "")
		require.NoError(t, err)
		assert.True(t, r.Authorization.CaptureAt.IsZero() && r.Authorization.CancelAt.IsZero())
		assert.Equal(t, []string{"capture_schedule_unfit ", "cancel_schedule_unfit "}, f.scheduleLog(a.ID, a.Entries))
		assert.True(t, r.Authorization.NextDue.Equal(r.Authorization.ExpiresAt))
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		var types []authcapture.EventType
		for _, ev := range evs[len(evs)-3:] {
			types = append(types, ev.Type)
		}
		assert.Equal(t, []authcapture.EventType{authcapture.EventReauthorized, authcapture.EventScheduleUpdated, authcapture.EventScheduleUpdated}, types)
	})
	t.Run("an expiry capture follows the new expiry", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_dropping", authcapture.CreateRequest{ExpiryAction: authcapture.ExpiryCapture})
		require.Equal(t, a.ExpiresAt.Add(-time.Hour), a.CaptureAt)
		f.clock.Advance(day)
		newExpiry := f.clock.Now().Add(10 * day)
		r, err := f.reauthorize(a.ID, newExpiry, "")
		require.NoError(t, err)
		assert.Equal(t, newExpiry.Add(-time.Hour), r.Authorization.CaptureAt)
	})
	t.Run("a delayed capture an explicit capture moved to the expiry capture follows the new expiry", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_dropping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: day,
			ExpiryAction: authcapture.ExpiryCapture})
		_, err := f.capture(a.ID, "10.00", authcapture.Bool(false))
		require.NoError(t, err)
		require.Equal(t, a.ExpiresAt.Add(-time.Hour), f.get(a.ID).CaptureAt)
		f.clock.Advance(2 * day)
		newExpiry := f.clock.Now().Add(6 * day)
		r, err := f.reauthorize(a.ID, newExpiry, "")
		require.NoError(t, err)
		assert.Equal(t, newExpiry.Add(-time.Hour), r.Authorization.CaptureAt)

		// The scheduler captures what is open then, not before.
		exec := newExecutor()
		s, err := authcapture.NewScheduler(f.svc, exec, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt) // the old hold's expiry: nothing happens
		assert.Equal(t, 0, f.sweep(s).Captured)
		assert.Equal(t, authcapture.StatusPartiallyCaptured, f.get(a.ID).Status())
		f.clock.Set(newExpiry.Add(-time.Hour))
		assert.Equal(t, 1, f.sweep(s).Captured)
		assert.Equal(t, authcapture.StatusCaptured, f.get(a.ID).Status())
	})
	t.Run("a scheduled capture already at the provider keeps its lease", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("reauth_dropping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		exec := newExecutor()
		exec.outcome = func(string, int) error { return errors.New("no answer") }
		s, err := authcapture.NewScheduler(f.svc, exec, nil)
		require.NoError(t, err)
		f.clock.Advance(time.Hour)
		require.Equal(t, 1, f.sweep(s).Unknown)
		leased := f.get(a.ID)
		require.Len(t, leased.PendingCaptures, 1)
		// A new hold too short for any schedule (its margin is an hour).
		r, err := f.reauthorize(a.ID, f.clock.Now().Add(30*time.Minute), "")
		require.NoError(t, err)
		assert.Equal(t, leased.CaptureAt, r.Authorization.CaptureAt, "the lease stands")
		exec.outcome = nil
		f.clock.Set(leased.CaptureAt)
		assert.Equal(t, 1, f.sweep(s).Captured, "re-driven after the lease, with the same key")
		assert.Equal(t, authcapture.StatusCaptured, f.get(a.ID).Status())
	})
	t.Run("the old hold's expiry no longer applies; the new one does", func(t *testing.T) {
		f := setup(t)
		a := f.hold("paypal_reauth", "100.00")
		f.clock.Advance(4 * day)
		newExpiry := a.ExpiresAt.Add(3 * day)
		_, err := f.reauthorize(a.ID, newExpiry, "")
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt)
		assert.Equal(t, authcapture.StatusAuthorized, f.get(a.ID).Status())
		f.clock.Set(newExpiry)
		got := f.get(a.ID)
		assert.Equal(t, authcapture.StatusExpired, got.Status())
		assert.Equal(t, newExpiry, got.ExpiredAt)
	})
}

// expiringEvents returns the authorization.expiring_soon events of id.
func (f *fixture) expiringEvents(id string) []authcapture.Event {
	f.t.Helper()
	evs, err := f.svc.Events(f.ctx, "m1", 0, 10_000)
	require.NoError(f.t, err)
	var out []authcapture.Event
	for _, ev := range evs {
		if ev.AuthorizationID == id && ev.Type == authcapture.EventExpiringSoon {
			out = append(out, ev)
		}
	}
	return out
}

// The scheduler warns once per hold, the policy's lead time before expiry,
// through the due index.
func TestExpiringSoon(t *testing.T) {
	t.Parallel()
	t.Run("once, 48 hours before expiry, not a nanosecond sooner", func(t *testing.T) {
		f := setup(t)
		a := f.hold("noticing", "100.00")
		noticeAt := a.ExpiresAt.Add(-48 * time.Hour)
		assert.Equal(t, noticeAt, a.ExpiringNoticeAt)
		assert.Equal(t, noticeAt, a.NextDue, "the notice is the next thing due")
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(noticeAt.Add(-time.Nanosecond))
		res := f.sweep(s)
		assert.Equal(t, 0, res.Due)
		assert.Empty(t, f.expiringEvents(a.ID))
		f.clock.Set(noticeAt)
		res = f.sweep(s)
		assert.Equal(t, 1, res.Notified)
		assert.Empty(t, res.Errors)
		evs := f.expiringEvents(a.ID)
		require.Len(t, evs, 1)
		assert.Equal(t, a.ExpiresAt, evs[0].ExpiresAt)
		assert.Equal(t, noticeAt, evs[0].At)
		assert.Equal(t, authcapture.StatusAuthorized, evs[0].Status)
		got := f.get(a.ID)
		assert.True(t, got.ExpiringNoticeAt.IsZero())
		assert.Equal(t, a.ExpiresAt, got.NextDue, "then the expiry is next")
		for range 3 {
			f.clock.Advance(time.Hour)
			assert.Equal(t, 0, f.sweep(s).Notified)
		}
		assert.Len(t, f.expiringEvents(a.ID), 1, "once per hold")
	})
	t.Run("again for the new hold of a reauthorization", func(t *testing.T) {
		f := setup(t)
		a := f.hold("noticing", "100.00")
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiringNoticeAt)
		require.Equal(t, 1, f.sweep(s).Notified)
		f.clock.Advance(time.Hour)
		r, err := f.reauthorize(a.ID, time.Time{}, "")
		require.NoError(t, err)
		next := r.Authorization.ExpiresAt.Add(-48 * time.Hour)
		assert.Equal(t, next, r.Authorization.ExpiringNoticeAt)
		assert.Contains(t, f.scheduleLog(a.ID, a.Entries), "expiring_notice_scheduled "+rfc(next))
		f.clock.Set(next)
		assert.Equal(t, 1, f.sweep(s).Notified)
		evs := f.expiringEvents(a.ID)
		require.Len(t, evs, 2)
		assert.Equal(t, r.Authorization.ExpiresAt, evs[1].ExpiresAt)
		f.clock.Advance(time.Hour)
		assert.Equal(t, 0, f.sweep(s).Notified)
	})
	t.Run("a reauthorization before the notice moves it to the new hold", func(t *testing.T) {
		f := setup(t)
		a := f.hold("noticing", "100.00")
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Advance(day)
		r, err := f.reauthorize(a.ID, time.Time{}, "")
		require.NoError(t, err)
		f.clock.Set(a.ExpiringNoticeAt)
		assert.Equal(t, 0, f.sweep(s).Notified, "the old hold's notice time is gone")
		f.clock.Set(r.Authorization.ExpiringNoticeAt)
		assert.Equal(t, 1, f.sweep(s).Notified)
		assert.Len(t, f.expiringEvents(a.ID), 1)
	})
	t.Run("none when the policy sets no lead time", func(t *testing.T) {
		f := setup(t)
		a := f.hold("default", "100.00")
		assert.True(t, a.ExpiringNoticeAt.IsZero())
		assert.Equal(t, a.ExpiresAt, a.NextDue)
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt.Add(-time.Nanosecond))
		assert.Equal(t, 0, f.sweep(s).Due)
		f.clock.Set(a.ExpiresAt)
		assert.Equal(t, 1, f.sweep(s).Expired)
		assert.Empty(t, f.expiringEvents(a.ID))
	})
	t.Run("none for a hold placed with less than the lead time left", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1.00"),
			Policy: "noticing", IdempotencyKey: f.key()})
		require.NoError(t, err)
		for _, left := range []time.Duration{24 * time.Hour, 48 * time.Hour} {
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1.00"),
				Policy: "noticing", IdempotencyKey: f.key()})
			require.NoError(t, err)
			r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("1.00"),
				ExpiresAt: f.clock.Now().Add(left), IdempotencyKey: f.key()})
			require.NoError(t, err)
			assert.True(t, r.Authorization.ExpiringNoticeAt.IsZero(), "%s left", left)
			assert.Equal(t, r.Authorization.ExpiresAt, r.Authorization.NextDue)
		}
		r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("1.00"),
			ExpiresAt: f.clock.Now().Add(48*time.Hour + time.Nanosecond), IdempotencyKey: f.key()})
		require.NoError(t, err)
		assert.Equal(t, f.clock.Now().Add(time.Nanosecond), r.Authorization.ExpiringNoticeAt, "a nanosecond more is enough")
	})
	t.Run("none once the hold is closed or released", func(t *testing.T) {
		f := setup(t)
		a := f.hold("noticing", "100.00")
		_, err := f.capture(a.ID, "100.00", nil)
		require.NoError(t, err)
		assert.True(t, f.get(a.ID).ExpiringNoticeAt.IsZero())
		b := f.hold("noticing", "100.00")
		_, err = f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: b.ID, Amount: amt("10.00"),
			Final: authcapture.Bool(true), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.voidAll(b.ID)
		require.NoError(t, err)
		got := f.get(b.ID)
		require.False(t, got.Closed())
		assert.True(t, got.ExpiringNoticeAt.IsZero(), "the provider let go of the hold")
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiringNoticeAt)
		assert.Equal(t, 0, f.sweep(s).Notified)
	})
	t.Run("a sweep that comes after the expiry sends none", func(t *testing.T) {
		f := setup(t)
		a := f.hold("noticing", "100.00")
		s, err := authcapture.NewScheduler(f.svc, nil, nil)
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Expired)
		assert.Equal(t, 0, res.Notified)
		assert.Empty(t, f.expiringEvents(a.ID))
	})
	t.Run("the notice and a due capture in one sweep", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("racing", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		exec := newExecutor()
		s, err := authcapture.NewScheduler(f.svc, exec, nil)
		require.NoError(t, err)
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Notified)
		assert.Equal(t, 1, res.Captured)
		assert.Len(t, f.expiringEvents(a.ID), 1)
		assert.Equal(t, authcapture.StatusCaptured, f.get(a.ID).Status())
	})
}

// The reauthorization and expiring-soon knobs are checked when a policy is
// registered.
func TestReauthorizationPolicyValidation(t *testing.T) {
	t.Parallel()
	base := authcapture.Policy{Name: "p", Validity: 7 * day}
	for _, tt := range []struct {
		name   string
		change func(p *authcapture.Policy)
		ok     bool
	}{
		{"PayPal's terms", func(p *authcapture.Policy) {
			p.Validity, p.MaxReauthorizations, p.ReauthorizeAfter, p.ReauthorizeBefore = 29*day, 1, 4*day, 29*day
		}, true},
		{"open bounds", func(p *authcapture.Policy) { p.MaxReauthorizations = 3 }, true},
		{"a 48-hour notice", func(p *authcapture.Policy) { p.ExpiringSoon = 48 * time.Hour }, true},
		{"negative MaxReauthorizations", func(p *authcapture.Policy) { p.MaxReauthorizations = -1 }, false},
		{"negative ReauthorizeAfter", func(p *authcapture.Policy) { p.MaxReauthorizations, p.ReauthorizeAfter = 1, -time.Hour }, false},
		{"negative ReauthorizeBefore", func(p *authcapture.Policy) { p.MaxReauthorizations, p.ReauthorizeBefore = 1, -time.Hour }, false},
		{"bounds that allow none", func(p *authcapture.Policy) { p.ReauthorizeAfter = 4 * day }, false},
		{"a window closed before it opens", func(p *authcapture.Policy) {
			p.MaxReauthorizations, p.ReauthorizeAfter, p.ReauthorizeBefore = 1, 4*day, 4*day
		}, false},
		{"a bound beyond 90 days", func(p *authcapture.Policy) { p.MaxReauthorizations, p.ReauthorizeBefore = 1, 91*day }, false},
		{"PayPal's reauthorized hold ends 29 days after the authorization", func(p *authcapture.Policy) {
			p.Validity, p.MaxReauthorizations, p.ReauthorizeAfter, p.ReauthorizationValidity = 29*day, 1, 4*day, 29*day
		}, true},
		{"negative ReauthorizationValidity", func(p *authcapture.Policy) {
			p.MaxReauthorizations, p.ReauthorizationValidity = 1, -time.Hour
		}, false},
		{"ReauthorizationValidity beyond 90 days", func(p *authcapture.Policy) {
			p.MaxReauthorizations, p.ReauthorizationValidity = 1, 91*day
		}, false},
		{"ReauthorizationValidity without reauthorizations", func(p *authcapture.Policy) { p.ReauthorizationValidity = 29 * day }, false},
		{"a reauthorized hold that lapses before it may be placed", func(p *authcapture.Policy) {
			p.MaxReauthorizations, p.ReauthorizeAfter, p.ReauthorizationValidity = 1, 4*day, 4*day
		}, false},
		{"negative ExpiringSoon", func(p *authcapture.Policy) { p.ExpiringSoon = -time.Hour }, false},
		{"ExpiringSoon as long as the hold", func(p *authcapture.Policy) { p.ExpiringSoon = 7 * day }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.change(&p)
			err := p.Validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, authcapture.ErrInvalidPolicy)
			_, err = authcapture.New(memstore.New(), &authcapture.Options{Policies: []authcapture.Policy{p}})
			require.ErrorIs(t, err, authcapture.ErrInvalidPolicy)
		})
	}
}

// Under the PayPal preset a reauthorization renews the honor period, not
// the 29-day authorization period: without an explicit ExpiresAt the new
// hold lapses 29 days after the original authorization, never later, so
// the ledger never holds funds the provider has let go of.
func TestPayPalReauthorizationKeepsTheAuthorizationPeriod(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("paypal", "100.00")
	end := a.AuthorizedAt.Add(29 * day)
	require.True(t, a.ExpiresAt.Equal(end), "the hold lasts 29 days: %s", a.ExpiresAt)
	f.clock.Advance(10 * day)
	r, err := f.reauthorize(a.ID, time.Time{}, "PAYPAL-REAUTH-1")
	require.NoError(t, err)
	got := r.Authorization
	assert.True(t, got.ExpiresAt.Equal(end), "still 29 days after the authorization, not 29 days from now: %s", got.ExpiresAt)
	assert.Equal(t, "reauthorization: policy paypal reauthorization validity 696h0m0s", got.ExpiryRule)
	assert.Equal(t, 1, got.Reauthorizations)
	found, err := f.svc.FindByProviderRef(f.ctx, "m1", "PAYPAL-REAUTH-1")
	require.NoError(t, err)
	assert.Equal(t, a.ID, found.ID)
}

// A reauthorization whose hold, counted from the original authorization,
// would already have lapsed is refused for good, and changes nothing.
func TestReauthorizationAfterItsValidityIsRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("short_reauth", "100.00")
	f.clock.Advance(10 * day)
	_, err := f.reauthorize(a.ID, time.Time{}, "")
	require.ErrorIs(t, err, authcapture.ErrReauthorizationNotAllowed)
	assert.Equal(t, a.Version, f.get(a.ID).Version, "nothing changed")
	b := f.hold("short_reauth", "100.00")
	f.clock.Advance(9 * day)
	r, err := f.reauthorize(b.ID, time.Time{}, "")
	require.NoError(t, err)
	assert.True(t, r.Authorization.ExpiresAt.Equal(b.AuthorizedAt.Add(10*day)))
}

// An approved amount change that extends the hold fits the schedules to it
// by the rules a reauthorization uses: a delayed capture clamped to the old
// hold takes its delay again.
func TestAmountChangeExtensionReschedulesAsAReauthorization(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.scheduled("change_clamping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 3 * day})
	require.Equal(t, a.ExpiresAt.Add(-time.Hour), a.CaptureAt, "clamped at approval")
	f.clock.Advance(day)
	r, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID, Delta: amt("1.00"),
		IdempotencyKey: f.key()})
	require.NoError(t, err)
	assert.Equal(t, t0.Add(6*day), r.Authorization.ExpiresAt.UTC(), "5 days from the change")
	assert.Equal(t, t0.Add(3*day), r.Authorization.CaptureAt.UTC(), "the delay from approval, no longer clamped")
}
