package authcapture

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/shopspring/decimal"
)

// AmountChangeRequest asks to change the amount of an approved hold
// (incremental or decremental authorization), in one of two forms: the new
// authorized total (Total; Stripe, Adyen, Braintree) or the difference
// (Delta, positive or negative; Checkout.com). Exactly one of them is
// given; the log records which (Entry.ChangeForm).
type AmountChangeRequest struct {
	MerchantID, ID string
	// Total is the new authorized amount.
	Total decimal.Decimal
	// Delta is the change: positive raises the hold, negative lowers it.
	Delta decimal.Decimal
	// Currency, if set, must be the authorization's.
	Currency string
	// Declined, for ChangeAmount, records that the provider declined the
	// change: only the attempt is counted. BeginAmountChange rejects it.
	Declined bool
	// Reason, for a declined change, is the provider's code.
	Reason         string
	Reference      string
	ProviderRef    string // the provider's ID for the change, if it gave one
	IdempotencyKey string
}

// ChangeAmount records an amount change the provider has already answered
// (a direct change): approved, the hold's authorized amount becomes the new
// total at once; declined (Declined), nothing changes but the attempt
// counter and the log.
//
// An approved change raises Requested to the new total when it exceeds it,
// moves ExpiresAt on by the policy's AmountChangeValidity (fitting the
// schedules to it as a reauthorization does), and emits
// authorization.amount_changed and authorization.amount_capturable_updated.
func (s *Service) ChangeAmount(ctx context.Context, req AmountChangeRequest) (*Result, error) {
	return s.changeAmount(ctx, CmdChangeAmount, req)
}

// BeginAmountChange records an amount change before the provider answers:
// a decrease reserves its amount (Authorization.PendingDecrement) so that
// nothing captures it meanwhile; an increase reserves nothing. Settle it
// with ConfirmAmountChange or DeclineAmountChange, naming
// Result.Entry.ChangeID, or with RecordOutcome by its provider reference.
// One change may be in flight at a time: another is ErrActionInFlight, and
// so is any change while an overcapture is pending.
func (s *Service) BeginAmountChange(ctx context.Context, req AmountChangeRequest) (*Result, error) {
	return s.changeAmount(ctx, CmdBeginAmountChange, req)
}

func (s *Service) changeAmount(ctx context.Context, op Command, req AmountChangeRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkAmountChangeRequest(op, req); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	form := AmountChangeTotal
	if !req.Delta.IsZero() {
		form = AmountChangeDelta
	}
	f := newFingerprint(op).str(req.ID).str(string(form)).amount(req.Total).amount(req.Delta).str(req.Currency).
		bool(req.Declined).str(req.Reason).str(req.Reference).opt(req.ProviderRef)
	cmd := &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)}
	fn := func(ch *change) error { return s.applyAmountChange(ch, op, form, req) }
	if op == CmdChangeAmount && req.ProviderRef != "" && !req.Declined {
		return s.directByRef(ctx, cmd, req.ProviderRef, EntryAmountChange, decimal.Decimal{}, fn) // a total or a delta
	}
	return s.run(ctx, cmd, fn)
}

func checkAmountChangeRequest(op Command, req AmountChangeRequest) error {
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return err
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return err
	}
	if err := checkText("reason", req.Reason, MaxReasonLen); err != nil {
		return err
	}
	if op == CmdBeginAmountChange && req.Declined {
		return fmt.Errorf("a change begun has no answer yet; record a declined one with ChangeAmount: %w", ErrInvalidArgument)
	}
	if req.Reason != "" && !req.Declined {
		return fmt.Errorf("a reason is the provider's code for a declined change: %w", ErrInvalidArgument)
	}
	switch {
	case req.Total.IsZero() && req.Delta.IsZero():
		return fmt.Errorf("neither a new total nor a nonzero delta given: %w", ErrInvalidAmount)
	case !req.Total.IsZero() && !req.Delta.IsZero():
		return fmt.Errorf("both a total (%s) and a delta (%s) given: %w", amountString(req.Total), amountString(req.Delta), ErrInvalidArgument)
	case !req.Total.IsZero():
		if req.Total.Sign() < 0 {
			return fmt.Errorf("total %s is negative: %w", amountString(req.Total), ErrInvalidAmount)
		}
		return checkAmount(req.Total)
	}
	return checkAmount(req.Delta.Abs())
}

