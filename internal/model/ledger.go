// Package model is the reference model of one authorization that the tests
// check the Service and every store against: its ledgers, the rules of the
// commands that change them (docs/design.md, "Commands and their rules"),
// and the invariants of the aggregate over an authorization and its log
// (docs/design.md, "Invariants"). It is plain Go, a few lines per rule.
package model

import (
	"fmt"
	"slices"
	"time"

	"github.com/authcapture/authcapture"
)

// Ledger is the model of one authorization. Its commands are methods on a
// value: each returns the ledger after the command, or the receiver
// unchanged and the sentinel the Service must reject the command with (a
// rejected command changes nothing, invariant 6).
type Ledger struct {
	Phase    authcapture.Phase // "" until created
	Policy   authcapture.Policy
	Currency authcapture.Currency

	Requested, Authorized, Pending, Captured, Voided, Expired int64

	Captures    int       // succeeded and pending captures
	Pendings    []Pending // unsettled two-phase captures, oldest first
	Version     int64
	ExpiresAt   time.Time
	HoldExpired bool // the hold's expiry was applied
	CloseReason authcapture.CloseReason

	CaptureDelay, CancelDelay time.Duration // schedules asked for at creation
	CaptureAt, CancelAt       time.Time     // scheduled actions due
}

// Pending is an unsettled two-phase capture.
type Pending struct {
	ID     string
	Amount int64
	Final  bool
}

// Of returns the model of a, an authorization under policy p.
func Of(a *authcapture.Authorization, p authcapture.Policy) Ledger {
	l := Ledger{
		Phase: a.Phase, Policy: p, Currency: a.Currency,
		Requested: a.Requested, Authorized: a.Authorized, Pending: a.Pending, Captured: a.Captured,
		Voided: a.Voided, Expired: a.Expired, Captures: a.Captures, Version: a.Version,
		ExpiresAt: a.ExpiresAt, HoldExpired: a.HoldExpired(), CloseReason: a.CloseReason,
		CaptureDelay: a.CaptureDelay, CancelDelay: a.CancelDelay, CaptureAt: a.CaptureAt, CancelAt: a.CancelAt,
	}
	for _, pc := range a.PendingCaptures {
		l.Pendings = append(l.Pendings, Pending{ID: pc.ID, Amount: pc.Amount, Final: pc.Final})
	}
	return l
}

// Open is what can still be captured or voided.
func (l Ledger) Open() int64 {
	if l.Phase != authcapture.PhaseApproved {
		return 0
	}
	return l.Authorized - l.Pending - l.Captured - l.Voided - l.Expired
}

// Closed reports whether the authorization can never change again.
func (l Ledger) Closed() bool {
	switch l.Phase {
	case authcapture.PhaseDeclined, authcapture.PhaseCanceled:
		return true
	case authcapture.PhaseApproved:
		return l.Open() == 0 && l.Pending == 0
	}
	return false
}

// Status is the status derived from the phase, the ledgers and the close
// reason (invariant 4).
func (l Ledger) Status() authcapture.Status {
	switch l.Phase {
	case authcapture.PhaseCreated:
		return authcapture.StatusRequiresAuthorization
	case authcapture.PhasePending:
		return authcapture.StatusPending
	case authcapture.PhaseDeclined:
		return authcapture.StatusDeclined
	case authcapture.PhaseCanceled:
		return authcapture.StatusCanceled
	}
	if l.Closed() {
		switch {
		case l.Captured > 0:
			return authcapture.StatusCaptured
		case l.CloseReason == authcapture.CloseExpired:
			return authcapture.StatusExpired
		}
		return authcapture.StatusVoided
	}
	if l.Captured > 0 || l.Pending > 0 {
		return authcapture.StatusPartiallyCaptured
	}
	return authcapture.StatusAuthorized
}

// View is what the Service reports of an authorization that the model
// predicts. It is comparable: two views are equal when the report matches
// the model.
type View struct {
	Requested, Authorized, Open, Pending, Captured, Voided, Expired int64

	Captures    int
	Version     int64
	Status      authcapture.Status
	HoldExpired bool
	CloseReason authcapture.CloseReason // of a terminal status only
	CaptureAt   time.Time               // in UTC
	CancelAt    time.Time               // in UTC
}

// ViewOf returns what a reports.
func ViewOf(a *authcapture.Authorization) View {
	v := View{
		Requested: a.Requested, Authorized: a.Authorized, Open: a.Open(), Pending: a.Pending, Captured: a.Captured,
		Voided: a.Voided, Expired: a.Expired, Captures: a.Captures, Version: a.Version, Status: a.Status(),
		HoldExpired: a.HoldExpired(), CaptureAt: a.CaptureAt.UTC(), CancelAt: a.CancelAt.UTC(),
	}
	if v.Status.Terminal() {
		v.CloseReason = a.CloseReason
	}
	return v
}

// View returns what the Service must report of l.
func (l Ledger) View() View {
	v := View{
		Requested: l.Requested, Authorized: l.Authorized, Open: l.Open(), Pending: l.Pending, Captured: l.Captured,
		Voided: l.Voided, Expired: l.Expired, Captures: l.Captures, Version: l.Version, Status: l.Status(),
		HoldExpired: l.HoldExpired, CaptureAt: l.CaptureAt.UTC(), CancelAt: l.CancelAt.UTC(),
	}
	if v.Status.Terminal() {
		v.CloseReason = l.CloseReason
	}
	return v
}

func (v View) String() string {
	s := fmt.Sprintf("v%d %s open=%d captured=%d voided=%d expired=%d", v.Version, v.Status, v.Open, v.Captured, v.Voided, v.Expired)
	if v.Pending != 0 {
		s += fmt.Sprintf(" pending=%d", v.Pending)
	}
	if v.CloseReason != "" {
		s += fmt.Sprintf(" (%s)", v.CloseReason)
	}
	return s
}

// accept records an accepted command: one version more, and no schedule
// left on a closed authorization.
func (l *Ledger) accept() {
	l.Version++
	l.tidy()
}

func (l *Ledger) tidy() {
	if l.Closed() {
		l.CaptureAt, l.CancelAt = time.Time{}, time.Time{}
	}
}

// close records the close reason if the command just closed an approved
// authorization; release is the reason of the command's own release of
// the remainder, if any.
func (l *Ledger) close(wasClosed bool, release authcapture.CloseReason) {
	if wasClosed || !l.Closed() || l.Phase != authcapture.PhaseApproved {
		return
	}
	switch {
	case l.Captured == l.Authorized:
		l.CloseReason = authcapture.CloseFullyCaptured
	case release != "":
		l.CloseReason = release
	case l.HoldExpired:
		l.CloseReason = authcapture.CloseExpired
	case l.Captured > 0:
		l.CloseReason = authcapture.CloseFullyCaptured
	default:
		l.CloseReason = authcapture.CloseVoided
	}
}

// Expire applies the hold's expiry if it is due at now: what is open moves
// to expired, in a write of its own, and the schedules are dropped.
// Captures stay.
func (l Ledger) Expire(now time.Time) Ledger {
	if l.Phase != authcapture.PhaseApproved || l.Closed() || l.HoldExpired || now.Before(l.ExpiresAt) {
		return l
	}
	l.Expired += l.Open()
	l.HoldExpired = true
	l.CaptureAt, l.CancelAt = time.Time{}, time.Time{}
	l.close(false, authcapture.CloseExpired)
	l.accept()
	return l
}

// finalPending reports whether a final two-phase capture is pending.
func (l Ledger) finalPending() bool {
	return slices.ContainsFunc(l.Pendings, func(p Pending) bool { return p.Final })
}
