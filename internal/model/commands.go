package model

import (
	"slices"
	"time"

	"github.com/authcapture/authcapture"
)

// ScheduleMargin is the presets' default Policy.ScheduleMargin: how long
// before the hold's expiry a scheduled action must be due.
const ScheduleMargin = 5 * time.Minute

// Create creates the authorization of requested minor units under p; the
// delays are the schedules asked for (zero for none).
func (l Ledger) Create(p authcapture.Policy, cur authcapture.Currency, requested int64, captureDelay, cancelDelay time.Duration) (Ledger, error) {
	if l.Phase != "" {
		return l, authcapture.ErrAlreadyExists
	}
	n := Ledger{Phase: authcapture.PhaseCreated, Policy: p, Currency: cur, Requested: requested,
		CaptureDelay: captureDelay, CancelDelay: cancelDelay}
	n.accept()
	return n, nil
}

// preApproval is the check of the commands before approval.
func (l Ledger) preApproval(cmd authcapture.Command) error {
	if l.Phase == "" {
		return authcapture.ErrNotFound
	}
	if !l.Status().Accepts(cmd) {
		return authcapture.ErrInvalidStatus
	}
	return nil
}

// MarkPending records that the authorization was sent to the provider.
func (l Ledger) MarkPending() (Ledger, error) {
	return l.decide(authcapture.CmdMarkPending, authcapture.PhasePending, "")
}

// Decline records the issuer's refusal.
func (l Ledger) Decline() (Ledger, error) {
	return l.decide(authcapture.CmdDecline, authcapture.PhaseDeclined, authcapture.CloseDeclined)
}

// Cancel cancels the authorization before approval; after approval it
// voids everything open.
func (l Ledger) Cancel() (Ledger, error) {
	if l.Phase == authcapture.PhaseApproved {
		return l.Void(0, true)
	}
	return l.decide(authcapture.CmdCancel, authcapture.PhaseCanceled, authcapture.CloseCanceled)
}

func (l Ledger) decide(cmd authcapture.Command, phase authcapture.Phase, reason authcapture.CloseReason) (Ledger, error) {
	if err := l.preApproval(cmd); err != nil {
		return l, err
	}
	l.Phase = phase
	if reason != "" {
		l.CloseReason = reason
	}
	l.accept()
	return l, nil
}

// Authorize approves amount at now; the hold expires at explicit, or after
// the policy's validity if explicit is zero. The schedules asked for at
// creation must fall due at least ScheduleMargin before the expiry.
func (l Ledger) Authorize(amount int64, explicit, now time.Time) (Ledger, error) {
	if err := l.preApproval(authcapture.CmdAuthorize); err != nil {
		return l, err
	}
	if amount > l.Requested {
		return l, authcapture.ErrExceedsRequested
	}
	expiresAt := explicit
	if explicit.IsZero() {
		expiresAt = now.Add(l.Policy.Validity)
	}
	latest := expiresAt.Add(-ScheduleMargin)
	var captureAt, cancelAt time.Time
	for _, d := range []struct {
		delay time.Duration
		at    *time.Time
	}{{l.CaptureDelay, &captureAt}, {l.CancelDelay, &cancelAt}} {
		if d.delay == 0 {
			continue
		}
		if *d.at = now.Add(d.delay); !latest.After(now) || d.at.After(latest) {
			return l, authcapture.ErrInvalidSchedule
		}
	}
	l.Phase = authcapture.PhaseApproved
	l.Authorized = amount
	l.ExpiresAt = expiresAt
	l.CaptureAt, l.CancelAt = captureAt, cancelAt
	l.accept()
	return l, nil
}

// openFor is the check before a capture or a void.
func (l Ledger) openFor(cmd authcapture.Command) error {
	if l.Phase == "" {
		return authcapture.ErrNotFound
	}
	if l.HoldExpired {
		return authcapture.ErrExpired
	}
	if !l.Status().Accepts(cmd) {
		return authcapture.ErrInvalidStatus
	}
	return nil
}

// Capture is a capture command.
type Capture struct {
	Amount     int64 // in minor units, unless All
	All        bool  // everything open
	TooPrecise bool  // the amount has more digits than the currency
	Final      *bool // nil for the policy's default
	TwoPhase   bool  // begin a capture rather than capture directly
	ID         string
}

// Capture captures c.Amount, or begins a capture of it: a two-phase capture
// reserves the amount as pending under c.ID. A final capture releases the
// rest.
func (l Ledger) Capture(c Capture) (Ledger, error) {
	cmd := authcapture.CmdCapture
	if c.TwoPhase {
		cmd = authcapture.CmdBeginCapture
	}
	if err := l.openFor(cmd); err != nil {
		return l, err
	}
	if l.finalPending() {
		return l, authcapture.ErrCapturePending
	}
	open, amount := l.Open(), c.Amount
	if open <= 0 {
		return l, authcapture.ErrExceedsCapturable
	}
	if c.All {
		amount = open
	} else if c.TooPrecise {
		return l, authcapture.ErrAmountPrecision
	}
	if amount > open {
		return l, authcapture.ErrExceedsCapturable
	}
	p := l.Policy
	if !p.PartialCapture && (amount != l.Authorized || l.Captures > 0) {
		return l, authcapture.ErrPartialCaptureNotAllowed
	}
	if !p.MultipleCaptures && (l.Captures > 0 || (c.Final != nil && !*c.Final)) {
		return l, authcapture.ErrMultipleCaptureNotAllowed
	}
	if p.MaxCaptures > 0 && l.Captures >= p.MaxCaptures {
		return l, authcapture.ErrTooManyCaptures
	}
	if l.belowMinimum(amount) {
		return l, authcapture.ErrBelowMinimum
	}
	final := p.FinalByDefault
	if c.Final != nil {
		final = *c.Final
	}
	if !p.MultipleCaptures {
		final = true
	}
	l.Captures++
	l.CaptureAt = time.Time{} // an explicit capture overrides the delayed one
	if c.TwoPhase {
		l.Pending += amount
		l.Pendings = append(slices.Clip(l.Pendings), Pending{ID: c.ID, Amount: amount, Final: final})
		l.accept()
		return l, nil
	}
	was := l.Closed()
	l.Captured += amount
	release := authcapture.CloseNone
	if final && l.Open() > 0 {
		l.Voided += l.Open()
		release = authcapture.CloseFinalCapture
	}
	l.close(was, release)
	l.accept()
	return l, nil
}

