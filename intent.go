package authcapture

import (
	"maps"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Status is where an authorization stands. It is derived from the phase,
// the ledgers and the close reason (Authorization.Status), never stored on
// its own.
type Status string

// The statuses. Before approval an authorization is requires_authorization
// or pending, and ends declined or canceled. After approval it is authorized
// or partially_captured while something is open or pending, and closes as
// captured, voided or expired.
const (
	StatusRequiresAuthorization Status = "requires_authorization" // created, not yet sent for approval
	StatusPending               Status = "pending"                // sent to the provider, awaiting the issuer or a 3-D Secure step
	StatusDeclined              Status = "declined"               // terminal: the issuer refused
	StatusCanceled              Status = "canceled"               // terminal: abandoned before approval
	StatusAuthorized            Status = "authorized"             // open > 0, nothing captured or pending yet
	StatusPartiallyCaptured     Status = "partially_captured"     // not closed, something captured or pending
	StatusCaptured              Status = "captured"               // closed, something captured, any remainder released
	StatusVoided                Status = "voided"                 // closed, nothing captured, released by void
	StatusExpired               Status = "expired"                // closed, nothing captured, released by expiry
)

// Terminal reports whether an authorization in s is closed: no command
// changes its hold again. A captured one still accepts refunds, which
// change only its refund ledger.
func (s Status) Terminal() bool {
	switch s {
	case StatusDeclined, StatusCanceled, StatusCaptured, StatusVoided, StatusExpired:
		return true
	}
	return false
}

// Phase is the stored part of the lifecycle that the ledgers cannot tell:
// whether the provider has approved the authorization yet, and how it ended
// if it never was.
type Phase string

// The phases.
const (
	PhaseCreated  Phase = "created"
	PhasePending  Phase = "pending"
	PhaseDeclined Phase = "declined"
	PhaseCanceled Phase = "canceled"
	PhaseApproved Phase = "approved"
)

// AuthorizationType is what kind of hold the authorization asks the
// issuer for, set at create: a final amount, or an estimate (a
// pre-authorization) that may change later. Policy.AmountChangeTypes says
// which types may change.
type AuthorizationType string

// The authorization types.
const (
	AuthorizationFinal     AuthorizationType = "final"     // the amount is known (the default)
	AuthorizationEstimated AuthorizationType = "estimated" // an estimate; incremental authorization may follow
)

// CloseReason says how an authorization's last open amount was settled.
type CloseReason string

// The close reasons.
const (
	CloseNone          CloseReason = ""
	CloseFullyCaptured CloseReason = "fully_captured" // captures took the last open amount
	CloseFinalCapture  CloseReason = "final_capture"  // a final capture released the remainder
	CloseVoided        CloseReason = "voided"         // a void released the remainder
	CloseExpired       CloseReason = "expired"        // expiry released the remainder
	CloseDeclined      CloseReason = "declined"       // the issuer refused
	CloseCanceled      CloseReason = "canceled"       // canceled before approval
)

// Authorization is the aggregate: one payment's hold and everything that
// happened to it. Amounts are kept in minor units of Currency (cents for
// USD), exactly; Amounts returns them as decimals.
//
// The ledgers always satisfy
//
//	Authorized + Overcaptured == Open() + Pending + PendingVoid + PendingDecrement + Captured + Voided + Expired
//
// and Refunded + PendingRefund <= Captured. Overcaptured is zero unless
// the policy allows overcapture and the authorization's only capture, a
// final one of the whole hold, takes more than Authorized: at most the
// policy's allowance (Policy.OvercaptureAllowance), and never combined
// with another capture, a void or an amount change.
//
// An Authorization returned by the service is a copy: changing it changes
// nothing stored.
type Authorization struct {
	ID         string            `json:",omitzero"`
	MerchantID string            `json:",omitzero"`
	Reference  string            `json:",omitzero"` // the caller's reference, such as an order ID
	Metadata   map[string]string `json:",omitzero"` // the caller's key-value pairs
	Currency   Currency          `json:",omitzero"`
	Policy     string            `json:",omitzero"` // the name of the policy whose rules apply

	Phase Phase `json:",omitzero"`
	// AuthorizationType is the kind of hold asked for at create:
	// AuthorizationFinal (also when empty, for records made before the
	// field existed) or AuthorizationEstimated. Policy.AmountChangeTypes
	// says which types may change their amount.
	AuthorizationType AuthorizationType `json:",omitzero"`

	Requested  int64 `json:",omitzero"` // asked for at creation
	Authorized int64 `json:",omitzero"` // approved by the issuer; may be less than Requested
	Captured   int64 `json:",omitzero"` // taken by succeeded captures
	Pending    int64 `json:",omitzero"` // reserved by two-phase captures not yet settled
	// PendingVoid is reserved by two-phase voids not yet settled: the
	// amount the provider has been asked to release.
	PendingVoid int64 `json:",omitzero"`
	Voided      int64 `json:",omitzero"` // released by voids (including the remainder of a final capture)
	Expired     int64 `json:",omitzero"` // released by expiry
	// PendingDecrement is reserved by a requested decrease of the hold
	// whose answer the provider has not given yet (see BeginAmountChange).
	PendingDecrement int64 `json:",omitzero"`
	// Overcaptured is what the authorization's single final capture takes
	// beyond the hold, within the policy's overcapture allowance; it is
	// part of that capture's Pending or Captured amount. Zero unless an
	// overcapture was begun or made; a failed one sets it back to zero.
	Overcaptured int64 `json:",omitzero"`

	// Refunds are a ledger of their own: Refunded + PendingRefund <=
	// Captured, in total and per capture, and a refund never changes Open.
	Refunded      int64 `json:",omitzero"` // given back by succeeded refunds
	PendingRefund int64 `json:",omitzero"` // reserved by refunds not yet settled
	// Refunds counts the refunds that succeeded or are pending.
	Refunds int `json:",omitzero"`
	// PendingRefunds lists the two-phase refunds begun and not yet
	// confirmed or failed, oldest first. Refunds may be pending on a
	// closed authorization: closed means the hold is closed.
	PendingRefunds []PendingRefund `json:",omitzero"`

	// Captures counts the captures that succeeded or are pending; the
	// policy's MaxCaptures applies to it.
	Captures int `json:",omitzero"`
	// AmountChanges counts the approved amount changes (incremental or
	// decremental authorizations). Nonzero means the hold's amount was
	// changed after approval.
	AmountChanges int `json:",omitzero"`
	// AmountChangeAttempts counts the amount changes requested: approved,
	// declined and pending. The policy's MaxAmountChangeAttempts applies
	// to it.
	AmountChangeAttempts int `json:",omitzero"`
	// PendingAmountChange is the two-phase amount change begun and not yet
	// confirmed or declined; nil when none is. At most one is in flight.
	PendingAmountChange *PendingAmountChange `json:",omitzero"`
	// PendingCaptures lists the two-phase captures begun and not yet
	// confirmed or failed, oldest first.
	PendingCaptures []PendingCapture `json:",omitzero"`
	// PendingVoids lists the two-phase voids begun and not yet confirmed
	// or failed, oldest first.
	PendingVoids []PendingVoid `json:",omitzero"`
	// ReleasedBy says how the provider let go of the hold, once it has: a
	// final capture (CloseFinalCapture) or a void of everything open
	// (CloseVoided); empty while the provider holds the funds. From then on
	// nothing may begin on the hold at the provider (refunds of what was
	// captured still may), and what a pending action gives back when it
	// fails is released too, never reopened (docs/design.md, section 11).
	ReleasedBy CloseReason `json:",omitzero"`

	CloseReason CloseReason `json:",omitzero"` // set by the command that closed it

	// Schedules (see Scheduler). The delays count from authorization; the
	// times are set when the authorization is approved and cleared when
	// they fire or an explicit command overrides them.
	CaptureMode     CaptureMode   `json:",omitzero"` // the mode actually used
	CaptureDelay    time.Duration `json:",omitzero"` // for CaptureDelayed
	CancelMode      CancelMode    `json:",omitzero"`
	CancelDelay     time.Duration `json:",omitzero"` // for CancelDelayed
	ExpiryAction    ExpiryAction  `json:",omitzero"` // what happens to the open amount at expiry
	CaptureAt       time.Time     `json:",omitzero"` // a scheduled capture is due; zero if none
	CancelAt        time.Time     `json:",omitzero"` // a scheduled cancel is due; zero if none
	CaptureFailures int           `json:",omitzero"` // failed attempts of the scheduled capture

	CreatedAt    time.Time `json:",omitzero"`
	AuthorizedAt time.Time `json:",omitzero"`
	ExpiresAt    time.Time `json:",omitzero"` // the hold lapses at this instant: now >= ExpiresAt is expired
	// ExpiryRule says what set ExpiresAt: "policy NAME validity DURATION"
	// or "explicit" at approval; "reauthorization: policy NAME
	// reauthorization validity DURATION", "reauthorization: policy NAME
	// validity DURATION" or "reauthorization: explicit" after a
	// reauthorization; "policy NAME amount change validity DURATION" after
	// an approved amount change that moved it.
	ExpiryRule string `json:",omitzero"`
	// Reauthorizations counts the new holds the provider placed for this
	// payment (Service.Reauthorize); the policy's MaxReauthorizations
	// caps it. ReauthorizedAt is when the last one was recorded.
	Reauthorizations int       `json:",omitzero"`
	ReauthorizedAt   time.Time `json:",omitzero"`
	// ExpiringNoticeAt is when the scheduler emits
	// authorization.expiring_soon for the current hold: the policy's
	// ExpiringSoon before ExpiresAt. Zero when no notice is due: the
	// policy sets no lead time, the hold had less than it left when it
	// was placed, the notice was sent, or the hold is released, expired
	// or closed. A reauthorization sets it again for the new hold, and
	// an approved amount change for the expiry it moves.
	ExpiringNoticeAt time.Time `json:",omitzero"`
	ExpiredAt        time.Time `json:",omitzero"` // when expiry was applied; zero while the hold stands
	ClosedAt         time.Time `json:",omitzero"`
	// RefundableUntil is when the policy's RefundWindow ends for the
	// authorization's last succeeded capture (its time plus the window):
	// a refund is recorded only before it. It is set by every succeeded
	// capture and only moves later; zero when nothing was captured or the
	// policy has no RefundWindow (no bound on refunds). It uses the window
	// in force when the capture was recorded: a window lengthened later
	// moves it only with the next capture. Service.Prune
	// deletes a closed authorization only once it is past both ClosedAt
	// and RefundableUntil by the retention.
	RefundableUntil time.Time `json:",omitzero"`
	// NextDue is the earliest time something is due for the scheduler
	// (expiry, a scheduled capture or cancel, the expiring-soon notice) while the authorization is
	// open; zero when nothing is. Stores index it (Store.Due).
	NextDue time.Time `json:",omitzero"`
	// PendingSince is when the oldest provider action still in flight (a
	// pending capture, void, refund or amount change) began; zero when
	// none is. Stores index it
	// (Store.Unsettled), so that reconciliation finds the actions whose
	// outcome never arrived.
	PendingSince time.Time `json:",omitzero"`

	// Version increments by exactly one per accepted command. A new
	// authorization has version 1.
	Version int64 `json:",omitzero"`
	// Entries is the number of log entries; the last has Seq == Entries.
	Entries int64 `json:",omitzero"`
	// Events is the number of events; the last has Seq == Events.
	Events int64 `json:",omitzero"`
}

// PendingCapture is a two-phase capture that has been begun and not settled.
type PendingCapture struct {
	ID        string `json:",omitzero"`
	Amount    int64  `json:",omitzero"`
	Final     bool   `json:",omitzero"`
	Scheduled bool   `json:",omitzero"` // begun by the Scheduler, which settles it
	// ProviderRef is the provider's ID for the capture, once known.
	ProviderRef string `json:",omitzero"`
	// Key is the idempotency key the Scheduler gives the provider for it
	// (ProviderKey); empty for a caller's capture.
	Key string `json:",omitzero"`
	// BegunAt is when the capture was begun.
	BegunAt time.Time `json:",omitzero"`
}

// PendingVoid is a two-phase void that has been begun and not settled: the
// provider has been (or is about to be) asked to release Amount.
type PendingVoid struct {
	ID        string `json:",omitzero"`
	Amount    int64  `json:",omitzero"` // still reserved; a direct capture the provider took first draws from it
	All       bool   `json:",omitzero"` // a void of everything open: the provider lets go of the hold
	Scheduled bool   `json:",omitzero"` // begun by the Scheduler for a delayed cancel, which settles it
	// ProviderRef is the provider's ID for the void, once known.
	ProviderRef string `json:",omitzero"`
	// Key is the idempotency key the Scheduler gives the provider for it
	// (ProviderKey); empty for a caller's void.
	Key string `json:",omitzero"`
	// BegunAt is when the void was begun.
	BegunAt time.Time `json:",omitzero"`
}

// PendingRefund is a two-phase refund that has been begun and not
// settled: the provider has been (or is about to be) asked to give Amount
// back.
type PendingRefund struct {
	ID     string `json:",omitzero"`
	Amount int64  `json:",omitzero"`
	// CaptureID is the capture refunded; empty for a refund against the
	// total captured.
	CaptureID string `json:",omitzero"`
	// ProviderRef is the provider's ID for the refund, once known.
	ProviderRef string `json:",omitzero"`
	// BegunAt is when the refund was begun.
	BegunAt time.Time `json:",omitzero"`
}

// PendingAmountChange is a two-phase amount change that has been begun and
// not settled: the provider has been (or is about to be) asked to change
// the hold to Total.
type PendingAmountChange struct {
	ID    string           `json:",omitzero"`
	Form  AmountChangeForm `json:",omitzero"` // how the host asked: a new total or a delta
	Delta int64            `json:",omitzero"` // Total - Authorized when begun: positive raises, negative lowers
	Total int64            `json:",omitzero"` // the authorized amount once approved
	// ProviderRef is the provider's ID for the change, once known.
	ProviderRef string `json:",omitzero"`
	// BegunAt is when the change was begun.
	BegunAt time.Time `json:",omitzero"`
}

// Open returns the amount still open to capture, in minor units.
func (a *Authorization) Open() int64 {
	if a.Phase != PhaseApproved {
		return 0
	}
	return a.Authorized + a.Overcaptured - a.Pending - a.PendingVoid - a.PendingDecrement - a.Captured - a.Voided - a.Expired
}

// amountChanged reports whether a change of the hold's amount
// (incremental or decremental authorization) was approved or is in flight:
// an overcapture may not follow one.
func (a *Authorization) amountChanged() bool {
	return a.AmountChanges > 0 || a.PendingAmountChange != nil
}

// Refundable returns the captured amount that refunds may still give
// back, in minor units: Captured - Refunded - PendingRefund.
func (a *Authorization) Refundable() int64 { return a.Captured - a.Refunded - a.PendingRefund }

// Closed reports whether the authorization's hold is closed: it was
// declined or canceled, or nothing is open and no capture, void or amount
// change is pending. A closed hold never changes again; only the refund
// ledger of a captured authorization may (Refund, BeginRefund and their
// settlements), within the policy's RefundWindow.
func (a *Authorization) Closed() bool {
	switch a.Phase {
	case PhaseDeclined, PhaseCanceled:
		return true
	case PhaseApproved:
		return a.Open() == 0 && a.Pending == 0 && a.PendingVoid == 0 && a.PendingDecrement == 0 &&
			len(a.PendingCaptures) == 0 && len(a.PendingVoids) == 0 && a.PendingAmountChange == nil
	}
	return false
}

// PrunableSince is the time Service.Prune counts an authorization's
// retention from: the later of ClosedAt and RefundableUntil, once it is
// closed with ClosedAt set and no provider action in flight (PendingSince
// zero); zero, never prunable, otherwise. Stores that implement Pruner
// order authorizations by it.
func (a *Authorization) PrunableSince() time.Time {
	if !a.PendingSince.IsZero() || a.ClosedAt.IsZero() || !a.Closed() {
		return time.Time{}
	}
	if a.RefundableUntil.After(a.ClosedAt) {
		return a.RefundableUntil
	}
	return a.ClosedAt
}

// Status derives the status from the phase, the ledgers and the close
// reason.
func (a *Authorization) Status() Status {
	switch a.Phase {
	case PhaseCreated:
		return StatusRequiresAuthorization
	case PhasePending:
		return StatusPending
	case PhaseDeclined:
		return StatusDeclined
	case PhaseCanceled:
		return StatusCanceled
	}
	if a.Closed() {
		switch {
		case a.Captured > 0:
			return StatusCaptured
		case a.CloseReason == CloseExpired:
			return StatusExpired
		default:
			return StatusVoided
		}
	}
	if a.Captured > 0 || a.Pending > 0 {
		return StatusPartiallyCaptured
	}
	return StatusAuthorized
}

// RefundStatus is where an authorization's refunds stand, derived from its
// refund ledger (Authorization.RefundStatus). It is apart from Status: a
// refund never changes the hold, and refunds may be recorded on a closed
// authorization.
type RefundStatus string

// The refund statuses.
const (
	RefundNone              RefundStatus = "none"               // nothing refunded, nothing pending
	RefundPending           RefundStatus = "refund_pending"     // refunds in flight, none succeeded yet
	RefundPartiallyRefunded RefundStatus = "partially_refunded" // some of what was captured given back
	RefundFullyRefunded     RefundStatus = "refunded"           // everything captured given back
)

// RefundStatus derives the refund status from the succeeded refunds
// (Refunded) and those in flight (PendingRefund): refunded once Refunded
// equals Captured, partially_refunded while less has been given back,
// refund_pending while refunds are in flight and none has succeeded yet,
// else none. Pending refunds beside succeeded ones show in PendingRefund
// and PendingRefunds.
func (a *Authorization) RefundStatus() RefundStatus {
	switch {
	case a.Refunded > 0 && a.Refunded >= a.Captured:
		return RefundFullyRefunded
	case a.Refunded > 0:
		return RefundPartiallyRefunded
	case a.PendingRefund > 0 || len(a.PendingRefunds) > 0:
		return RefundPending
	}
	return RefundNone
}

// HoldExpired reports whether the hold's expiry has been applied.
func (a *Authorization) HoldExpired() bool { return !a.ExpiredAt.IsZero() }

// Amounts are an authorization's ledgers as exact decimals in its currency.
type Amounts struct {
	Requested, Authorized, Open, Pending, PendingVoid, Captured, Voided, Expired decimal.Decimal
	PendingDecrement, Overcaptured, Refunded, PendingRefund, Refundable          decimal.Decimal
}

// Amounts returns the ledgers as decimals with the currency's digits.
func (a *Authorization) Amounts() Amounts {
	c := a.Currency
	return Amounts{
		Requested:   c.FromMinor(a.Requested),
		Authorized:  c.FromMinor(a.Authorized),
		Open:        c.FromMinor(a.Open()),
		Pending:     c.FromMinor(a.Pending),
		PendingVoid: c.FromMinor(a.PendingVoid),
		Captured:    c.FromMinor(a.Captured),
		Voided:      c.FromMinor(a.Voided),
		Expired:     c.FromMinor(a.Expired),

		PendingDecrement: c.FromMinor(a.PendingDecrement),
		Overcaptured:     c.FromMinor(a.Overcaptured),
		Refunded:         c.FromMinor(a.Refunded),
		PendingRefund:    c.FromMinor(a.PendingRefund),
		Refundable:       c.FromMinor(a.Refundable()),
	}
}

// Clone returns a deep copy: no slice or map is shared with a.
func (a *Authorization) Clone() *Authorization {
	c := *a
	if a.Metadata != nil {
		c.Metadata = maps.Clone(a.Metadata)
	}
	if a.PendingCaptures != nil {
		c.PendingCaptures = slices.Clone(a.PendingCaptures)
	}
	if a.PendingVoids != nil {
		c.PendingVoids = slices.Clone(a.PendingVoids)
	}
	if a.PendingRefunds != nil {
		c.PendingRefunds = slices.Clone(a.PendingRefunds)
	}
	if a.PendingAmountChange != nil {
		pc := *a.PendingAmountChange
		c.PendingAmountChange = &pc
	}
	return &c
}

func (a *Authorization) pendingCapture(id string) (int, bool) {
	for i := range a.PendingCaptures {
		if a.PendingCaptures[i].ID == id {
			return i, true
		}
	}
	return -1, false
}

func (a *Authorization) pendingRefund(id string) (int, bool) {
	for i := range a.PendingRefunds {
		if a.PendingRefunds[i].ID == id {
			return i, true
		}
	}
	return -1, false
}

func (a *Authorization) pendingVoid(id string) (int, bool) {
	for i := range a.PendingVoids {
		if a.PendingVoids[i].ID == id {
			return i, true
		}
	}
	return -1, false
}

// inFlight is what pending provider actions hold: two-phase captures and
// voids not yet settled, and a decrease of the hold not yet answered.
func (a *Authorization) inFlight() int64 { return a.Pending + a.PendingVoid + a.PendingDecrement }

func (a *Authorization) scheduledPending() bool {
	for i := range a.PendingCaptures {
		if a.PendingCaptures[i].Scheduled {
			return true
		}
	}
	return false
}

func (a *Authorization) scheduledVoidPending() bool {
	for i := range a.PendingVoids {
		if a.PendingVoids[i].Scheduled {
			return true
		}
	}
	return false
}

func (a *Authorization) finalPending() bool {
	for i := range a.PendingCaptures {
		if a.PendingCaptures[i].Final {
			return true
		}
	}
	return false
}

// EntryKind names what a log entry records.
type EntryKind string

// The entry kinds.
const (
	EntryCreated    EntryKind = "created"
	EntryPending    EntryKind = "pending"
	EntryAuthorized EntryKind = "authorized"
	EntryDeclined   EntryKind = "declined"
	EntryCanceled   EntryKind = "canceled"
	EntryCapture    EntryKind = "capture" // see CaptureState
	EntryVoid       EntryKind = "void"
	EntryExpiry     EntryKind = "expiry"
	EntrySchedule   EntryKind = "schedule" // a schedule set, claimed or cleared; see the Reason
	EntryRefund     EntryKind = "refund"   // see RefundState
	// EntryAmountChange records an amount change of the hold (incremental
	// or decremental authorization): see ChangeState, ChangeID,
	// ChangeForm, Delta and Total. A direct change is one succeeded or
	// failed entry; a two-phase one a pending entry followed by a
	// succeeded or failed entry with the same ChangeID.
	EntryAmountChange EntryKind = "amount_change"
	// EntryReauthorized: the provider placed a new hold for the payment;
	// Reference holds the new ExpiresAt (RFC 3339), ProviderRef the new
	// authorization's reference if the provider gave one.
	EntryReauthorized EntryKind = "reauthorized"
)

// AmountChangeForm says how the host asked the provider to change the
// hold: as the new authorized total (Stripe, Adyen, Braintree) or as the
// difference (Checkout.com).
type AmountChangeForm string

// The amount-change forms.
const (
	AmountChangeTotal AmountChangeForm = "total"
	AmountChangeDelta AmountChangeForm = "delta"
)

// ActionState is the state of a provider action in the log. A direct
// capture or void is recorded as one succeeded entry; a two-phase one as a
// pending entry followed by a succeeded or failed entry with the same ID.
type ActionState string

// The action states.
const (
	ActionPending   ActionState = "pending"
	ActionSucceeded ActionState = "succeeded"
	ActionFailed    ActionState = "failed"
)

// CaptureState is the state of a capture entry.
type CaptureState = ActionState

// The capture states.
const (
	CapturePending   = ActionPending
	CaptureSucceeded = ActionSucceeded
	CaptureFailed    = ActionFailed
)

// Reason explains a void, an expiry, a decline or a cancel. Reasons that the
// caller gives are kept apart from those the system gives (IsSystem).
type Reason string

// Caller reasons for a void or cancel.
const (
	ReasonRequestedByCustomer Reason = "requested_by_customer"
	ReasonFraudulent          Reason = "fraudulent"
	ReasonDuplicate           Reason = "duplicate"
	ReasonAbandoned           Reason = "abandoned"
)

// System reasons, which a caller cannot give.
const (
	ReasonFinalCapture     Reason = "final_capture"     // the remainder of a final capture
	ReasonExpired          Reason = "expired"           // the hold lapsed
	ReasonCaptureFailed    Reason = "capture_failed"    // a failed capture's amount, after the hold lapsed
	ReasonScheduledCancel  Reason = "scheduled_cancel"  // a delayed cancel fired
	ReasonScheduledCapture Reason = "scheduled_capture" // a delayed capture fired
	ReasonAutomaticCapture Reason = "automatic_capture" // capture mode automatic
	ReasonCaptureFallback  Reason = "capture_fallback"  // the method could not hold; captured at once
	// A pending void's reservation that a direct capture or void the
	// provider accepted took instead (a failed void entry of that amount).
	ReasonDrawnByDirectAction Reason = "drawn_by_direct_action"
	// The part of a void's reservation the provider reports it did not
	// release (something took it first): it returns to open.
	ReasonNotReleased Reason = "not_released"
	// What a failed action gives back after the provider let go of the
	// hold: released, not reopened.
	ReasonHoldReleased Reason = "hold_released"

	// Schedule entries: Reference holds the new due time (RFC 3339), or is
	// empty when a schedule is cleared.
	ReasonCaptureScheduled   Reason = "capture_scheduled"
	ReasonCancelScheduled    Reason = "cancel_scheduled"
	ReasonCaptureUnscheduled Reason = "capture_unscheduled" // an explicit capture overrode it, or retries ran out
	ReasonCancelUnscheduled  Reason = "cancel_unscheduled"  // an explicit void overrode it, or the provider refused
	ReasonScheduleClaimed    Reason = "schedule_claimed"    // a scheduler took the action; due again if it dies
	// At approval, a delayed capture (or expiry capture) or delayed cancel
	// that does not fit the hold the provider gave (it would fall within
	// the policy's ScheduleMargin of ExpiresAt) and that the policy does
	// not clamp is dropped, never refused: the approval is recorded.
	ReasonCaptureUnfit Reason = "capture_schedule_unfit"
	ReasonCancelUnfit  Reason = "cancel_schedule_unfit"
	// The expiring-soon notice: scheduled for the policy's ExpiringSoon
	// before the hold's expiry (Reference holds when), and sent (Reference
	// holds the hold's ExpiresAt).
	ReasonExpiringNoticeScheduled Reason = "expiring_notice_scheduled"
	ReasonExpiringSoon            Reason = "expiring_soon"
)

// IsSystem reports whether r is one the library itself records.
func (r Reason) IsSystem() bool {
	switch r {
	case ReasonFinalCapture, ReasonExpired, ReasonCaptureFailed, ReasonScheduledCancel,
		ReasonScheduledCapture, ReasonAutomaticCapture, ReasonCaptureFallback, ReasonDrawnByDirectAction,
		ReasonNotReleased, ReasonHoldReleased, ReasonCaptureScheduled,
		ReasonCancelScheduled, ReasonCaptureUnscheduled, ReasonCancelUnscheduled, ReasonScheduleClaimed,
		ReasonCaptureUnfit, ReasonCancelUnfit, ReasonExpiringNoticeScheduled, ReasonExpiringSoon:
		return true
	}
	return false
}

func (r Reason) callerVoidReason() bool {
	switch r {
	case ReasonRequestedByCustomer, ReasonFraudulent, ReasonDuplicate, ReasonAbandoned:
		return true
	}
	return false
}

// Entry is one record of the append-only log. Amount is in minor units.
type Entry struct {
	Seq          int64        `json:",omitzero"` // 1-based position in the authorization's log
	Version      int64        `json:",omitzero"` // the authorization version the entry belongs to
	Kind         EntryKind    `json:",omitzero"`
	CaptureState CaptureState `json:",omitzero"` // for capture entries
	CaptureID    string       `json:",omitzero"` // for capture entries; for a refund entry, the capture refunded (empty: the total)
	Final        bool         `json:",omitzero"` // for capture entries: the capture releases the remainder
	VoidState    ActionState  `json:",omitzero"` // for the entries of two-phase voids
	VoidID       string       `json:",omitzero"` // for the entries of two-phase voids
	RefundState  ActionState  `json:",omitzero"` // for refund entries
	RefundID     string       `json:",omitzero"` // for refund entries
	// ChangeState, ChangeID and ChangeForm describe an amount-change
	// entry: its state, its ID ("chg_" and the Seq of its first entry)
	// and how the host asked. Delta is the signed change of the hold
	// (Amount is its absolute value) and Total the authorized amount the
	// change leads to.
	ChangeState    ActionState      `json:",omitzero"`
	ChangeID       string           `json:",omitzero"`
	ChangeForm     AmountChangeForm `json:",omitzero"`
	Delta          int64            `json:",omitzero"`
	Total          int64            `json:",omitzero"`
	ProviderRef    string           `json:",omitzero"` // the provider's own ID for the action, if the host gave it
	Amount         int64            `json:",omitzero"`
	At             time.Time        `json:",omitzero"`
	IdempotencyKey string           `json:",omitzero"`
	Reference      string           `json:",omitzero"` // the caller's reference, such as a shipment ID
	Reason         Reason           `json:",omitzero"`
}
