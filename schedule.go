package authcapture

import (
	"fmt"
	"time"
)

// CaptureMode says when an authorization is captured.
type CaptureMode string

// The capture modes.
const (
	// CaptureManual: the host captures when it decides (the default).
	CaptureManual CaptureMode = "manual"
	// CaptureAutomatic: the provider authorized and captured at once; the
	// approval is recorded as two entries, authorized then captured.
	CaptureAutomatic CaptureMode = "automatic"
	// CaptureDelayed: the scheduler captures everything open after
	// CaptureDelay, unless a capture comes first.
	CaptureDelayed CaptureMode = "delayed"
)

// CancelMode says whether an authorization cancels itself.
type CancelMode string

// The cancel modes.
const (
	// CancelManual: only the host voids (the default).
	CancelManual CancelMode = "manual"
	// CancelDelayed: the scheduler voids everything open after
	// CancelDelay, unless a void comes first.
	CancelDelayed CancelMode = "delayed"
)

// ExpiryAction says what happens to the open amount when the hold lapses.
type ExpiryAction string

// The expiry actions.
const (
	// ExpiryRelease: the open amount is released (the default).
	ExpiryRelease ExpiryAction = "release"
	// ExpiryCapture: the open amount is captured before the hold lapses,
	// by a scheduled capture a safety margin before ExpiresAt.
	ExpiryCapture ExpiryAction = "capture"
)

// scheduleSpec is a create request's schedule after defaults.
type scheduleSpec struct {
	CaptureMode  CaptureMode
	CaptureDelay time.Duration
	CancelMode   CancelMode
	CancelDelay  time.Duration
	ExpiryAction ExpiryAction
}

// checkSchedule validates a create request's modes and delays against the
// policy and fills in defaults. Delays count from approval, so they are
// checked against the policy's validity here and against the actual
// ExpiresAt again at approval.
func (p *Policy) checkSchedule(req CreateRequest) (scheduleSpec, error) {
	sp := scheduleSpec{CaptureMode: req.CaptureMode, CaptureDelay: req.CaptureDelay,
		CancelMode: req.CancelMode, CancelDelay: req.CancelDelay, ExpiryAction: req.ExpiryAction}
	bad := func(format string, args ...any) (scheduleSpec, error) {
		return scheduleSpec{}, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalidSchedule)
	}
	if sp.CaptureMode == "" {
		sp.CaptureMode = p.DefaultCaptureMode
	}
	if sp.CancelMode == "" {
		sp.CancelMode = CancelManual
	}
	if sp.ExpiryAction == "" {
		sp.ExpiryAction = p.ExpiryAction
	}
	switch sp.CaptureMode {
	case CaptureManual, CaptureAutomatic, CaptureDelayed:
	default:
		return bad("unknown capture mode %q", truncate(string(sp.CaptureMode), 32))
	}
	switch sp.CancelMode {
	case CancelManual, CancelDelayed:
	default:
		return bad("unknown cancel mode %q", truncate(string(sp.CancelMode), 32))
	}
	if sp.ExpiryAction != ExpiryRelease && sp.ExpiryAction != ExpiryCapture {
		return bad("unknown expiry action %q", truncate(string(sp.ExpiryAction), 32))
	}
	if !p.allowsCapture(sp.CaptureMode) {
		return bad("policy %s does not allow capture mode %s", p.Name, sp.CaptureMode)
	}
	if !p.allowsCancel(sp.CancelMode) {
		return bad("policy %s does not allow cancel mode %s", p.Name, sp.CancelMode)
	}
	if sp.CaptureDelay < 0 || sp.CancelDelay < 0 {
		return bad("delays must be positive")
	}
	if sp.CaptureMode != CaptureDelayed && sp.CaptureDelay != 0 {
		return bad("a capture delay needs capture mode delayed")
	}
	if sp.CancelMode != CancelDelayed && sp.CancelDelay != 0 {
		return bad("a cancel delay needs cancel mode delayed")
	}
	if sp.CaptureMode == CaptureDelayed && sp.CaptureDelay == 0 {
		sp.CaptureDelay = p.DefaultCaptureDelay
	}
	if sp.CancelMode == CancelDelayed && sp.CancelDelay == 0 {
		return bad("cancel mode delayed needs a cancel delay")
	}
	if sp.CaptureMode == CaptureAutomatic && (sp.CancelMode == CancelDelayed || sp.ExpiryAction == ExpiryCapture) {
		return bad("capture mode automatic captures at approval; a delayed cancel or an expiry action could never fire")
	}
	if sp.CaptureMode == CaptureDelayed && sp.CancelMode == CancelDelayed && sp.CaptureDelay >= sp.CancelDelay {
		return bad("capture delay %s must be shorter than cancel delay %s, or the cancel fires first",
			FormatDelay(sp.CaptureDelay), FormatDelay(sp.CancelDelay))
	}
	latest := p.Validity - p.ScheduleMargin
	for _, d := range []struct {
		name  string
		delay time.Duration
	}{{"capture delay", sp.CaptureDelay}, {"cancel delay", sp.CancelDelay}} {
		if d.delay > latest && !p.ClampSchedules {
			return bad("%s %s falls within %s of the %s hold's expiry", d.name, FormatDelay(d.delay),
				p.ScheduleMargin, FormatDelay(p.Validity))
		}
	}
	return sp, nil
}