// belowMinimum reports whether amount is below the policy's minimum
// capture in the currency.
func (l Ledger) belowMinimum(amount int64) bool {
	s, ok := l.Policy.MinCapture[l.Currency]
	if !ok {
		return false
	}
	min, _ := authcapture.ParseAmount(s, l.Currency)
	return amount < min
}

// Settle confirms (or, if !confirm, fails) the pending capture id. A
// confirmed final capture releases the rest; a failed capture's amount
// returns to open, or to expired if the hold expired meanwhile.
func (l Ledger) Settle(id string, confirm bool) (Ledger, error) {
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	i := slices.IndexFunc(l.Pendings, func(p Pending) bool { return p.ID == id })
	if id == "" || i < 0 {
		return l, authcapture.ErrNotFound
	}
	p := l.Pendings[i]
	l.Pendings = slices.Delete(slices.Clone(l.Pendings), i, i+1)
	l.Pending -= p.Amount
	release := authcapture.CloseNone
	if confirm {
		l.Captured += p.Amount
		if p.Final && l.Open() > 0 {
			l.Voided += l.Open()
			release = authcapture.CloseFinalCapture
		}
	} else {
		l.Captures--
		if l.HoldExpired {
			l.Expired += p.Amount
			release = authcapture.CloseExpired
		}
	}
	l.close(false, release)
	l.accept()
	return l, nil
}

// Void releases amount, or all that is open.
func (l Ledger) Void(amount int64, all bool) (Ledger, error) {
	if err := l.openFor(authcapture.CmdVoid); err != nil {
		return l, err
	}
	open := l.Open()
	if open <= 0 {
		return l, authcapture.ErrExceedsCapturable
	}
	if all {
		amount = open
	}
	if amount > open {
		return l, authcapture.ErrExceedsCapturable
	}
	if amount != open && !l.Policy.PartialVoid {
		return l, authcapture.ErrPartialVoidNotAllowed
	}
	was := l.Closed()
	l.Voided += amount
	l.CancelAt = time.Time{} // an explicit void overrides the delayed cancel
	release := authcapture.CloseNone
	if amount == open {
		release = authcapture.CloseVoided
	}
	l.close(was, release)
	l.accept()
	return l, nil
}

// Swept is what one run of the scheduler does to the authorization.
type Swept uint8

const (
	SweptNothing  Swept = iota // not approved or closed: the scheduler may find it, and does nothing
	SweptNotDue                // nothing is due
	SweptExpiry                // the hold's expiry was applied
	SweptCapture               // the scheduled capture of everything open
	SweptCancel                // the scheduled cancel of everything open
	SweptDeferred              // a due action was claimed, then retried later or dropped
)

// Sweep runs the scheduler once at now; lease is how long a claimed action
// stays claimed.
func (l Ledger) Sweep(now time.Time, lease time.Duration) (Ledger, Swept) {
	if l.Phase != authcapture.PhaseApproved || l.Closed() {
		return l, SweptNothing
	}
	if !l.HoldExpired && !now.Before(l.ExpiresAt) {
		return l.Expire(now), SweptExpiry
	}
	captureDue := !l.CaptureAt.IsZero() && !now.Before(l.CaptureAt)
	cancelDue := !l.CancelAt.IsZero() && !now.Before(l.CancelAt)
	switch {
	case captureDue && (!cancelDue || l.CaptureAt.Before(l.CancelAt)):
		return l.scheduledCapture(now, lease)
	case cancelDue:
		l.Version++ // the claim
		l.CancelAt = now.Add(lease)
		open := l.Open()
		if open <= 0 {
			return l, SweptDeferred
		}
		was := l.Closed()
		l.Voided += open
		l.CancelAt = time.Time{}
		l.close(was, authcapture.CloseVoided)
		l.accept()
		return l, SweptCancel
	}
	return l, SweptNotDue
}

// scheduledCapture captures everything open, as the scheduler does when a
// delayed capture falls due: it waits while a capture is pending, and
// drops a capture the policy forbids.
func (l Ledger) scheduledCapture(now time.Time, lease time.Duration) (Ledger, Swept) {
	p, open := l.Policy, l.Open()
	retry, drop := false, false
	switch {
	case l.finalPending():
		retry = true
	case open <= 0:
		retry, drop = l.Pending > 0, l.Pending == 0
	case !p.PartialCapture && (open != l.Authorized || l.Captures > 0),
		!p.MultipleCaptures && l.Captures > 0,
		p.MaxCaptures > 0 && l.Captures >= p.MaxCaptures,
		l.belowMinimum(open):
		drop = true
	}
	switch {
	case retry:
		l.Version++
		l.CaptureAt = now.Add(lease)
		return l, SweptDeferred
	case drop:
		l.Version++
		l.CaptureAt = time.Time{}
		return l, SweptDeferred
	}
	was := l.Closed()
	l.Version++ // begin; accept counts the confirm
	l.Captures++
	l.Captured += open
	l.CaptureAt = time.Time{}
	l.close(was, authcapture.CloseNone)
	l.accept()
	return l, SweptCapture
}
