package model

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/authcapture/authcapture"
)

// ScheduleMargin is the default Policy.ScheduleMargin: how long before
// the hold's expiry a scheduled action must be due.
const ScheduleMargin = 5 * time.Minute

// MaxValidity is how far ahead an explicit ExpiresAt may lie.
const MaxValidity = 90 * 24 * time.Hour

// Create creates the authorization of requested minor units under p; the
// delays are the schedules asked for (zero for none). A delay must fit the
// policy's validity, less its margin, unless the policy clamps schedules;
// a delayed capture must come before a delayed cancel.
func (l Ledger) Create(p authcapture.Policy, cur authcapture.Currency, requested int64, captureDelay, cancelDelay time.Duration) (Ledger, error) {
	if l.Phase != "" {
		return l, authcapture.ErrAlreadyExists
	}
	n := Ledger{Phase: authcapture.PhaseCreated, Policy: p, Currency: cur, Requested: requested,
		CaptureDelay: captureDelay, CancelDelay: cancelDelay}
	if captureDelay != 0 && cancelDelay != 0 && captureDelay >= cancelDelay {
		return l, authcapture.ErrInvalidSchedule
	}
	if latest := p.Validity - n.margin(); !p.ClampSchedules && max(captureDelay, cancelDelay) > latest {
		return l, authcapture.ErrInvalidSchedule
	}
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
// the policy's validity if explicit is zero. An explicit expiry may lie at
// most MaxValidity ahead; one already past is recorded all the same, and
// the hold expires in the same write. The schedules asked for at creation
// never refuse an approval: one that does not fit the hold is clamped or
// dropped (schedule). (The model holds: capture mode automatic, captured
// at approval, is not modelled.)
func (l Ledger) Authorize(amount int64, explicit, now time.Time) (Ledger, error) {
	if err := l.preApproval(authcapture.CmdAuthorize); err != nil {
		return l, err
	}
	if amount > l.Requested {
		return l, authcapture.ErrExceedsRequested
	}
	expiresAt := explicit.UTC()
	if explicit.IsZero() {
		expiresAt = now.Add(l.Policy.Validity)
	} else if explicit.Sub(now) > MaxValidity {
		return l, authcapture.ErrInvalidArgument
	}
	l.Phase = authcapture.PhaseApproved
	l.Authorized = amount
	l.ExpiresAt = expiresAt
	l.AuthorizedAt = now
	if now.Before(expiresAt) {
		l.schedule(now)
		l.notice(now)
	} else {
		l.expire() // the provider's answer came late: the hold lapsed already
	}
	l.accept()
	return l, nil
}

// schedule sets the scheduled actions at approval. Each must be due after
// now and at the latest the margin before the hold's expiry: a later one
// is clamped to that instant if the policy clamps schedules (and that
// instant is after now), else dropped. A delayed cancel that would fall
// due at or before the delayed capture is dropped.
func (l *Ledger) schedule(now time.Time) {
	if l.CaptureDelay != 0 {
		if at, ok := l.fit(now.Add(l.CaptureDelay), now); ok {
			l.CaptureAt = at
		}
	}
	if l.CancelDelay != 0 {
		if at, ok := l.fit(now.Add(l.CancelDelay), now); ok && (l.CaptureAt.IsZero() || l.CaptureAt.Before(at)) {
			l.CancelAt = at
		}
	}
}

// fit fits a schedule due at at to the hold: at the latest the margin
// before its expiry, clamped to that instant if the policy clamps
// schedules (and it is after now), else dropped (false); and after now.
func (l Ledger) fit(at, now time.Time) (time.Time, bool) {
	latest := l.ExpiresAt.Add(-l.margin())
	switch {
	case !at.After(latest):
	case l.Policy.ClampSchedules && latest.After(now):
		at = latest
	default:
		return time.Time{}, false
	}
	return at, at.After(now)
}

// notice sets when the expiring-soon notice of the hold is due: the
// policy's lead time before expiry, if that is after now; else none.
func (l *Ledger) notice(now time.Time) {
	l.NoticeAt = time.Time{}
	if lead := l.Policy.ExpiringSoon; lead > 0 && l.ExpiresAt.Add(-lead).After(now) {
		l.NoticeAt = l.ExpiresAt.Add(-lead)
	}
}

// Reauthorize records a new hold from the provider at now, lapsing at
// explicit, or after the policy's validity if explicit is zero. It needs an
// open hold (not expired, not let go of, no void of the whole hold in
// flight) and the policy's leave: at most MaxReauthorizations, between
// ReauthorizeAfter and ReauthorizeBefore after the approval. An explicit
// expiry must lie after now and at most MaxValidity ahead. The schedules
// still set are fitted to the new hold (a schedule approval clamped to the
// old hold wants its delay from approval again), and the expiring-soon
// notice is due again.
func (l Ledger) Reauthorize(explicit, now time.Time) (Ledger, error) {
	switch {
	case l.Phase == "":
		return l, authcapture.ErrNotFound
	case l.HoldExpired:
		return l, authcapture.ErrExpired
	case !l.Status().Accepts(authcapture.CmdReauthorize), l.ReleasedBy != authcapture.CloseNone:
		return l, authcapture.ErrInvalidStatus
	case slices.ContainsFunc(l.Voids, func(v PendingVoid) bool { return v.Whole }):
		return l, authcapture.ErrActionInFlight
	}
	p := l.Policy
	if l.Reauthorizations >= p.MaxReauthorizations {
		return l, authcapture.ErrReauthorizationNotAllowed
	}
	switch age := now.Sub(l.AuthorizedAt); {
	case age < p.ReauthorizeAfter: // may succeed later
		return l, authcapture.ErrReauthorizationWindow
	case p.ReauthorizeBefore > 0 && age > p.ReauthorizeBefore: // never will
		return l, authcapture.ErrReauthorizationNotAllowed
	}
	expiresAt := explicit.UTC()
	switch {
	case explicit.IsZero() && p.ReauthorizationValidity > 0: // counted from the original authorization
		expiresAt = l.AuthorizedAt.Add(p.ReauthorizationValidity)
		if !expiresAt.After(now) {
			return l, authcapture.ErrReauthorizationNotAllowed
		}
	case explicit.IsZero():
		expiresAt = now.Add(p.Validity)
	case !explicit.After(now) || explicit.Sub(now) > MaxValidity:
		return l, authcapture.ErrInvalidArgument
	}
	oldLatest := l.ExpiresAt.Add(-l.margin())
	l.ExpiresAt = expiresAt
	l.Reauthorizations++
	l.refit(oldLatest, now)
	l.accept()
	return l, nil
}

// refit fits the schedules still set to a hold whose ExpiresAt moved, by
// the rules of approval: a delay clamped to the old hold (due at
// oldLatest) wants its time from approval again, and the expiring-soon
// notice is due for the new expiry.
func (l *Ledger) refit(oldLatest, now time.Time) {
	wants := func(at time.Time, delay time.Duration) time.Time {
		if from := l.AuthorizedAt.Add(delay); at.Equal(oldLatest) && delay != 0 && from.After(oldLatest) {
			return from // clamped to the old hold
		}
		return at
	}
	captureRechecked := !l.CaptureAt.IsZero()
	if captureRechecked {
		at, ok := l.fit(wants(l.CaptureAt, l.CaptureDelay), now)
		if !ok {
			at = time.Time{}
		}
		l.CaptureAt = at
	}
	if !l.CancelAt.IsZero() && !l.scheduledVoidPending() {
		at, ok := l.fit(wants(l.CancelAt, l.CancelDelay), now)
		if ok && captureRechecked && l.CaptureDelay != 0 && !l.CaptureAt.IsZero() && !l.CaptureAt.Before(at) {
			ok = false
		}
		if !ok {
			at = time.Time{}
		}
		l.CancelAt = at
	}
	l.notice(now)
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
	Now        time.Time // when it is recorded, for the refund window; zero if not known
}

// amount resolves a capture's or void's amount: All takes what is open;
// an explicit amount may take up to available. More than available is
// ErrActionInFlight while actions in flight hold the rest, else
// ErrExceedsCapturable.
func (l Ledger) amount(amount int64, all, tooPrecise bool, available int64) (int64, error) {
	open := l.Open()
	if all {
		switch {
		case open > 0:
			return open, nil
		case l.inFlight() > 0:
			return 0, authcapture.ErrActionInFlight
		}
		return 0, authcapture.ErrExceedsCapturable
	}
	if tooPrecise {
		return 0, authcapture.ErrAmountPrecision
	}
	held := open + l.inFlight() - available // out of this command's reach
	switch {
	case amount <= available:
		return amount, nil
	case amount <= available+held:
		return 0, authcapture.ErrActionInFlight
	}
	return 0, authcapture.ErrExceedsCapturable
}

// Capture captures c.Amount, or begins a capture of it: a two-phase capture
// reserves the amount as pending under c.ID. A direct capture may take
// what pending voids reserved (the provider captured first), newest first.
// A final capture lets go of the hold and releases the rest. Nothing may
// begin once the provider let go of the hold.
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
	if c.TwoPhase && l.ReleasedBy != authcapture.CloseNone {
		return l, authcapture.ErrInvalidStatus
	}
	available := l.Open()
	if !c.TwoPhase {
		available += l.PendingVoid
	}
	p := l.Policy
	final := p.FinalByDefault
	if c.Final != nil {
		final = *c.Final
	}
	if !p.MultipleCaptures {
		final = true
	}
	amount, over, err := l.captureAmount(c, final, available)
	if err != nil {
		return l, err
	}
	if !p.PartialCapture && (amount < l.Authorized || l.Captures > 0) {
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
	was := l.Closed()
	l.Captures++
	l.Overcaptured += over
	l.CaptureAt = time.Time{} // an explicit capture overrides the delayed one
	if c.TwoPhase {
		l.Pending += amount
		l.Pendings = append(slices.Clip(l.Pendings), Pending{ID: c.ID, Amount: amount, Final: final})
		l.accept()
		return l, nil
	}
	if open := l.Open(); amount > open {
		l.drawFromVoids(amount - open)
	}
	l.Captured += amount
	l.settled(c.ID)
	l.succeeded(c.ID, amount, c.Now)
	release := authcapture.CloseNone
	if final {
		release = l.releaseRemainder()
	}
	l.close(was, release)
	l.accept()
	return l, nil
}

// captureAmount resolves a capture's amount, and what of it the capture
// takes beyond the hold: an explicit amount above Authorized and above
// what is open and in flight, under a policy with an overcapture
// allowance, is an overcapture. It may take at most the allowance beyond
// Authorized (else ErrExceedsCapturable), and only as a final capture,
// the only one, of a whole hold (else ErrOvercaptureNotAllowed).
func (l Ledger) captureAmount(c Capture, final bool, available int64) (amount, over int64, err error) {
	allowance := Allowance(l.Policy, l.Currency, l.Authorized)
	if !c.All && !c.TooPrecise && allowance > 0 && c.Amount > l.Authorized && c.Amount > l.Open()+l.inFlight() {
		switch {
		case c.Amount > l.Authorized+allowance:
			return 0, 0, authcapture.ErrExceedsCapturable
		case !final, l.Captures > 0, l.Open() != l.Authorized, l.ReleasedBy != authcapture.CloseNone,
			l.AmountChanges > 0, l.Change.Delta != 0:
			return 0, 0, authcapture.ErrOvercaptureNotAllowed
		}
		return c.Amount, c.Amount - l.Open(), nil
	}
	amount, err = l.amount(c.Amount, c.All, c.TooPrecise, available)
	return amount, 0, err
}

// Allowance is how much more than authorized minor units of currency c a
// single final capture may take under p: OvercapturePercent percent of
// authorized, rounded down, and at most OvercaptureMax[c] when c is
// listed. The model computes it on its own, in big integers.
func Allowance(p authcapture.Policy, c authcapture.Currency, authorized int64) int64 {
	if p.OvercapturePercent <= 0 || authorized <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(authorized), big.NewInt(int64(p.OvercapturePercent)))
	allowance := n.Div(n, big.NewInt(100)).Int64()
	if s, ok := p.OvercaptureMax[c]; ok {
		most, err := authcapture.ParseAmount(s, c)
		if err != nil {
			panic(fmt.Sprintf("model: OvercaptureMax[%s] %q: %v", c, s, err))
		}
		allowance = min(allowance, most)
	}
	return allowance
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

// Settle is SettleAt at an unknown time (no refund window counts from it).
func (l Ledger) Settle(id string, confirm bool) (Ledger, error) {
	return l.SettleAt(id, confirm, time.Time{})
}

// SettleAt confirms (or, if !confirm, fails) the pending capture id at now. A
// confirmed final capture lets go of the hold and releases the rest; a
// failed capture gives its amount back (giveBack). A capture no longer
// pending is ErrCaptureSettled; one never begun, ErrNotFound.
func (l Ledger) SettleAt(id string, confirm bool, now time.Time) (Ledger, error) {
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	i := slices.IndexFunc(l.Pendings, func(p Pending) bool { return p.ID == id })
	switch {
	case id != "" && i < 0 && slices.Contains(l.Settled, id):
		return l, authcapture.ErrCaptureSettled
	case id == "" || i < 0:
		return l, authcapture.ErrNotFound
	}
	p := l.Pendings[i]
	l.settled(p.ID)
	l.Pendings = slices.Delete(slices.Clone(l.Pendings), i, i+1)
	l.Pending -= p.Amount
	release := authcapture.CloseNone
	if confirm {
		l.Captured += p.Amount
		l.succeeded(p.ID, p.Amount, now)
		if p.Final {
			release = l.releaseRemainder()
		}
	} else {
		l.Captures--
		back := p.Amount
		if l.Overcaptured > 0 { // the overcapture failed: the hold is as it was
			back -= l.Overcaptured
			l.Overcaptured = 0
		}
		release = l.giveBack(back)
	}
	l.close(false, release)
	l.accept()
	return l, nil
}

// voidAmount checks a void of amount (or all) against the policy and
// resolves it from available; whole reports a void of the whole hold.
func (l Ledger) voidAmount(amount int64, all bool, available int64) (n int64, whole bool, err error) {
	if n, err = l.amount(amount, all, false, available); err != nil {
		return 0, false, err
	}
	if n != l.Open() && n != available && !l.Policy.PartialVoid { // everything open, or all it may take
		return 0, false, authcapture.ErrPartialVoidNotAllowed
	}
	return n, all || !l.Policy.PartialVoid, nil
}

// Void records a direct void of amount, or of all that is open: it may
// take what pending voids reserved, newest first. A void of the whole hold
// lets go of it.
func (l Ledger) Void(amount int64, all bool) (Ledger, error) {
	if err := l.openFor(authcapture.CmdVoid); err != nil {
		return l, err
	}
	amount, whole, err := l.voidAmount(amount, all, l.Open()+l.PendingVoid)
	if err != nil {
		return l, err
	}
	was := l.Closed()
	if open := l.Open(); amount > open {
		l.drawFromVoids(amount - open)
	}
	l.Voided += amount
	release := l.voided(whole)
	l.overrideCancel()
	l.close(was, release)
	l.accept()
	return l, nil
}

// BeginVoid reserves a two-phase void of amount, or of all that is open,
// under id. It is refused once the provider let go of the hold.
func (l Ledger) BeginVoid(id string, amount int64, all bool) (Ledger, error) {
	return l.beginVoid(id, amount, all, false)
}

func (l Ledger) beginVoid(id string, amount int64, all, scheduled bool) (Ledger, error) {
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	if l.ReleasedBy != authcapture.CloseNone {
		return l, authcapture.ErrInvalidStatus
	}
	if err := l.openFor(authcapture.CmdBeginVoid); err != nil {
		return l, err
	}
	amount, whole, err := l.voidAmount(amount, all, l.Open())
	if err != nil {
		return l, err
	}
	l.PendingVoid += amount
	l.Voids = append(slices.Clip(l.Voids), PendingVoid{ID: id, Amount: amount, Whole: whole, Scheduled: scheduled})
	if !scheduled {
		l.overrideCancel()
	}
	l.accept()
	return l, nil
}

// ConfirmVoid settles the pending void id as carried out: released (nil
// for all it still reserves) is voided, the rest returns to open (or
// expires, if the hold lapsed). A void of the whole hold lets go of it, and
// may report up to what was never captured: what it reserved and what is
// open are voided now, the rest as captures in flight fail.
func (l Ledger) ConfirmVoid(id string, released *int64) (Ledger, error) {
	return l.settleVoid(id, true, released)
}

// FailVoid settles the pending void id as refused: its reservation is
// given back (giveBack).
func (l Ledger) FailVoid(id string) (Ledger, error) {
	return l.settleVoid(id, false, nil)
}

func (l Ledger) settleVoid(id string, confirm bool, released *int64) (Ledger, error) {
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	i := l.voidIndex(id)
	if i < 0 {
		return l, authcapture.ErrNotFound
	}
	pv := l.Voids[i]
	r := pv.Amount
	if confirm && released != nil {
		most := pv.Amount
		if pv.Whole {
			most = l.Authorized - l.Captured // all the provider may have let go
		}
		if *released > most {
			return l, authcapture.ErrExceedsCapturable
		}
		r = min(*released, pv.Amount+l.Open()) // the rest is released as captures in flight fail
	}
	was := l.Closed()
	l.Voids = slices.Delete(slices.Clone(l.Voids), i, i+1)
	if len(l.Voids) == 0 {
		l.Voids = nil
	}
	l.PendingVoid -= pv.Amount
	if pv.Scheduled {
		l.CancelAt = time.Time{} // the delayed cancel is done, either way
	}
	var release authcapture.CloseReason
	if confirm {
		l.Voided += r
		if rest := pv.Amount - r; rest > 0 && l.HoldExpired {
			l.Expired += rest // not released, and nothing can take it after the hold lapsed
		}
		release = l.voided(pv.Whole)
	} else {
		release = l.giveBack(pv.Amount)
	}
	l.close(was, release)
	l.accept()
	return l, nil
}

// Swept is what one run of the scheduler does to the authorization.
type Swept uint8

const (
	SweptNothing      Swept = iota // not approved or closed: the scheduler may find it, and does nothing
	SweptNotDue                    // nothing is due
	SweptExpiry                    // the hold's expiry was applied
	SweptCapture                   // the scheduled capture of everything open
	SweptCancel                    // the scheduled cancel was carried out (ConfirmVoid)
	SweptCancelFailed              // the provider refused the scheduled cancel (FailVoid)
	SweptUnknown                   // the provider's answer is unknown: the void stays pending
	SweptDeferred                  // a due action was claimed, then retried later or dropped
	SweptNotice                    // only the expiring-soon notice was sent
)

// VoidAnswer is the provider's answer to a scheduled void.
type VoidAnswer struct {
	Released int64 // what it released, if it carried the void out
	Declined bool  // it refused
	Unknown  bool  // no answer
}

// Provider answers a scheduled void of amount begun on l as id. It may
// change the ledger first (the host records a capture the provider took
// meanwhile) and returns the ledger then.
type Provider func(l Ledger, id string, amount int64) (Ledger, VoidAnswer)

// Sweep runs the scheduler once at now; lease is how long a claimed action
// stays claimed; void answers a scheduled cancel's void.
func (l Ledger) Sweep(now time.Time, lease time.Duration, void Provider) (Ledger, Swept) {
	if l.Phase != authcapture.PhaseApproved || l.Closed() {
		return l, SweptNothing
	}
	if !l.HoldExpired && !now.Before(l.ExpiresAt) {
		return l.Expire(now), SweptExpiry
	}
	notified := false
	if !l.NoticeAt.IsZero() && !now.Before(l.NoticeAt) {
		// The expiring-soon notice, in a write of its own, before the
		// actions due.
		l.NoticeAt = time.Time{}
		l.Notices++
		l.Version++
		notified = true
	}
	captureDue := !l.CaptureAt.IsZero() && !now.Before(l.CaptureAt)
	cancelDue := !l.CancelAt.IsZero() && !now.Before(l.CancelAt)
	switch {
	case captureDue && (!cancelDue || l.CaptureAt.Before(l.CancelAt)):
		return l.scheduledCapture(now, lease)
	case cancelDue:
		return l.scheduledCancel(now, lease, void)
	case notified:
		return l, SweptNotice
	}
	return l, SweptNotDue
}

// scheduledCancel is a delayed cancel falling due: a two-phase void of
// everything open (or the re-drive of one left pending), settled with the
// provider's answer. It waits while nothing is open and actions are in
// flight, and drops a cancel that cannot begin otherwise.
func (l Ledger) scheduledCancel(now time.Time, lease time.Duration, void Provider) (Ledger, Swept) {
	i := -1
	for k, pv := range l.Voids {
		if pv.Scheduled {
			i = k
		}
	}
	if i < 0 {
		id := fmt.Sprintf("sched_void_%d", l.Version)
		next, err := l.beginVoid(id, 0, true, true)
		switch {
		case errors.Is(err, authcapture.ErrActionInFlight):
			l.Version++
			l.CancelAt = now.Add(lease)
			return l, SweptDeferred
		case err != nil:
			l.Version++
			l.CancelAt = time.Time{}
			return l, SweptDeferred
		}
		l = next
		i = len(l.Voids) - 1
	} else {
		l.Version++ // the claim
	}
	l.CancelAt = now.Add(lease)
	pv := l.Voids[i]
	l, answer := void(l, pv.ID, pv.Amount)
	var err error
	switch {
	case answer.Unknown:
		return l, SweptUnknown
	case answer.Declined:
		l, err = l.FailVoid(pv.ID)
		if err == nil {
			return l, SweptCancelFailed
		}
	default:
		l, err = l.ConfirmVoid(pv.ID, &answer.Released)
		if err == nil {
			return l, SweptCancel
		}
	}
	return l, SweptUnknown // the settle was rejected: the void stays pending
}

// scheduledCapture captures everything open, as the scheduler does when a
// delayed capture falls due: it waits while actions in flight hold
// everything, and drops a capture that cannot begin otherwise.
func (l Ledger) scheduledCapture(now time.Time, lease time.Duration) (Ledger, Swept) {
	p, open := l.Policy, l.Open()
	retry, drop := false, false
	switch {
	case l.finalPending():
		retry = true
	case l.ReleasedBy != authcapture.CloseNone:
		drop = true
	case open <= 0:
		retry, drop = l.inFlight() > 0, l.inFlight() == 0
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
	id := fmt.Sprintf("sched_%d", l.Version) // named after the version found due
	l.Version++                              // begin; accept counts the confirm
	l.Captures++
	l.Captured += open
	l.settled(id)
	l.succeeded(id, open, now)
	l.ReleasedBy = authcapture.CloseFinalCapture
	l.CaptureAt = time.Time{}
	l.close(was, authcapture.CloseNone)
	l.accept()
	return l, SweptCapture
}

// Refund is a refund command.
type Refund struct {
	Amount     int64  // in minor units
	TooPrecise bool   // the amount has more digits than the currency
	CaptureID  string // the capture refunded; empty for the total
	TwoPhase   bool   // begin a refund rather than record one
	ID         string // the refund's ID, as the Service names it
	Now        time.Time
}

// Refund records a refund, or begins one (r.TwoPhase). Refunds change the
// refund ledger only, never the hold, and are accepted on a closed
// (captured) authorization; on one still open to capture only under a
// policy with RefundBeforeFinalCapture. A refund naming a capture gives
// back at most what it captured, less the refunds naming it; in total at
// most what was captured less what was refunded or is being refunded. A
// policy's RefundWindow counts from the capture named, or from the latest
// capture for a refund against the total (captures recorded without a
// time count as never: the window is not checked against them).
func (l Ledger) Refund(r Refund) (Ledger, error) {
	cmd := authcapture.CmdRefund
	if r.TwoPhase {
		cmd = authcapture.CmdBeginRefund
	}
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	if !l.Status().Accepts(cmd) {
		return l, authcapture.ErrInvalidStatus
	}
	if !l.Closed() && !l.Policy.RefundBeforeFinalCapture {
		return l, authcapture.ErrRefundNotAllowed
	}
	if r.TooPrecise {
		return l, authcapture.ErrAmountPrecision
	}
	window := func(at time.Time) bool {
		return l.Policy.RefundWindow > 0 && !at.IsZero() && !r.Now.Before(at.Add(l.Policy.RefundWindow))
	}
	if r.CaptureID != "" {
		i := slices.IndexFunc(l.Succeeded, func(c Captured) bool { return c.ID == r.CaptureID })
		switch {
		case slices.ContainsFunc(l.Pendings, func(p Pending) bool { return p.ID == r.CaptureID }):
			return l, authcapture.ErrActionInFlight
		case i < 0 && slices.Contains(l.Settled, r.CaptureID):
			return l, authcapture.ErrCaptureNotRefundable
		case i < 0:
			return l, authcapture.ErrNotFound
		case window(l.Succeeded[i].At):
			return l, authcapture.ErrRefundWindowClosed
		}
		left := l.Succeeded[i].Amount
		for _, x := range l.Refunds {
			if x.CaptureID == r.CaptureID {
				left -= x.Amount
			}
		}
		if r.Amount > left {
			return l, authcapture.ErrExceedsRefundable
		}
	} else {
		var latest time.Time
		for _, c := range l.Succeeded {
			if c.At.After(latest) {
				latest = c.At
			}
		}
		if window(latest) {
			return l, authcapture.ErrRefundWindowClosed
		}
	}
	switch left := l.Refundable(); {
	case r.Amount <= left:
	case r.Amount <= left+l.PendingRefund:
		return l, authcapture.ErrActionInFlight
	default:
		return l, authcapture.ErrExceedsRefundable
	}
	l.Refunds = append(slices.Clip(l.Refunds), Refunded{ID: r.ID, CaptureID: r.CaptureID, Amount: r.Amount, Pending: r.TwoPhase})
	if r.TwoPhase {
		l.PendingRefund += r.Amount
	} else {
		l.Refunded += r.Amount
	}
	l.accept()
	return l, nil
}

// AmountChange is an amount-change command: a new total, or a signed
// delta, answered at once (approved, or Declined) or begun (TwoPhase).
type AmountChange struct {
	Total      int64 // the new authorized total, if ByTotal
	ByTotal    bool
	Delta      int64 // the signed change, unless ByTotal
	TooPrecise bool  // the amount has more digits than the currency
	Declined   bool  // a direct change the provider declined
	TwoPhase   bool  // begin the change rather than record the answer
	ID         string
}

// ChangeAmount applies an amount change at now: the hold must be approved,
// not lapsed nor let go of, with no other change nor an overcapture in
// flight; the policy must
// allow the direction and the authorization type, before the first capture
// if it says so, within its attempt cap; a decrease must leave part of what
// is open (ErrActionInFlight if actions in flight hold what it lacks,
// ErrBelowCaptured otherwise). Declined, only the attempt counts; begun, a
// decrease reserves its amount; approved, see approveChange.
func (l Ledger) ChangeAmount(c AmountChange, now time.Time) (Ledger, error) {
	cmd := authcapture.CmdChangeAmount
	if c.TwoPhase {
		cmd = authcapture.CmdBeginAmountChange
	}
	if err := l.openFor(cmd); err != nil {
		return l, err
	}
	if l.ReleasedBy != authcapture.CloseNone {
		return l, authcapture.ErrInvalidStatus
	}
	if l.Change.Delta != 0 || l.Overcaptured > 0 { // another change, or an overcapture, in flight
		return l, authcapture.ErrActionInFlight
	}
	if c.TooPrecise {
		return l, authcapture.ErrAmountPrecision
	}
	delta := c.Delta
	if c.ByTotal {
		delta = c.Total - l.Authorized
	}
	p := l.Policy
	typ := l.AuthType
	if typ == "" {
		typ = authcapture.AuthorizationFinal
	}
	open := l.Open()
	switch {
	case delta == 0:
		return l, authcapture.ErrInvalidAmount
	case delta > 0 && !p.IncrementalAuthorization, delta < 0 && !p.DecrementalAuthorization:
		return l, authcapture.ErrAmountChangeNotAllowed
	case len(p.AmountChangeTypes) > 0 && !slices.Contains(p.AmountChangeTypes, typ):
		return l, authcapture.ErrAuthorizationTypeNotAllowed
	case p.AmountChangeBeforeCapture && l.Captures > 0:
		return l, authcapture.ErrAmountChangeAfterCapture
	case p.MaxAmountChangeAttempts > 0 && l.ChangeAttempts >= p.MaxAmountChangeAttempts:
		return l, authcapture.ErrTooManyAmountChanges
	case delta > 0 && l.Authorized+delta > authcapture.MaxMinorUnits:
		return l, authcapture.ErrAmountTooLarge
	case -delta >= open && -delta < open+l.inFlight():
		return l, authcapture.ErrActionInFlight
	case -delta >= open:
		return l, authcapture.ErrBelowCaptured
	}
	l.ChangeAttempts++
	switch {
	case c.TwoPhase:
		l.PendingDecrement += max(-delta, 0)
		l.Change = PendingChange{ID: c.ID, Delta: delta}
	case !c.Declined:
		l.approveChange(delta, now)
	}
	l.accept()
	return l, nil
}

// SettleRefund confirms (or, if !confirm, fails) the pending refund id:
// confirmed, its amount is refunded; failed, it is refundable again. A
// refund not pending is ErrNotFound.
func (l Ledger) SettleRefund(id string, confirm bool) (Ledger, error) {
	if l.Phase == "" {
		return l, authcapture.ErrNotFound
	}
	i := slices.IndexFunc(l.Refunds, func(r Refunded) bool { return r.Pending && r.ID == id })
	if id == "" || i < 0 {
		return l, authcapture.ErrNotFound
	}
	r := l.Refunds[i]
	l.Refunds = slices.Clone(l.Refunds)
	l.PendingRefund -= r.Amount
	if confirm {
		l.Refunds[i].Pending = false
		l.Refunded += r.Amount
	} else {
		l.Refunds = slices.Delete(l.Refunds, i, i+1)
	}
	l.accept()
	return l, nil
}

// approveChange applies an approved change of delta at now: Authorized
// moves by it (Requested rises with it), and the hold is kept for the
// policy's AmountChangeValidity from now if that is later than its expiry,
// with the expiring-soon notice set for the new expiry. An increase approved once the hold lapsed or was let go of is released
// at once. It returns the release reason, if any.
func (l *Ledger) approveChange(delta int64, now time.Time) authcapture.CloseReason {
	l.Authorized += delta
	l.Requested = max(l.Requested, l.Authorized)
	l.AmountChanges++
	if delta > 0 && (l.ReleasedBy != authcapture.CloseNone || l.HoldExpired) {
		return l.giveBack(delta)
	}
	if v := l.Policy.AmountChangeValidity; v > 0 && !l.HoldExpired && l.ReleasedBy == authcapture.CloseNone {
		if at := now.Add(v); at.After(l.ExpiresAt) {
			oldLatest := l.ExpiresAt.Add(-l.margin())
			l.ExpiresAt = at
			l.refit(oldLatest, now) // as a reauthorization does
		}
	}
	return authcapture.CloseNone
}

// SettleChange confirms (or, if !confirm, declines) the pending amount
// change id at now. A declined decrease gives its reservation back
// (giveBack); a change not pending is ErrNotFound.
func (l Ledger) SettleChange(id string, confirm bool, now time.Time) (Ledger, error) {
	if l.Phase == "" || l.Change.Delta == 0 || id == "" || l.Change.ID != id {
		return l, authcapture.ErrNotFound
	}
	delta := l.Change.Delta
	decrease := max(-delta, 0)
	l.Change = PendingChange{}
	l.PendingDecrement -= decrease
	var release authcapture.CloseReason
	if confirm {
		release = l.approveChange(delta, now)
	} else {
		release = l.giveBack(decrease)
	}
	l.close(false, release)
	l.accept()
	return l, nil
}