// applyAmountChange applies the rules of a direct (CmdChangeAmount) or
// two-phase (CmdBeginAmountChange) amount change to ch.
func (s *Service) applyAmountChange(ch *change, op Command, form AmountChangeForm, req AmountChangeRequest) error {
	a := ch.a
	p, err := s.openFor(ch, op, req.Currency)
	if err != nil {
		return err
	}
	if a.ReleasedBy != CloseNone {
		return ch.reject(ErrInvalidStatus, "the provider let go of the hold (%s)", a.ReleasedBy)
	}
	if pc := a.PendingAmountChange; pc != nil {
		return ch.reject(ErrActionInFlight, "amount change %s is in flight; one change at a time", pc.ID)
	}
	if a.Overcaptured > 0 {
		// The overcapture takes the whole hold and more: a change would
		// leave Overcaptured no longer what the capture takes beyond it.
		return ch.reject(ErrActionInFlight, "an overcapture of %s beyond the hold is in flight; the amount may change only if it fails",
			a.Currency.Format(a.Overcaptured))
	}
	var delta int64
	if form == AmountChangeTotal {
		total, err := a.Currency.ToMinor(req.Total)
		if err != nil {
			return ch.reject(rootSentinel(err), "%v", err)
		}
		delta = total - a.Authorized
	} else {
		d, err := a.Currency.ToMinor(req.Delta.Abs())
		if err != nil {
			return ch.reject(rootSentinel(err), "%v", err)
		}
		delta = d
		if req.Delta.Sign() < 0 {
			delta = -d
		}
	}
	if delta == 0 {
		return ch.reject(ErrInvalidAmount, "the new total equals the authorized %s: nothing to change", a.Currency.Format(a.Authorized))
	}
	if err := ch.checkAmountChange(p, delta); err != nil {
		return err
	}
	total := a.Authorized + delta
	a.AmountChangeAttempts++
	id := "chg_" + strconv.FormatInt(a.Entries+1, 10)
	e := Entry{Kind: EntryAmountChange, ChangeID: id, ChangeForm: form, Delta: delta, Total: total, Amount: abs(delta),
		Reference: req.Reference, ProviderRef: req.ProviderRef}
	switch {
	case op == CmdBeginAmountChange:
		if delta < 0 {
			a.PendingDecrement -= delta
		}
		a.PendingAmountChange = &PendingAmountChange{ID: id, Form: form, Delta: delta, Total: total,
			ProviderRef: req.ProviderRef, BegunAt: ch.now}
		e.ChangeState = ActionPending
		seq := ch.entry(e)
		ch.markMain()
		ch.changeEvent(EventAmountChangePending, seq, a.Authorized, total)
		if delta < 0 {
			ch.capturableUpdated(seq)
		}
	case req.Declined:
		e.ChangeState, e.Reason = ActionFailed, Reason(req.Reason)
		seq := ch.entry(e)
		ch.markMain()
		ch.changeEvent(EventAmountChangeDeclined, seq, a.Authorized, total)
	default:
		e.ChangeState = ActionSucceeded
		ch.approveAmountChange(p, e)
	}
	return nil
}

