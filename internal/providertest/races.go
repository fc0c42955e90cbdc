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
// once (unless the provider declined every retry).
func raceCollidingKeys(w *world) {
	a := w.open(w.merchant("acme")+":eu", "42", delayedCapture)
	b := w.open(w.merchant("acme"), "eu:42", delayedCapture)
	w.steps(20, 2*time.Minute, nil)
	w.settle()
	for _, ref := range []holdRef{a, b} {
		// Once, unless the provider declined every retry and the
		// schedule was dropped.
		h := w.prov.holds[ref]
		if h.captures > 1 || h.captures == 0 && !w.logHas(ref, authcapture.EntrySchedule, authcapture.ReasonCaptureUnscheduled) {
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
	w.steps(20, 2*time.Minute, func() {
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
		// Declined as the scheduler or the webhook recorded it.
		declined = declined || (e.Kind == authcapture.EntryVoid && e.VoidState == authcapture.ActionFailed &&
			(e.Reason == "provider_declined" || e.Reason == "declined"))
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
	w.steps(25, 3*time.Minute, nil)
	w.settle()
}

// raceDirectCaptureVsCancel: the host's direct captures (the provider
// first, the record after) race a delayed cancel.
func raceDirectCaptureVsCancel(w *world) {
	ref := w.open(w.merchant("m"), "a1", delayedCancel)
	for range 1 + w.rng.IntN(2) {
		w.directCapture(ref)
	}
	w.steps(25, 3*time.Minute, nil)
	w.settle()
}

// raceScheduledCaptureVsHost: a delayed capture races the host's void and
// the host's direct capture.
func raceScheduledCaptureVsHost(w *world) {
	ref := w.open(w.merchant("m"), "a1", delayedCapture)
	w.directVoid(ref)
	w.directCapture(ref)
	w.steps(25, 2*time.Minute, nil)
	w.settle()
}

// raceShortHold: approvals whose real hold (an explicit ExpiresAt) is
// shorter than their schedule needs, raced with sweeps, the host's
// two-phase captures and voids and its direct voids, and webhooks:
//
//   - a1: a delayed capture PT5M on a 7-minute hold with the 5-minute
//     margin: dropped (boundary policy) or clamped to 2 minutes after
//     approval (clamping policy);
//   - a2: expiry action capture on a 4-minute hold: its capture would be
//     due a minute before approval, so it is dropped;
//   - a3: a delayed capture on a hold already past its expiry: approved
//     and expired in one write.
//
// A dropped schedule never reaches the provider; the hold expires and
// what is open then is released. Direct captures are left out: one the
// provider accepted before the hold lapsed is refused when recorded after
// (TestEngineGaps/direct-capture-recorded-after-expiry).
func raceShortHold(w *world) {
	m := w.merchant("m")
	now := w.clock.Now()
	pol := policyName
	if w.rng.IntN(2) == 0 {
		pol = clamping.Name
	}
	a1 := w.openHold(m, "a1", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 5 * time.Minute,
		Policy: pol}, now.Add(7*time.Minute))
	a2 := w.openHold(m, "a2", authcapture.CreateRequest{ExpiryAction: authcapture.ExpiryCapture}, now.Add(4*time.Minute))
	a3 := w.openHold(m, "a3", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 5 * time.Minute},
		now.Add(-time.Minute))

	want := map[holdRef]authcapture.Reason{a1: authcapture.ReasonCaptureUnfit, a2: authcapture.ReasonCaptureUnfit}
	if pol == clamping.Name {
		want[a1] = authcapture.ReasonCaptureScheduled
	}
	for ref, reason := range want {
		a := w.get(ref)
		switch {
		case reason == authcapture.ReasonCaptureUnfit && !a.CaptureAt.IsZero():
			w.problemf("%s: a capture due %s on a hold until %s, want it dropped", ref, a.CaptureAt, a.ExpiresAt)
		case reason == authcapture.ReasonCaptureScheduled && !a.CaptureAt.Equal(now.Add(2*time.Minute)):
			w.problemf("%s: capture due %v, want clamped to %s", ref, a.CaptureAt, now.Add(2*time.Minute))
		}
		if !w.logHas(ref, authcapture.EntrySchedule, reason) {
			w.problemf("%s: no schedule entry %s", ref, reason)
		}
	}
	if a := w.get(a3); !a.HoldExpired() || a.Expired != amount || !a.CaptureAt.IsZero() {
		w.problemf("%s: a hold already lapsed: expired %v (%d), capture due %v", a3, a.HoldExpired(), a.Expired, a.CaptureAt)
	}

	for _, ref := range []holdRef{a1, a2, a3} {
		for range w.rng.IntN(2) {
			w.twoPhaseCapture(ref)
		}
		switch w.rng.IntN(3) {
		case 0:
			w.directVoid(ref)
		case 1:
			w.twoPhaseVoid(ref)
		}
	}
	w.steps(20, 2*time.Minute, nil)
	w.lapse = now.Add(7 * time.Minute) // settle until every hold lapsed
	w.settle()

	for k, ref := range w.keys {
		if want[ref] == authcapture.ReasonCaptureUnfit || ref == a3 {
			w.problemf("%s: the executor got a task (key %s) although the schedule was dropped", ref, k)
		}
	}
	for _, ref := range []holdRef{a1, a2, a3} {
		if a := w.get(ref); !a.Closed() {
			w.problemf("%s: still open after its hold lapsed: %s", ref, a.Status())
		}
	}
}

// logHas reports whether ref's log has an entry of kind with reason.
func (w *world) logHas(ref holdRef, kind authcapture.EntryKind, reason authcapture.Reason) bool {
	log, err := w.svc.Log(w.ctx, ref.merchant, ref.id)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range log {
		if e.Kind == kind && e.Reason == reason {
			return true
		}
	}
	return false
}

// raceAmountChange: the host's amount changes (direct and two-phase, up
// and down) race its direct and two-phase captures and voids on an
// adjustable hold: a decrease in flight meets captures the provider
// accepts first, an increase meets a final capture that lets go of the
// hold, and every outcome arrives late, twice or in any order.
func raceAmountChange(w *world) {
	ref := w.open(w.merchant("m"), "a1", authcapture.CreateRequest{Policy: adjusting.Name})
	for range 1 + w.rng.IntN(2) {
		w.twoPhaseChange(ref)
	}
	w.directChange(ref)
	// Direct captures are not mixed with two-phase ones: a direct capture
	// the provider accepted while a final capture was in flight is refused
	// once that one let go of the hold, with or without amount changes.
	switch w.rng.IntN(4) {
	case 0:
		w.directCapture(ref)
		w.directCapture(ref)
	case 1:
		w.twoPhaseCapture(ref)
		w.twoPhaseCapture(ref)
	case 2:
		w.twoPhaseVoid(ref)
		w.twoPhaseCapture(ref)
	default:
		w.directVoid(ref)
		w.twoPhaseCapture(ref)
	}
	w.steps(30, 2*time.Minute, nil)
	w.settle()
}

// raceReauthorization: two holds of 20 minutes, one with an expiry
// capture, one with a delayed capture of 30 minutes clamped to the short
// hold. The host asks the provider for a new hold until an hour from the
// start, and records it (after lost replies, or never if it crashes),
// while the schedulers sweep, the clock moves, and two-phase captures and
// voids run. Recorded in time, the new hold carries the schedules (the
// expiry capture follows the new expiry; the delayed capture gets its 30
// minutes back); recorded too late, it is refused as expired and the
// ledger keeps the old, earlier expiry. Either way the books end equal,
// the expiring-soon notice goes out at most once per hold, and each hold
// is captured by the scheduler at most once.
func raceReauthorization(w *world) {
	m := w.merchant("m")
	now := w.clock.Now()
	a1 := w.openHold(m, "a1", authcapture.CreateRequest{ExpiryAction: authcapture.ExpiryCapture, Policy: reauthorizing.Name},
		now.Add(20*time.Minute))
	a2 := w.openHold(m, "a2", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 30 * time.Minute,
		Policy: reauthorizing.Name}, now.Add(20*time.Minute))
	if a := w.get(a2); !a.CaptureAt.Equal(now.Add(15 * time.Minute)) {
		w.problemf("%s: delayed capture due %s, want clamped to %s", a2, a.CaptureAt, now.Add(15*time.Minute))
	}
	later := now.Add(time.Hour)
	for _, ref := range []holdRef{a1, a2} {
		w.reauthorize(ref, later)
		if w.rng.IntN(2) == 0 {
			w.twoPhaseCapture(ref)
		}
		if w.rng.IntN(3) == 0 {
			w.twoPhaseVoid(ref)
		}
	}
	w.steps(24, 3*time.Minute, nil)
	w.lapse = later // settle until every hold lapsed, the provider's new one too
	w.settle()

	for _, ref := range []holdRef{a1, a2} {
		a := w.get(ref)
		log, err := w.svc.Log(w.ctx, ref.merchant, ref.id)
		if err != nil {
			w.t.Fatalf("log %s: %v", ref, err)
		}
		notices, scheduled := 0, 0
		for _, e := range log {
			switch {
			case e.Kind == authcapture.EntrySchedule && e.Reason == authcapture.ReasonExpiringSoon:
				notices++
			case e.Kind == authcapture.EntryCapture && e.Reason == authcapture.ReasonScheduledCapture &&
				e.CaptureState == authcapture.CaptureSucceeded:
				scheduled++
			}
		}
		if notices > 1+a.Reauthorizations {
			w.problemf("%s: %d expiring-soon notices for %d holds", ref, notices, 1+a.Reauthorizations)
		}
		if scheduled > 1 {
			w.problemf("%s: the scheduler captured %d times", ref, scheduled)
		}
		if !a.Closed() {
			w.problemf("%s: still open after every hold lapsed: %s", ref, a.Status())
		}
	}
}

// reauthorize is the host's reauthorization of ref: the provider places a
// new hold until expiresAt (refused once the old one lapsed at the
// provider), and the host records it with Reauthorize, again with the same
// key after a lost reply, sometimes twice. A host that crashes after the
// provider's answer never records it: the ledger keeps the old, earlier
// expiry. A record that comes after the ledger's hold lapsed, or after the
// hold was let go of, is refused and changes nothing.
func (w *world) reauthorize(ref holdRef, expiresAt time.Time) {
	key := w.key("reauthorize")
	w.add("reauthorize", ref, func(f *flow) {
		switch f.state {
		case 0:
			if !w.prov.reauthorize(ref, expiresAt) {
				w.tracef("%s: the provider refused: its hold lapsed or holds nothing", f.name)
				f.done = true
				return
			}
			w.tracef("%s: the provider holds until %s", f.name, expiresAt.Format("15:04:05"))
			if w.crash() {
				w.tracef("%s: the host crashed before recording it", f.name)
				f.done = true
				return
			}
			f.state = 1
		case 1, stateAgain:
			if w.lostReply() && f.state == 1 {
				return // the host calls again later, with the same key
			}
			r, err := w.svc.Reauthorize(w.ctx, authcapture.ReauthorizeRequest{MerchantID: ref.merchant, ID: ref.id,
				ExpiresAt: expiresAt, ProviderRef: "re-" + key, IdempotencyKey: key})
			switch {
			case errors.Is(err, authcapture.ErrExpired) || errors.Is(err, authcapture.ErrInvalidStatus) && w.releasedByLedger(ref):
				w.tracef("%s: not recorded: %v", f.name, err)
				f.done = true
				return
			case err != nil && temporary(err):
				f.lastErr = err
				return
			case err != nil:
				w.problemf("%s: refused: %v", f.name, err)
				f.done = true
				return
			case f.state == stateAgain && !r.Replayed:
				w.problemf("%s: recorded twice", f.name)
			case !r.Authorization.ExpiresAt.Equal(expiresAt):
				w.problemf("%s: ExpiresAt %s, want %s", f.name, r.Authorization.ExpiresAt, expiresAt)
			}
			w.tracef("%s: recorded (replay %v): expires %s, capture due %s", f.name, r.Replayed,
				r.Authorization.ExpiresAt.Format("15:04:05"), r.Authorization.CaptureAt.Format("15:04:05"))
			if f.state == 1 && w.again() {
				f.state = stateAgain
				return
			}
			f.done = true
		}
	})
}

// releasedByLedger reports whether the ledger let go of ref's hold: a
// final capture or a void of everything, or it is closed.
func (w *world) releasedByLedger(ref holdRef) bool {
	a := w.get(ref)
	return a.ReleasedBy != authcapture.CloseNone || a.Closed()
}
