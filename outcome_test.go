package authcapture_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// outcome returns an outcome of merchant m1 for the provider reference ref.
func outcome(ref string, kind authcapture.OutcomeKind, state authcapture.OutcomeState) authcapture.OutcomeRequest {
	return authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: ref, Kind: kind, Outcome: state}
}

func (f *fixture) record(req authcapture.OutcomeRequest) (*authcapture.OutcomeResult, error) {
	return f.svc.RecordOutcome(f.ctx, req)
}

func (f *fixture) mustRecord(req authcapture.OutcomeRequest, want authcapture.OutcomeEffect) *authcapture.OutcomeResult {
	f.t.Helper()
	r, err := f.record(req)
	require.NoError(f.t, err)
	require.Equal(f.t, want, r.Effect, "effect (note %q)", r.Note)
	return r
}

// beginCapture begins a capture of amount with the provider reference ref
// and returns its capture ID.
func (f *fixture) beginCapture(id, amount, ref string) string {
	f.t.Helper()
	r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount),
		ProviderRef: ref, IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Entry.CaptureID
}

func (f *fixture) beginVoidRef(id, amount, ref string) string {
	f.t.Helper()
	r, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt(amount),
		ProviderRef: ref, IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Entry.VoidID
}

// unchanged asserts that what fn does leaves the authorization as it was
// and writes no event (invariant 6).
func (f *fixture) unchanged(id string, fn func()) {
	f.t.Helper()
	before := f.get(id)
	evs, err := f.svc.AllEvents(f.ctx, 0, 10_000)
	require.NoError(f.t, err)
	fn()
	assert.Equal(f.t, before, f.get(id), "nothing changes")
	after, err := f.svc.AllEvents(f.ctx, 0, 10_000)
	require.NoError(f.t, err)
	assert.Equal(f.t, evs, after, "no event")
}

func requireConflict(t *testing.T, err error, mentions ...string) {
	t.Helper()
	require.ErrorIs(t, err, authcapture.ErrOutcomeConflict)
	assert.Equal(t, http.StatusConflict, authcapture.HTTPStatus(err))
	var e *authcapture.Error
	require.True(t, errors.As(err, &e))
	for _, m := range mentions {
		assert.Contains(t, e.Detail, m)
	}
}

const (
	capture   = authcapture.OutcomeCapture
	void      = authcapture.OutcomeVoid
	succeeded = authcapture.OutcomeSucceeded
	failed    = authcapture.OutcomeFailed
	pending   = authcapture.OutcomePending
)