// checkAmountChange applies the policy's amount-change rules to a change
// of delta minor units.
func (ch *change) checkAmountChange(p *Policy, delta int64) error {
	a := ch.a
	switch {
	case delta > 0 && !p.IncrementalAuthorization:
		return ch.reject(ErrAmountChangeNotAllowed, "policy %s does not allow raising the hold", p.Name)
	case delta < 0 && !p.DecrementalAuthorization:
		return ch.reject(ErrAmountChangeNotAllowed, "policy %s does not allow lowering the hold", p.Name)
	}
	if t := a.authorizationType(); len(p.AmountChangeTypes) > 0 && !slices.Contains(p.AmountChangeTypes, t) {
		return ch.reject(ErrAuthorizationTypeNotAllowed, "policy %s changes only %v authorizations; this one is %s", p.Name, p.AmountChangeTypes, t)
	}
	if p.AmountChangeBeforeCapture && a.Captures > 0 {
		return ch.reject(ErrAmountChangeAfterCapture, "%d captures succeeded or are pending", a.Captures)
	}
	if p.MaxAmountChangeAttempts > 0 && a.AmountChangeAttempts >= p.MaxAmountChangeAttempts {
		return ch.reject(ErrTooManyAmountChanges, "%d of %d", a.AmountChangeAttempts, p.MaxAmountChangeAttempts)
	}
	if delta > 0 && a.Authorized+delta > MaxMinorUnits {
		return ch.reject(ErrAmountTooLarge, "the new total would exceed %d minor units", int64(MaxMinorUnits))
	}
	if d := -delta; d > 0 && d >= a.Open() {
		if d < a.Open()+a.inFlight() {
			return ch.reject(ErrActionInFlight, "lowering by %s leaves nothing of the %s open; actions in flight hold %s more",
				a.Currency.Format(d), a.Currency.Format(a.Open()), a.Currency.Format(a.inFlight()))
		}
		return ch.reject(ErrBelowCaptured, "lowering by %s must leave part of the %s open (authorized %s, captured %s)",
			a.Currency.Format(d), a.Currency.Format(a.Open()), a.Currency.Format(a.Authorized), a.Currency.Format(a.Captured))
	}
	return nil
}

// approveAmountChange applies an approved change recorded by e (succeeded,
// with its Delta and Total): the authorized amount becomes the total, the
// hold's validity moves on per the policy, and the events report it. An
// increase approved after the provider let go of the hold, or after it
// lapsed, is released at once (giveBack).
func (ch *change) approveAmountChange(p *Policy, e Entry) {
	a := ch.a
	before := a.Authorized
	a.Authorized = e.Total
	if a.Authorized > a.Requested {
		a.Requested = a.Authorized
	}
	a.AmountChanges++
	seq := ch.entry(e)
	ch.markMain()
	ch.changeEvent(EventAmountChanged, seq, before, e.Total)
	if e.Delta > 0 && (a.ReleasedBy != CloseNone || a.HoldExpired()) {
		ch.giveBack(e.Delta, ReasonExpired)
		return
	}
	ch.extendHold(p)
	ch.capturableUpdated(seq)
}

// changeEvent appends an amount-change event for the entry seq.
func (ch *change) changeEvent(t EventType, seq, before, after int64) {
	e := ch.entries[len(ch.entries)-1]
	ch.event(t, seq, e.Amount)
	ev := &ch.events[len(ch.events)-1]
	ev.ChangeID, ev.ChangeForm, ev.Delta, ev.ProviderRef = e.ChangeID, e.ChangeForm, e.Delta, e.ProviderRef
	ev.PreviousAuthorized, ev.Authorized = before, after
}

// capturableUpdated reports the open amount after a change of it.
func (ch *change) capturableUpdated(seq int64) {
	ch.event(EventAmountCapturableUpdated, seq, ch.a.Open())
	ch.reported = true
}

