package providertest

import (
	"errors"
	"time"

	"github.com/authcapture/authcapture"
)

var (
	delayedCapture = authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 5 * time.Minute}
	delayedCancel  = authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: 10 * time.Minute}
)

// raceCollidingKeys: two authorizations whose merchant and ID would join
// into one naive key ("acme:eu"/"42" and "acme"/"eu:42"), both with a
// delayed capture that the schedulers carry out through unknown outcomes
// and re-drives. Their provider keys differ, and each hold is captured
// once.
func raceCollidingKeys(w *world) {
	a := w.open(w.merchant("acme")+":eu", "42", delayedCapture)
	b := w.open(w.merchant("acme"), "eu:42", delayedCapture)
	w.steps(30, 2*time.Minute, nil)
	w.settle()
	for _, ref := range []holdRef{a, b} {
		if h := w.prov.holds[ref]; h.captures != 1 {
			w.problemf("%s: the provider captured %d times, want once", ref, h.captures)
		}
	}
	for k, ref := range w.keys {
		for k2, ref2 := range w.keys {
			if k == k2 && ref != ref2 {
				w.problemf("provider key %s used for %s and %s", k, ref, ref2)
			}
		}
	}
	seen := map[holdRef]bool{}
	for _, ref := range w.keys {
		seen[ref] = true
	}
	if len(seen) != 2 {
		w.problemf("the executor saw keys of %d holds, want 2", len(seen))
	}
}

// raceUnknownPolicy: a scheduler whose Service lacks the authorization's
// policy sweeps it alongside the host and the schedulers that know it:
// it never calls the provider, and the work stays due until a scheduler
// that knows the policy completes it.
func raceUnknownPolicy(w *world) {
	ref := w.open(w.merchant("m"), "a1", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed,
		CaptureDelay: 5 * time.Minute, CancelMode: authcapture.CancelDelayed, CancelDelay: 10 * time.Minute})
	blind := &executor{w: w, forbidden: true}
	other := w.scheduler(w.service(false), blind)
	w.twoPhaseCapture(ref)
	w.steps(40, 2*time.Minute, func() {
		before := w.get(ref)
		res, err := other.RunDue(w.ctx, 100)
		if err != nil {
			w.problemf("sweep without the policy: %v", err)
		}
		after := w.get(ref)
		w.tracef("sweep without the policy: due %d deferred %d skipped %d expired %d errors %v", res.Due, res.Deferred, res.Skipped, res.Expired, res.Errors)
		if res.Captured+res.CaptureFailed+res.Canceled+res.CancelFailed+res.Unknown > 0 {
			w.problemf("a scheduler without the policy acted: %+v", res)
		}
		for _, err := range res.Errors {
			if !errors.Is(err, authcapture.ErrUnknownPolicy) {
				w.problemf("a scheduler without the policy failed for another reason: %v", err)
			}
		}
		if (!before.CaptureAt.IsZero() && after.CaptureAt.IsZero()) || (!before.CancelAt.IsZero() && after.CancelAt.IsZero()) {
			w.problemf("a scheduler without the policy dropped due work: capture %v -> %v, cancel %v -> %v",
				before.CaptureAt, after.CaptureAt, before.CancelAt, after.CancelAt)
		}
		if res.Deferred != len(res.Errors) {
			w.problemf("a scheduler without the policy deferred %d actions and reported %d errors", res.Deferred, len(res.Errors))
		}
	})
	w.settle()
	// The delayed cancel, carried out by a scheduler that knows the
	// policy, released whatever the captures left, unless the provider
	// declined it.
	log, err := w.svc.Log(w.ctx, ref.merchant, ref.id)
	if err != nil {
		w.t.Fatal(err)
	}
	declined := false
	for _, e := range log {
		declined = declined || (e.Kind == authcapture.EntryVoid && e.VoidState == authcapture.ActionFailed && e.Reason == "provider_declined")
	}
	if a := w.get(ref); a.Open() != 0 && !declined {
		w.problemf("%s: %d still open after the delayed cancel", ref, a.Open())
	}
	if blind.calls > 0 {
		w.problemf("the scheduler without the policy called the provider %d times", blind.calls)
	}
}

// raceTwoPhaseCaptureVsCancel: the host's two-phase captures race a
// delayed cancel.
func raceTwoPhaseCaptureVsCancel(w *world) {
	ref := w.open(w.merchant("m"), "a1", delayedCancel)
	for range 1 + w.rng.IntN(2) {
		w.twoPhaseCapture(ref)
	}
	w.steps(40, 3*time.Minute, nil)
	w.settle()
}

// raceDirectCaptureVsCancel: the host's direct captures (the provider
// first, the record after) race a delayed cancel.
func raceDirectCaptureVsCancel(w *world) {
	ref := w.open(w.merchant("m"), "a1", delayedCancel)
	for range 1 + w.rng.IntN(2) {
		w.directCapture(ref)
	}
	w.steps(40, 3*time.Minute, nil)
	w.settle()
}

// raceScheduledCaptureVsHost: a delayed capture races the host's void and
// the host's direct capture.
func raceScheduledCaptureVsHost(w *world) {
	ref := w.open(w.merchant("m"), "a1", delayedCapture)
	w.directVoid(ref)
	w.directCapture(ref)
	w.steps(40, 2*time.Minute, nil)
	w.settle()
}

// raceShortHold: an approval whose hold is shorter than the schedule.
// Authorize refuses it today (ErrInvalidSchedule); the race is skipped
// until approvals accept such holds.
func raceShortHold(w *world) {
	m := w.merchant("m")
	if _, err := w.svc.Create(w.ctx, authcapture.CreateRequest{MerchantID: m, ID: "a1", Currency: "USD", Amount: minor(amount),
		Policy: policyName, CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour, IdempotencyKey: w.key("create")}); err != nil {
		w.t.Fatal(err)
	}
	_, err := w.svc.Authorize(w.ctx, authcapture.AuthorizeRequest{MerchantID: m, ID: "a1", Amount: minor(amount),
		ExpiresAt: w.clock.Now().Add(30 * time.Minute), IdempotencyKey: w.key("authorize")})
	if errors.Is(err, authcapture.ErrInvalidSchedule) {
		w.skip = "Authorize refuses a hold shorter than its schedule (ErrInvalidSchedule): no approval race to run"
		return
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.problemf("Authorize now accepts a hold shorter than its schedule: write this race")
}
