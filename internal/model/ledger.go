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

	Requested, Authorized, Pending, PendingVoid, Captured, Voided, Expired int64
	PendingDecrement, Overcaptured                                         int64 // a decrease in flight; a single final capture beyond the hold
	Refunded, PendingRefund                                                int64 // the refund ledger

	Captures    int           // succeeded and pending captures
	Pendings    []Pending     // unsettled two-phase captures, oldest first
	Voids       []PendingVoid // unsettled two-phase voids, oldest first
	Version     int64
	ExpiresAt   time.Time
	HoldExpired bool // the hold's expiry was applied
	CloseReason authcapture.CloseReason
	// ReleasedBy is how the provider let go of the hold: a final capture
	// or a void of the whole hold; empty while it holds the funds.
	ReleasedBy authcapture.CloseReason

	CaptureDelay, CancelDelay time.Duration // schedules asked for at creation
	CaptureAt, CancelAt       time.Time     // scheduled actions due

	// Settled lists the captures no longer pending, by ID: confirmed,
	// failed or direct. Settling one again is ErrCaptureSettled.
	Settled []string
	// Succeeded lists the captures that succeeded, with what each took:
	// what the refunds naming one may give back.
	Succeeded []Captured
	// Refunds lists the refunds that succeeded or are pending, oldest
	// first (a failed one leaves the list).
	Refunds []Refunded
}

// Captured is a capture that succeeded.
type Captured struct {
	ID     string
	Amount int64
	At     time.Time // when it succeeded; zero if the caller did not say
}

// Refunded is a refund that succeeded or is pending.
type Refunded struct {
	ID        string
	CaptureID string // empty: against the total captured
	Amount    int64
	Pending   bool
}

// Pending is an unsettled two-phase capture.
type Pending struct {
	ID     string
	Amount int64
	Final  bool
}

// PendingVoid is an unsettled two-phase void.
type PendingVoid struct {
	ID        string
	Amount    int64 // still reserved: direct actions draw from it
	Whole     bool  // a void of the whole hold: confirming it lets go of the hold
	Scheduled bool  // begun by the scheduler for a delayed cancel
}

// Of returns the model of a, an authorization under policy p.
func Of(a *authcapture.Authorization, p authcapture.Policy) Ledger {
	l := Ledger{
		Phase: a.Phase, Policy: p, Currency: a.Currency,
		Requested: a.Requested, Authorized: a.Authorized, Pending: a.Pending, PendingVoid: a.PendingVoid, Captured: a.Captured,
		Voided: a.Voided, Expired: a.Expired, Captures: a.Captures, Version: a.Version,
		PendingDecrement: a.PendingDecrement, Overcaptured: a.Overcaptured, Refunded: a.Refunded, PendingRefund: a.PendingRefund,
		ExpiresAt: a.ExpiresAt, HoldExpired: a.HoldExpired(), CloseReason: a.CloseReason, ReleasedBy: a.ReleasedBy,
		CaptureDelay: a.CaptureDelay, CancelDelay: a.CancelDelay, CaptureAt: a.CaptureAt, CancelAt: a.CancelAt,
	}
	for _, pc := range a.PendingCaptures {
		l.Pendings = append(l.Pendings, Pending{ID: pc.ID, Amount: pc.Amount, Final: pc.Final})
	}
	for _, pv := range a.PendingVoids {
		l.Voids = append(l.Voids, PendingVoid{ID: pv.ID, Amount: pv.Amount, Whole: pv.All, Scheduled: pv.Scheduled})
	}
	for _, pr := range a.PendingRefunds {
		l.Refunds = append(l.Refunds, Refunded{ID: pr.ID, CaptureID: pr.CaptureID, Amount: pr.Amount, Pending: true})
	}
	return l
}

// PendingRefunds returns the refunds in flight, oldest first.
func (l Ledger) PendingRefunds() []Refunded {
	var out []Refunded
	for _, r := range l.Refunds {
		if r.Pending {
			out = append(out, r)
		}
	}
	return out
}

// Refundable is what refunds may still give back in total.
func (l Ledger) Refundable() int64 { return l.Captured - l.Refunded - l.PendingRefund }