// schedule sets CaptureAt and CancelAt at approval, and the expiring-soon
// notice: the delays count from now.
func (ch *change) schedule(p *Policy) {
	a := ch.a
	w := scheduleWant{approval: true}
	if a.CaptureMode == CaptureDelayed || a.ExpiryAction == ExpiryCapture {
		w.capture = true
		if a.CaptureMode == CaptureDelayed {
			w.captureAt, w.delayed = ch.now.Add(a.CaptureDelay), true
		}
	}
	if a.CancelMode == CancelDelayed {
		w.cancel, w.cancelAt = true, ch.now.Add(a.CancelDelay)
	}
	ch.fitSchedules(p, w)
	ch.scheduleNotice(p)
}

// scheduleWant is what fitSchedules fits to the hold: the scheduled
// capture (at captureAt; a zero captureAt is the expiry capture, the
// policy's margin before ExpiresAt; delayed if it is the delayed capture)
// and the scheduled cancel, each only if set.
type scheduleWant struct {
	capture, delayed, cancel bool
	captureAt, cancelAt      time.Time
	approval                 bool // record every schedule, changed or not
}

// fitSchedules fits the wanted schedules to the hold the provider gave, at
// approval and again at a reauthorization. A time later than
// ExpiresAt-ScheduleMargin does not fit: it is clamped to that instant if
// the policy says so, else dropped; a delayed cancel that would fall due at
// or before the delayed capture is dropped. Either way the command is
// recorded, with a schedule entry and event saying what became of each
// schedule whose time changed.
func (ch *change) fitSchedules(p *Policy, w scheduleWant) {
	a := ch.a
	latest := a.ExpiresAt.Add(-p.ScheduleMargin)
	fit := func(at time.Time) (time.Time, bool) {
		switch {
		case !at.After(latest):
			return at, true
		case p.ClampSchedules && latest.After(ch.now):
			return latest, true
		}
		return time.Time{}, false
	}
	if w.capture {
		want := w.captureAt
		if want.IsZero() {
			want = latest
		}
		at, ok := fit(want)
		if !ok || !at.After(ch.now) {
			at = time.Time{}
		}
		ch.setSchedule(&a.CaptureAt, at, w.approval, ReasonCaptureScheduled, ReasonCaptureUnfit)
	}
	if w.cancel {
		at, ok := fit(w.cancelAt)
		if ok && w.delayed && !a.CaptureAt.IsZero() && !a.CaptureAt.Before(at) {
			ok = false // clamped to the capture's time or earlier, it would fire first
		}
		if !ok || !at.After(ch.now) {
			at = time.Time{}
		}
		ch.setSchedule(&a.CancelAt, at, w.approval, ReasonCancelScheduled, ReasonCancelUnfit)
	}
}

// setSchedule sets *field (CaptureAt or CancelAt) to at (zero: none, as
// unfit) and records it, with the reason scheduled or unfit: always at
// approval, else if it changed.
func (ch *change) setSchedule(field *time.Time, at time.Time, approval bool, scheduled, unfit Reason) {
	if at.Equal(*field) && !approval {
		return
	}
	*field = at
	if at.IsZero() {
		ch.scheduleEntry(unfit, at)
	} else {
		ch.scheduleEntry(scheduled, at)
	}
}

// rescheduleForHold fits the schedules still set to the new hold a
// reauthorization recorded; oldExpiresAt is when the replaced hold would
// have lapsed. The rules are approval's (fitSchedules), on the times the
// schedules want: a delayed capture or cancel that approval clamped to the
// old hold wants its delay from approval again, an expiry capture follows
// the new expiry, and any other time (a delayed action not clamped, a
// retry, a deferral) stays as it is if it fits. A scheduled action
// already at the provider keeps its lease; a schedule that fired, was
// dropped or was overridden stays gone. The expiring-soon notice is set
// for the new hold.
func (ch *change) rescheduleForHold(p *Policy, oldExpiresAt time.Time) {
	a := ch.a
	oldLatest := oldExpiresAt.Add(-p.ScheduleMargin)
	var w scheduleWant
	if !a.CaptureAt.IsZero() && !a.scheduledPending() {
		w.capture = true
		delayedAt := a.AuthorizedAt.Add(a.CaptureDelay)
		switch {
		case a.CaptureAt.Equal(oldLatest) && a.CaptureMode == CaptureDelayed && a.CaptureFailures == 0 && delayedAt.After(oldLatest):
			w.captureAt, w.delayed = delayedAt, true // clamped at approval
		case a.CaptureAt.Equal(oldLatest) && a.ExpiryAction == ExpiryCapture:
			// the expiry capture: zero follows the new expiry
		default:
			w.captureAt, w.delayed = a.CaptureAt, a.CaptureMode == CaptureDelayed
		}
	}
	if !a.CancelAt.IsZero() && !a.scheduledVoidPending() {
		w.cancel, w.cancelAt = true, a.CancelAt
		if delayedAt := a.AuthorizedAt.Add(a.CancelDelay); a.CancelAt.Equal(oldLatest) && delayedAt.After(oldLatest) {
			w.cancelAt = delayedAt // clamped at approval
		}
	}
	ch.fitSchedules(p, w)
	ch.scheduleNotice(p)
}