func TestRecordOutcome(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"APendingCaptureThatSucceededIsConfirmed", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			id := f.beginCapture(a.ID, "4.00", "cap_A")
			r := f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectSettled)
			assert.Equal(t, id, r.Entry.CaptureID)
			assert.Equal(t, authcapture.CaptureSucceeded, r.Entry.CaptureState)
			assert.Equal(t, "cap_A", r.Entry.ProviderRef)
			assert.Equal(t, "6.00/0.00/4.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
		}},
		{"APendingCaptureThatFailedReturnsItsAmount", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			req := outcome("cap_A", capture, failed)
			req.Reason = "insufficient_funds"
			r := f.mustRecord(req, authcapture.EffectSettled)
			assert.Equal(t, authcapture.CaptureFailed, r.Entry.CaptureState)
			assert.Equal(t, authcapture.Reason("insufficient_funds"), r.Entry.Reason)
			assert.Equal(t, "10.00/0.00/0.00/0.00/0.00 authorized", amounts(f.get(a.ID)))
		}},
		{"APendingVoidThatSucceededReleasesWhatTheProviderReports", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginVoidRef(a.ID, "4.00", "void_A")
			req := outcome("void_A", void, succeeded)
			req.Amount = amt("3.00")
			r := f.mustRecord(req, authcapture.EffectSettled)
			assert.Equal(t, authcapture.ActionSucceeded, r.Entry.VoidState)
			assert.Equal(t, "7.00/0.00/0.00/3.00/0.00 authorized", amounts(f.get(a.ID)), "the 1.00 not released is open again")
		}},
		{"APendingVoidThatFailedReturnsItsReservation", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginVoidRef(a.ID, "4.00", "void_A")
			f.mustRecord(outcome("void_A", void, failed), authcapture.EffectSettled)
			got := f.get(a.ID)
			assert.Equal(t, "10.00/0.00/0.00/0.00/0.00 authorized", amounts(got))
			assert.Zero(t, got.PendingVoid)
		}},
		{"ARepeatedDeliveryIsAReplay", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			first := f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectSettled)
			f.unchanged(a.ID, func() {
				again := f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectReplayed)
				assert.True(t, again.Replayed)
				assert.Equal(t, first.Entry, again.Entry)
				keyed := outcome("cap_A", capture, succeeded)
				keyed.IdempotencyKey = "evt_2" // another delivery's own key: the state still tells
				f.mustRecord(keyed, authcapture.EffectReplayed)
			})
		}},
		{"AnOutcomeAgainstTheRecordedOneIsAConflictNamingBoth", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectSettled)
			f.unchanged(a.ID, func() {
				_, err := f.record(outcome("cap_A", capture, failed))
				requireConflict(t, err, "failed", "succeeded", "cap_A")
			})
			f.beginVoidRef(a.ID, "1.00", "void_B")
			f.mustRecord(outcome("void_B", void, failed), authcapture.EffectSettled)
			f.unchanged(a.ID, func() {
				_, err := f.record(outcome("void_B", void, succeeded))
				requireConflict(t, err, "succeeded", "failed", "void_B")
			})
		}},
		{"AnOutcomeOfTheOtherKindIsAConflict", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			f.unchanged(a.ID, func() {
				_, err := f.record(outcome("cap_A", void, succeeded))
				requireConflict(t, err, "capture", "void")
			})
		}},
		{"AnAmountOtherThanTheReservedOneIsAConflict", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			req := outcome("cap_A", capture, succeeded)
			req.Amount = amt("3.50")
			f.unchanged(a.ID, func() {
				_, err := f.record(req)
				requireConflict(t, err, "3.50", "4.00")
			})
			req.Amount = amt("4")
			f.mustRecord(req, authcapture.EffectSettled)
			req.Amount = amt("3.50")
			_, err := f.record(req)
			requireConflict(t, err, "3.50", "4.00")
		}},
		{"ASuccessNeverRecordedIsRecordedAsADirectCapture", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			req := outcome("cap_crash", capture, succeeded)
			req.AuthorizationID, req.Amount = a.ID, amt("2.50")
			r := f.mustRecord(req, authcapture.EffectRecorded)
			assert.Equal(t, authcapture.CaptureSucceeded, r.Entry.CaptureState)
			assert.Equal(t, "cap_crash", r.Entry.ProviderRef)
			assert.Equal(t, "7.50/0.00/2.50/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
			// The next delivery needs no authorization ID: the reference is known now.
			f.unchanged(a.ID, func() {
				f.mustRecord(outcome("cap_crash", capture, succeeded), authcapture.EffectReplayed)
			})
		}},
		{"ASuccessNeverRecordedBesideAnUnnamedPendingActionIsAConflict", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			id := f.beginCapture(a.ID, "4.00", "")
			req := outcome("cap_new", capture, succeeded)
			req.AuthorizationID, req.Amount = a.ID, amt("4.00")
			f.unchanged(a.ID, func() {
				_, err := f.record(req)
				requireConflict(t, err, id, "ActionID")
			})
			req.ActionID = id
			f.mustRecord(req, authcapture.EffectSettled)
			assert.Equal(t, "6.00/0.00/4.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)), "counted once")
		}},
		{"ASuccessNeverRecordedWithoutAnAmountNeedsOneForACapture", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			req := outcome("cap_crash", capture, succeeded)
			req.AuthorizationID = a.ID
			f.unchanged(a.ID, func() {
				_, err := f.record(req)
				assert.ErrorIs(t, err, authcapture.ErrInvalidAmount)
			})
		}},
		{"AVoidNeverRecordedWithoutAnAmountReleasesEverythingOpen", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			_, err := f.capture(a.ID, "3.00", authcapture.Bool(false))
			require.NoError(t, err)
			req := outcome("void_crash", void, succeeded)
			req.AuthorizationID = a.ID
			f.mustRecord(req, authcapture.EffectRecorded)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/3.00/7.00/0.00 captured", amounts(got))
			assert.Equal(t, authcapture.CloseVoided, got.ReleasedBy)
		}},
		{"AFailureNeverRecordedChangesNothing", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			req := outcome("cap_lost", capture, failed)
			req.AuthorizationID = a.ID
			f.unchanged(a.ID, func() {
				r := f.mustRecord(req, authcapture.EffectIgnored)
				assert.Contains(t, r.Note, "moved no money")
				assert.Zero(t, r.Entry)
				assert.Equal(t, a.ID, r.Authorization.ID)
			})
		}},
		{"APendingReportChangesNothing", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			f.unchanged(a.ID, func() {
				r := f.mustRecord(outcome("cap_A", capture, pending), authcapture.EffectIgnored)
				assert.Contains(t, r.Note, "is pending")
			})
			f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectSettled)
			f.unchanged(a.ID, func() {
				r := f.mustRecord(outcome("cap_A", capture, pending), authcapture.EffectIgnored)
				assert.Contains(t, r.Note, "stale")
			})
		}},
		{"AFailureOfAnAttemptSettledUnderANewReferenceIsStale", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			id := f.beginCapture(a.ID, "4.00", "cap_try1")
			_, err := f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: id,
				ProviderRef: "cap_try2", IdempotencyKey: f.key()})
			require.NoError(t, err)
			f.unchanged(a.ID, func() {
				r := f.mustRecord(outcome("cap_try1", capture, failed), authcapture.EffectIgnored)
				assert.Contains(t, r.Note, "cap_try2")
				_, err := f.record(outcome("cap_try1", capture, succeeded))
				requireConflict(t, err, "cap_try1", "cap_try2")
				f.mustRecord(outcome("cap_try2", capture, succeeded), authcapture.EffectReplayed)
			})
		}},
		{"AnActionBegunBeforeItsReferenceIsNamedByActionID", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			id := f.beginCapture(a.ID, "4.00", "")
			req := outcome("cap_late", capture, succeeded)
			req.AuthorizationID, req.ActionID = a.ID, id
			r := f.mustRecord(req, authcapture.EffectSettled)
			assert.Equal(t, "cap_late", r.Entry.ProviderRef)
			found, err := f.svc.FindByProviderRef(f.ctx, "m1", "cap_late")
			require.NoError(t, err)
			assert.Equal(t, a.ID, found.ID)
			f.mustRecord(outcome("cap_late", capture, succeeded), authcapture.EffectReplayed)
			req.ActionID = "cap_99"
			_, err = f.record(req)
			assert.ErrorIs(t, err, authcapture.ErrNotFound, "an action ID the log does not hold")
		}},
		{"AnUnknownReferenceWithoutAnAuthorizationIsNotFound", func(t *testing.T, f *fixture) {
			f.hold("default", "10.00")
			_, err := f.record(outcome("cap_nowhere", capture, succeeded))
			assert.ErrorIs(t, err, authcapture.ErrNotFound)
			assert.Contains(t, err.Error(), "AuthorizationID")
		}},
		{"AnotherMerchantsReferenceIsNotFound", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			req := outcome("cap_A", capture, succeeded)
			req.MerchantID = "m2"
			_, err := f.record(req)
			assert.ErrorIs(t, err, authcapture.ErrNotFound)
			_, err = f.svc.FindByProviderRef(f.ctx, "m2", "cap_A")
			assert.ErrorIs(t, err, authcapture.ErrNotFound)
		}},
		{"AReferenceOfAnotherAuthorizationIsAConflict", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			b := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			req := outcome("cap_A", capture, succeeded)
			req.AuthorizationID = b.ID
			f.unchanged(b.ID, func() {
				_, err := f.record(req)
				requireConflict(t, err, a.ID, b.ID)
			})
			// Claiming it from another command is refused by the store.
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: b.ID, Amount: amt("1"),
				ProviderRef: "cap_A", IdempotencyKey: f.key()})
			require.ErrorIs(t, err, authcapture.ErrAlreadyExists)
			assert.Contains(t, err.Error(), "cap_A")
			assert.Contains(t, err.Error(), a.ID)
		}},
		{"TheApprovalsProviderReferenceFindsTheAuthorization", func(t *testing.T, f *fixture) {
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("5"),
				IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("5"),
				ProviderRef: "pi_123", IdempotencyKey: f.key()})
			require.NoError(t, err)
			found, err := f.svc.FindByProviderRef(f.ctx, "m1", "pi_123")
			require.NoError(t, err)
			assert.Equal(t, r.Authorization.ID, found.ID)
		}},
		{"MalformedOutcomesAreRejectedBeforeAnythingIsRead", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			for name, mutate := range map[string]func(r *authcapture.OutcomeRequest){
				"no reference":      func(r *authcapture.OutcomeRequest) { r.ProviderRef = "" },
				"control character": func(r *authcapture.OutcomeRequest) { r.ProviderRef = "cap\nA" },
				"unknown kind":      func(r *authcapture.OutcomeRequest) { r.Kind = "chargeback" },
				"unknown outcome":   func(r *authcapture.OutcomeRequest) { r.Outcome = "maybe" },
				"bad merchant":      func(r *authcapture.OutcomeRequest) { r.MerchantID = "m 1" },
				"reserved key":      func(r *authcapture.OutcomeRequest) { r.IdempotencyKey = "outcome:mine" },
				"negative amount":   func(r *authcapture.OutcomeRequest) { r.Amount = amt("-1") },
			} {
				req := outcome("cap_A", capture, succeeded)
				mutate(&req)
				f.unchanged(a.ID, func() {
					_, err := f.record(req)
					assert.Equal(t, http.StatusUnprocessableEntity, authcapture.HTTPStatus(err), "%s: %v", name, err)
				})
			}
			_, err := f.capture(a.ID, "1", nil)
			require.NoError(t, err)
			_, err = f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("1"),
				IdempotencyKey: "outcome:x"})
			assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "the prefix is reserved for every command")
		}},
		{"AnOutcomeAfterExpirySettlesThePendingCapture", func(t *testing.T, f *fixture) {
			a := f.hold("default", "10.00")
			f.beginCapture(a.ID, "4.00", "cap_A")
			f.clock.Set(a.ExpiresAt.Add(time.Hour))
			f.mustRecord(outcome("cap_A", capture, succeeded), authcapture.EffectSettled)
			assert.Equal(t, "0.00/0.00/4.00/0.00/6.00 captured", amounts(f.get(a.ID)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, setup(t))
		})
	}
}