// Open is what can still be captured or voided: what no capture or void
// took, reserved or released.
func (l Ledger) Open() int64 {
	if l.Phase != authcapture.PhaseApproved {
		return 0
	}
	return l.Authorized + l.Overcaptured - l.Pending - l.PendingVoid - l.PendingDecrement - l.Captured - l.Voided - l.Expired
}

// inFlight is what unsettled two-phase captures and voids hold.
func (l Ledger) inFlight() int64 { return l.Pending + l.PendingVoid }

// Closed reports whether the hold is closed: it never changes again, and
// only refunds may still change the refund ledger.
func (l Ledger) Closed() bool {
	switch l.Phase {
	case authcapture.PhaseDeclined, authcapture.PhaseCanceled:
		return true
	case authcapture.PhaseApproved:
		return l.Open() == 0 && l.Pending == 0 && l.PendingVoid == 0 && len(l.Pendings) == 0 && len(l.Voids) == 0
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
	Requested, Authorized, Open, Pending, PendingVoid, Captured, Voided, Expired int64
	PendingDecrement, Overcaptured, Refunded, PendingRefund                      int64

	Captures     int
	Refunds      int                      // succeeded and pending refunds
	RefundStatus authcapture.RefundStatus // empty for none
	Voids        int                      // unsettled two-phase voids
	ReleasedBy   authcapture.CloseReason
	Version      int64
	Status       authcapture.Status
	HoldExpired  bool
	CloseReason  authcapture.CloseReason // of a terminal status only
	CaptureAt    time.Time               // in UTC
	CancelAt     time.Time               // in UTC
}

// ViewOf returns what a reports.
func ViewOf(a *authcapture.Authorization) View {
	v := View{
		Requested: a.Requested, Authorized: a.Authorized, Open: a.Open(), Pending: a.Pending, PendingVoid: a.PendingVoid,
		Captured: a.Captured, Voided: a.Voided, Expired: a.Expired, Captures: a.Captures, Voids: len(a.PendingVoids),
		PendingDecrement: a.PendingDecrement, Overcaptured: a.Overcaptured, Refunded: a.Refunded, PendingRefund: a.PendingRefund,
		Refunds: a.Refunds, RefundStatus: someRefund(a.RefundStatus()),
		ReleasedBy: a.ReleasedBy, Version: a.Version, Status: a.Status(),
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
		Requested: l.Requested, Authorized: l.Authorized, Open: l.Open(), Pending: l.Pending, PendingVoid: l.PendingVoid,
		Captured: l.Captured, Voided: l.Voided, Expired: l.Expired, Captures: l.Captures, Voids: len(l.Voids),
		PendingDecrement: l.PendingDecrement, Overcaptured: l.Overcaptured, Refunded: l.Refunded, PendingRefund: l.PendingRefund,
		Refunds: len(l.Refunds), RefundStatus: someRefund(l.RefundStatus()),
		ReleasedBy: l.ReleasedBy, Version: l.Version, Status: l.Status(),
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
	if v.PendingVoid != 0 || v.Voids != 0 {
		s += fmt.Sprintf(" pendingVoid=%d (%d voids)", v.PendingVoid, v.Voids)
	}
	if v.ReleasedBy != "" {
		s += fmt.Sprintf(" releasedBy=%s", v.ReleasedBy)
	}
	if v.Refunds != 0 {
		s += fmt.Sprintf(" refunded=%d pendingRefund=%d (%d refunds, %s)", v.Refunded, v.PendingRefund, v.Refunds, v.RefundStatus)
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
	case l.Captured == l.Authorized+l.Overcaptured:
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
// to expired, in a write of its own, and the schedules are dropped, except
// a delayed cancel whose void is at the provider (the scheduler settles
// it). Pending captures and voids stay, and settle later.
func (l Ledger) Expire(now time.Time) Ledger {
	if l.Phase != authcapture.PhaseApproved || l.Closed() || l.HoldExpired || now.Before(l.ExpiresAt) {
		return l
	}
	l.expire()
	l.accept()
	return l
}

// expire moves what is open to expired.
func (l *Ledger) expire() {
	l.Expired += l.Open()
	l.HoldExpired = true
	l.CaptureAt = time.Time{} // the model's scheduled captures are never left pending
	if !l.scheduledVoidPending() {
		l.CancelAt = time.Time{}
	}
	l.close(false, authcapture.CloseExpired)
}

// scheduledVoidPending reports whether the delayed cancel's void is at the
// provider.
func (l Ledger) scheduledVoidPending() bool {
	return slices.ContainsFunc(l.Voids, func(v PendingVoid) bool { return v.Scheduled })
}

// overrideCancel is an explicit void's effect on the delayed cancel: it is
// dropped unless its void is already at the provider.
func (l *Ledger) overrideCancel() {
	if !l.scheduledVoidPending() {
		l.CancelAt = time.Time{}
	}
}

// margin is how long before the hold's expiry a scheduled action must be
// due at the latest.
func (l Ledger) margin() time.Duration {
	if l.Policy.ScheduleMargin > 0 {
		return l.Policy.ScheduleMargin
	}
	return ScheduleMargin
}

// settled records that capture id is no longer pending.
func (l *Ledger) settled(id string) {
	if id != "" {
		l.Settled = append(slices.Clip(l.Settled), id)
	}
}

// succeeded records that capture id took amount at at.
func (l *Ledger) succeeded(id string, amount int64, at time.Time) {
	if id != "" {
		l.Succeeded = append(slices.Clip(l.Succeeded), Captured{ID: id, Amount: amount, At: at})
	}
}

// finalPending reports whether a final two-phase capture is pending.
func (l Ledger) finalPending() bool {
	return slices.ContainsFunc(l.Pendings, func(p Pending) bool { return p.Final })
}

// releaseRemainder is a final capture's release: the provider lets go of
// the hold (the first release names ReleasedBy), and what is open is
// voided. It returns the release reason if anything was open.
func (l *Ledger) releaseRemainder() authcapture.CloseReason {
	if l.ReleasedBy == authcapture.CloseNone {
		l.ReleasedBy = authcapture.CloseFinalCapture
	}
	if rest := l.Open(); rest > 0 {
		l.Voided += rest
		return authcapture.CloseFinalCapture
	}
	return authcapture.CloseNone
}

// giveBack returns what a failed capture or void reserved: released by void
// once the provider let go of the hold, by expiry once the hold lapsed,
// else open again. It returns the release reason, if released.
func (l *Ledger) giveBack(amount int64) authcapture.CloseReason {
	switch {
	case amount <= 0:
	case l.ReleasedBy != authcapture.CloseNone:
		l.Voided += amount
		return l.ReleasedBy
	case l.HoldExpired:
		l.Expired += amount
		return authcapture.CloseExpired
	}
	return authcapture.CloseNone
}

// drawFromVoids takes n from the reservations of the pending voids,
// newest first: a direct capture or void took it at the provider.
func (l *Ledger) drawFromVoids(n int64) {
	l.Voids = slices.Clone(l.Voids)
	for i := len(l.Voids) - 1; i >= 0 && n > 0; i-- {
		take := min(n, l.Voids[i].Amount)
		l.Voids[i].Amount -= take
		l.PendingVoid -= take
		n -= take
	}
}

// voided records a release of amount by a void: a void of the whole hold
// lets go of it. It returns the release reason if nothing is open after.
func (l *Ledger) voided(whole bool) authcapture.CloseReason {
	if whole && l.ReleasedBy == authcapture.CloseNone {
		l.ReleasedBy = authcapture.CloseVoided
	}
	if l.Open() > 0 {
		return authcapture.CloseNone
	}
	return authcapture.CloseVoided
}

// voidIndex returns the index of the pending void id in Voids, or -1.
func (l Ledger) voidIndex(id string) int {
	if id == "" {
		return -1
	}
	return slices.IndexFunc(l.Voids, func(v PendingVoid) bool { return v.ID == id })
}

// RefundStatus is the refund status derived from the refund ledger.
func (l Ledger) RefundStatus() authcapture.RefundStatus {
	switch {
	case l.Refunded > 0 && l.Refunded >= l.Captured:
		return authcapture.RefundFullyRefunded
	case l.Refunded > 0:
		return authcapture.RefundPartiallyRefunded
	case l.PendingRefund > 0:
		return authcapture.RefundPending
	}
	return authcapture.RefundNone
}

// someRefund is s, or empty for RefundNone.
func someRefund(s authcapture.RefundStatus) authcapture.RefundStatus {
	if s == authcapture.RefundNone {
		return ""
	}
	return s
}