// extendHold moves ExpiresAt to the policy's AmountChangeValidity from now
// when that is later, while the provider holds the funds, and fits the
// schedules and the expiring-soon notice to the new expiry as a
// reauthorization does.
func (ch *change) extendHold(p *Policy) {
	a := ch.a
	if p.AmountChangeValidity <= 0 || a.HoldExpired() || a.ReleasedBy != CloseNone {
		return
	}
	at := ch.now.Add(p.AmountChangeValidity)
	if !at.After(a.ExpiresAt) {
		return
	}
	old := a.ExpiresAt
	a.ExpiresAt = at
	a.ExpiryRule = "policy " + p.Name + " amount change validity " + p.AmountChangeValidity.String()
	ch.rescheduleForHold(p, old)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// authorizationType is a's type; records without one are final.
func (a *Authorization) authorizationType() AuthorizationType {
	if a.AuthorizationType == "" {
		return AuthorizationFinal
	}
	return a.AuthorizationType
}

// SettleAmountChangeRequest settles a pending two-phase amount change with
// the provider's answer.
type SettleAmountChangeRequest struct {
	MerchantID, ID string
	ChangeID       string // Entry.ChangeID of the change begun
	// Reason, for a decline, is the provider's code; ignored on confirm.
	Reason         string
	Reference      string
	ProviderRef    string // the provider's ID for the change, if it gave one
	IdempotencyKey string
}

// ConfirmAmountChange records that the provider approved the pending
// amount change: the authorized amount becomes its total (see
// ChangeAmount). A decrease's reservation leaves the ledgers with it.
func (s *Service) ConfirmAmountChange(ctx context.Context, req SettleAmountChangeRequest) (*Result, error) {
	return s.settleAmountChangeRequest(ctx, CmdConfirmAmountChange, req)
}

// DeclineAmountChange records that the provider declined (or failed) the
// pending amount change: a decrease's reservation returns to open, or is
// released if the hold lapsed or the provider let go of it meanwhile; the
// authorization is otherwise as it was before the change was begun, except
// the attempt counter and the log.
func (s *Service) DeclineAmountChange(ctx context.Context, req SettleAmountChangeRequest) (*Result, error) {
	return s.settleAmountChangeRequest(ctx, CmdDeclineAmountChange, req)
}

func (s *Service) settleAmountChangeRequest(ctx context.Context, op Command, req SettleAmountChangeRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkSettlement(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, "change ID", req.ChangeID,
		req.Reason, req.ProviderRef); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	return s.settleAmountChange(ctx, op, req)
}

// settleAmountChange confirms or declines the pending amount change; req
// is well formed.
func (s *Service) settleAmountChange(ctx context.Context, op Command, req SettleAmountChangeRequest) (*Result, error) {
	f := newFingerprint(op).str(req.ID).str(req.ChangeID).str(req.Reason).str(req.Reference).opt(req.ProviderRef)
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			pc := a.PendingAmountChange
			if pc == nil || pc.ID != req.ChangeID {
				return ch.reject(ErrNotFound, "no pending amount change %q", req.ChangeID)
			}
			p, ok := ch.policy()
			if !ok {
				return ch.reject(ErrUnknownPolicy, "policy %q is not registered with this service", a.Policy)
			}
			a.PendingAmountChange = nil
			decrease := max(-pc.Delta, 0)
			a.PendingDecrement -= decrease
			ref := req.ProviderRef
			if ref == "" {
				ref = pc.ProviderRef
			}
			e := Entry{Kind: EntryAmountChange, ChangeID: pc.ID, ChangeForm: pc.Form, Delta: pc.Delta, Total: pc.Total,
				Amount: abs(pc.Delta), Reference: req.Reference, ProviderRef: ref}
			if op == CmdConfirmAmountChange {
				e.ChangeState = ActionSucceeded
				ch.approveAmountChange(p, e)
				return nil
			}
			e.ChangeState, e.Reason = ActionFailed, Reason(req.Reason)
			seq := ch.entry(e)
			ch.markMain()
			ch.changeEvent(EventAmountChangeDeclined, seq, a.Authorized, pc.Total)
			ch.giveBack(decrease, ReasonExpired)
			return nil
		})
}