func TestOutcomeKeyIsStableAndDistinct(t *testing.T) {
	k := authcapture.OutcomeKey("cap_A", capture, succeeded)
	assert.Equal(t, k, authcapture.OutcomeKey("cap_A", capture, succeeded))
	assert.NotEqual(t, k, authcapture.OutcomeKey("cap_A", capture, failed))
	assert.NotEqual(t, k, authcapture.OutcomeKey("cap_A", void, succeeded))
	assert.NotEqual(t, k, authcapture.OutcomeKey("cap_B", capture, succeeded))
	assert.Regexp(t, `^outcome:capture:succeeded:[0-9a-f]{40}$`, k)
}

func TestUnsettledRejectsBadRequests(t *testing.T) {
	f := setup(t)
	for _, req := range []authcapture.UnsettledRequest{{Limit: 0}, {Limit: 10_001}, {OlderThan: -time.Second, Limit: 1}} {
		_, err := f.svc.Unsettled(f.ctx, req)
		assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "%+v", req)
	}
}

func TestARepeatedOutcomeIsAReplayWhateverItReleased(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "100.00")
	f.beginCapture(a.ID, "30.00", "cap-1")
	_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, ProviderRef: "void-1", IdempotencyKey: f.key()})
	require.NoError(t, err)
	f.mustRecord(outcome("cap-1", authcapture.OutcomeCapture, authcapture.OutcomeFailed), authcapture.EffectSettled)
	req := outcome("void-1", authcapture.OutcomeVoid, authcapture.OutcomeSucceeded)
	req.Amount = amt("100.00") // the provider let go of all of it
	f.mustRecord(req, authcapture.EffectSettled)
	assert.Equal(t, "0.00/0.00/0.00/0.00/100.00/0.00 voided", pendingAmounts(f.get(a.ID)))
	f.mustRecord(req, authcapture.EffectReplayed)
}