// scheduleNotice sets when the expiring-soon notice of the current hold
// is due: the policy's ExpiringSoon before ExpiresAt, if that is still
// ahead; otherwise (or with no lead time) no notice is due for this hold.
func (ch *change) scheduleNotice(p *Policy) {
	a := ch.a
	var at time.Time
	if p.ExpiringSoon > 0 {
		if t := a.ExpiresAt.Add(-p.ExpiringSoon); t.After(ch.now) {
			at = t
		}
	}
	if at.Equal(a.ExpiringNoticeAt) {
		return
	}
	a.ExpiringNoticeAt = at
	if !at.IsZero() {
		ch.scheduleEntry(ReasonExpiringNoticeScheduled, at)
	}
}

// notifyExpiring records the expiring-soon notice of the current hold:
// a schedule entry and the authorization.expiring_soon event, once.
func (ch *change) notifyExpiring() {
	a := ch.a
	a.ExpiringNoticeAt = time.Time{}
	seq := ch.entry(Entry{Kind: EntrySchedule, Reason: ReasonExpiringSoon, Reference: a.ExpiresAt.UTC().Format(time.RFC3339Nano)})
	ch.event(EventExpiringSoon, seq, 0)
}

// scheduleEntry records a schedule change: the new due time, or none.
func (ch *change) scheduleEntry(reason Reason, at time.Time) {
	ref := ""
	if !at.IsZero() {
		ref = at.UTC().Format(time.RFC3339Nano)
	}
	seq := ch.entry(Entry{Kind: EntrySchedule, Reason: reason, Reference: ref})
	ch.event(EventScheduleUpdated, seq, 0)
}

// overrideCapture applies an explicit capture's effect on the schedule: a
// pending delayed capture is dropped; an expiry capture stays, for whatever
// is still open then.
func (ch *change) overrideCapture() {
	a := ch.a
	if a.CaptureAt.IsZero() || a.CaptureMode != CaptureDelayed {
		return
	}
	a.CaptureAt = time.Time{}
	a.CaptureFailures = 0
	if a.ExpiryAction == ExpiryCapture {
		if p, ok := ch.policy(); ok {
			a.CaptureAt = a.ExpiresAt.Add(-p.ScheduleMargin)
		}
	}
	ch.scheduleEntry(ReasonCaptureUnscheduled, a.CaptureAt)
}

// overrideCancel applies an explicit void's effect: a delayed cancel not
// yet begun is dropped.
func (ch *change) overrideCancel() {
	if ch.a.CancelAt.IsZero() || ch.a.scheduledVoidPending() {
		return // a cancel already at the provider keeps its lease, so the scheduler settles it
	}
	ch.a.CancelAt = time.Time{}
	ch.scheduleEntry(ReasonCancelUnscheduled, time.Time{})
}

// nextDue is the earliest of expiry, scheduled capture, scheduled cancel
// and the expiring-soon notice while the authorization is open; zero
// otherwise.
func nextDue(a *Authorization) time.Time {
	if a.Phase != PhaseApproved || a.Closed() {
		return time.Time{}
	}
	var due time.Time
	for _, t := range []time.Time{a.CaptureAt, a.CancelAt, a.ExpiringNoticeAt} {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	if !a.HoldExpired() && (due.IsZero() || a.ExpiresAt.Before(due)) {
		due = a.ExpiresAt
	}
	return due
}

// settleScheduled updates the schedule after a scheduled capture settles:
// a success ends it; a refusal is retried with exponential backoff, within
// the policy's retries and before the hold's margin, or dropped.
func (ch *change) settleScheduled(succeeded bool) {
	a := ch.a
	if succeeded {
		a.CaptureFailures = 0
		a.CaptureAt = time.Time{}
		return
	}
	a.CaptureFailures++
	p, ok := ch.policy()
	var at time.Time
	if ok && a.CaptureFailures <= p.CaptureRetries && !a.HoldExpired() {
		at = ch.now.Add(p.CaptureRetryBackoff << (a.CaptureFailures - 1))
		if latest := a.ExpiresAt.Add(-p.ScheduleMargin); at.After(latest) {
			at = latest
		}
		if !at.After(ch.now) {
			at = time.Time{}
		}
	}
	a.CaptureAt = at
	if at.IsZero() {
		ch.scheduleEntry(ReasonCaptureUnscheduled, at)
	} else {
		ch.scheduleEntry(ReasonCaptureScheduled, at)
	}
}
