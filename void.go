package authcapture

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// VoidRequest releases all or part of what is open.
type VoidRequest struct {
	MerchantID, ID string
	// Amount to release; must be zero when All is set. A partial void
	// lowers the open amount and keeps the rest capturable, if the policy
	// allows partial voids.
	Amount decimal.Decimal
	// All releases the whole open amount.
	All bool
	// Currency, if set, must be the authorization's.
	Currency string
	// Reason is a caller reason (ReasonRequestedByCustomer,
	// ReasonFraudulent, ReasonDuplicate, ReasonAbandoned) or empty; system
	// reasons are rejected.
	Reason         Reason
	Reference      string
	IdempotencyKey string
}

// Void releases open funds. Voiding the whole remainder closes the
// authorization: as voided if nothing was captured, as captured otherwise.
// Amounts already captured or pending are not touched.
func (s *Service) Void(ctx context.Context, req VoidRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdVoid)); err != nil {
		return nil, err
	}
	op := CmdVoid
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if req.Reason != "" && !req.Reason.callerVoidReason() {
		return nil, badRequest(op, req.MerchantID, req.ID, fmt.Errorf("void reason %q is not a caller reason: %w", truncate(string(req.Reason), 64), ErrInvalidArgument))
	}
	if err := checkAmountChoice(req.Amount, req.All); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).amount(req.Amount).bool(req.All).str(req.Currency).
		str(string(req.Reason)).str(req.Reference)
	o := voidOrder{amount: req.Amount, all: req.All, currency: req.Currency, reason: req.Reason, reference: req.Reference}
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error { return s.applyVoid(ch, o) })
}

// voidOrder is what a void asks for: a caller's (VoidRequest) or the
// Scheduler's, which releases everything open when a delayed cancel fires.
type voidOrder struct {
	amount    decimal.Decimal
	all       bool
	currency  string
	reason    Reason
	reference string
	scheduled bool // the Scheduler's: the delayed cancel fired
}

// applyVoid applies the void rules to ch.
func (s *Service) applyVoid(ch *change, o voidOrder) error {
	a := ch.a
	p, err := s.openFor(ch, CmdVoid, o.currency)
	if err != nil {
		return err
	}
	open := a.Open()
	amount, err := ch.amount(o.amount, o.all, open)
	if err != nil {
		return err
	}
	if amount != open && !p.PartialVoid {
		return ch.reject(ErrPartialVoidNotAllowed, "policy %s voids only the whole %s open", p.Name, a.Currency.Format(open))
	}
	a.Voided += amount
	seq := ch.entry(Entry{Kind: EntryVoid, Amount: amount, Reason: o.reason, Reference: o.reference})
	ch.markMain()
	if amount == open {
		ch.event(EventVoided, seq, amount)
		ch.release = CloseVoided
	} else {
		ch.event(EventPartiallyVoided, seq, amount)
	}
	if o.scheduled {
		a.CancelAt = time.Time{} // the cancel that was due is done
	} else {
		ch.overrideCancel()
	}
	return nil
}