func TestAWebhookAfterTheHostConfirmedAWholeVoidIsAReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "100.00")
	c := f.beginCapture(a.ID, "30.00", "cap-1")
	r, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, All: true, ProviderRef: "void-1", IdempotencyKey: f.key()})
	require.NoError(t, err)
	_, err = f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: c, IdempotencyKey: f.key()})
	require.NoError(t, err)
	_, err = f.confirmVoid(a.ID, r.Entry.VoidID, dec("100.00")) // the host's own record, under its own key
	require.NoError(t, err)
	req := outcome("void-1", authcapture.OutcomeVoid, authcapture.OutcomeSucceeded)
	req.Amount = amt("100.00")
	f.mustRecord(req, authcapture.EffectReplayed)
}

func TestADirectRecordAfterItsWebhookIsAReplay(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "100.00")
	req := outcome("cap-9", authcapture.OutcomeCapture, authcapture.OutcomeSucceeded)
	req.AuthorizationID, req.Amount = a.ID, amt("30.00")
	f.mustRecord(req, authcapture.EffectRecorded) // the webhook came first
	r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"),
		ProviderRef: "cap-9", IdempotencyKey: f.key()})
	require.NoError(t, err)
	assert.True(t, r.Replayed, "the provider captured once")
	assert.Equal(t, int64(3000), f.get(a.ID).Captured)

	vreq := outcome("void-9", authcapture.OutcomeVoid, authcapture.OutcomeSucceeded)
	vreq.AuthorizationID, vreq.Amount = a.ID, amt("10.00")
	f.mustRecord(vreq, authcapture.EffectRecorded)
	r, err = f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10.00"),
		ProviderRef: "void-9", IdempotencyKey: f.key()})
	require.NoError(t, err)
	assert.True(t, r.Replayed)
	assert.Equal(t, "60.00/0.00/0.00/30.00/10.00/0.00 partially_captured", pendingAmounts(f.get(a.ID)))
}

// A direct capture or refund naming a provider reference already recorded
// with another amount contradicts the provider's one action under it:
// ErrOutcomeConflict, and nothing changes. The same amount is a replay.
func TestADirectRecordWithAnotherAmountThanItsWebhookConflicts(t *testing.T) {
	t.Parallel()
	f := setupRefunds(t)
	a := f.hold("refunds-early", "100.00")
	req := outcome("cap-7", authcapture.OutcomeCapture, authcapture.OutcomeSucceeded)
	req.AuthorizationID, req.Amount = a.ID, amt("30.00")
	f.mustRecord(req, authcapture.EffectRecorded)
	f.unchanged(a.ID, func() {
		_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("31.00"),
			ProviderRef: "cap-7", IdempotencyKey: "conflict-capture"})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict)
	})
	_, err := f.store.Idempotency(f.ctx, "m1", "conflict-capture")
	require.ErrorIs(t, err, authcapture.ErrNotFound, "no idempotency record")
	r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"),
		ProviderRef: "cap-7", IdempotencyKey: f.key()})
	require.NoError(t, err)
	assert.True(t, r.Replayed)

	rreq := outcome("re-7", authcapture.OutcomeRefund, authcapture.OutcomeSucceeded)
	rreq.AuthorizationID, rreq.Amount = a.ID, amt("5.00")
	f.mustRecord(rreq, authcapture.EffectRecorded)
	f.unchanged(a.ID, func() {
		_, err := f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("6.00"),
			ProviderRef: "re-7", IdempotencyKey: "conflict-refund"})
		require.ErrorIs(t, err, authcapture.ErrOutcomeConflict)
	})
	_, err = f.store.Idempotency(f.ctx, "m1", "conflict-refund")
	require.ErrorIs(t, err, authcapture.ErrNotFound, "no idempotency record")
	r, err = f.svc.Refund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: a.ID, Amount: amt("5.00"),
		ProviderRef: "re-7", IdempotencyKey: f.key()})
	require.NoError(t, err)
	assert.True(t, r.Replayed)
	assert.Equal(t, int64(500), f.get(a.ID).Refunded)
}

// A direct capture naming a recorded provider reference, under a key
// already used for another request, is ErrIdempotencyMismatch as for any
// command: the key's own record comes before the replay by reference.
func TestAKeyReusedOnADirectRecordByReferenceIsAMismatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "100.00")
	req := authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), ProviderRef: "cap-5",
		Reference: "shipment-1", IdempotencyKey: "k-cap"}
	_, err := f.svc.Capture(f.ctx, req)
	require.NoError(t, err)
	r, err := f.svc.Capture(f.ctx, req)
	require.NoError(t, err)
	assert.True(t, r.Replayed, "the same request under its key")
	req.Reference = "shipment-2"
	before := f.get(a.ID)
	_, err = f.svc.Capture(f.ctx, req)
	require.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
	assert.Equal(t, before.Version, f.get(a.ID).Version, "nothing changed")
}
