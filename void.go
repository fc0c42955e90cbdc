package authcapture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	ProviderRef    string // the provider's ID for the void, if it gave one
	IdempotencyKey string
}

// Void records a void the provider has already carried out (a direct
// void): it releases open funds. Voiding the whole remainder closes the
// authorization, once nothing is in flight: as voided if nothing was
// captured, as captured otherwise. Pending captures are not touched; if
// the provider released what a pending void reserved, the void draws from
// that reservation. A void of everything, or any void on a policy without
// partial voids, lets go of the hold (Authorization.ReleasedBy).
func (s *Service) Void(ctx context.Context, req VoidRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdVoid)); err != nil {
		return nil, err
	}
	cmd, o, err := voidCommand(CmdVoid, req)
	if err != nil {
		return nil, err
	}
	fn := func(ch *change) error { return s.applyVoid(ch, o) }
	if req.ProviderRef != "" {
		return s.directByRef(ctx, cmd, req.ProviderRef, EntryVoid, decimal.Decimal{}, fn) // what a void released may differ
	}
	return s.run(ctx, cmd, fn)
}

// directByRef runs a direct capture, void or amount change (kind) that names the
// provider's reference for it. If the log already records that action as
// done (its webhook, through RecordOutcome, came first), the command is a
// replay of that record: the provider did it once; unless the command
// names an amount (amount not zero) other than the one recorded, which is
// ErrOutcomeConflict. Otherwise the write is pinned to the version whose
// log was read, so that a record made meanwhile is seen on the next look,
// never counted twice.
func (s *Service) directByRef(ctx context.Context, cmd *command, ref string, kind EntryKind, amount decimal.Decimal,
	fn func(ch *change) error) (*Result, error) {
	for attempt := 0; ; attempt++ {
		a, err := s.load(ctx, string(cmd.op), cmd.merchant, cmd.id)
		if err != nil {
			return s.notFound(ctx, cmd, err)
		}
		if r, err := s.replayByRef(ctx, cmd, a, ref, kind, amount); r != nil || err != nil {
			return r, err
		}
		pinned := *cmd
		if !a.Closed() { // a closed one is rejected as such, not as a conflict
			pinned.found = a.Version
		}
		r, err := s.run(ctx, &pinned, fn)
		if errors.Is(err, ErrVersionConflict) && attempt < s.maxRetries {
			continue
		}
		return r, err
	}
}

// replayByRef gives the replay of a direct action (kind) naming the
// provider reference ref if the log of a, cmd's authorization, records
// that action as done, or ErrOutcomeConflict if it recorded another amount
// (see recordedAmount); nil and no error if it records no such action.
// The index says whether any entry records ref; only then is the log read.
// A record written after a was read fails the caller's pinned write, and
// its next look finds it. The idempotency key's own record comes first:
// another request under it is a mismatch, not a replay.
func (s *Service) replayByRef(ctx context.Context, cmd *command, a *Authorization, ref string, kind EntryKind,
	amount decimal.Decimal) (*Result, error) {
	owner, err := s.store.FindByProviderRef(ctx, cmd.merchant, ref)
	if errors.Is(err, ErrNotFound) || err == nil && owner != cmd.id {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The key's own record first: another request under it is a
	// mismatch, not a replay of the provider's action.
	if r, ok, err := s.replay(ctx, cmd); ok || err != nil {
		return r, err
	}
	e, ok, err := s.doneByRef(ctx, cmd, ref, kind)
	if err != nil || !ok {
		return nil, err
	}
	if err := recordedAmount(cmd, a, e, ref, amount); err != nil {
		return nil, err
	}
	return &Result{Authorization: a, Entry: e, Replayed: true}, nil
}

// recordedAmount checks that a direct action naming amount (zero: none)
// asks for what the entry e recorded under the provider reference ref: the
// provider did one action under it, so another amount contradicts it.
func recordedAmount(cmd *command, a *Authorization, e Entry, ref string, amount decimal.Decimal) error {
	if amount.IsZero() {
		return nil
	}
	want, err := a.Currency.ToMinor(amount)
	if err != nil || want == e.Amount {
		return nil // a malformed amount is not the provider's: the replay stands
	}
	return &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: a.ID, Status: a.Status(), Err: ErrOutcomeConflict,
		Detail: fmt.Sprintf("the provider's action %s is recorded for %s, not %s", quoteRef(ref),
			a.Currency.Format(e.Amount), a.Currency.Format(want))}
}

// doneByRef finds in the log of cmd's authorization an entry recording a
// capture, void or refund (kind) with the provider reference ref as done.
func (s *Service) doneByRef(ctx context.Context, cmd *command, ref string, kind EntryKind) (Entry, bool, error) {
	log, err := s.store.Entries(ctx, cmd.merchant, cmd.id, 0, 0)
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range log {
		done := e.CaptureState == ActionSucceeded
		switch kind {
		case EntryVoid:
			done = e.VoidState == "" || e.VoidState == ActionSucceeded
		case EntryRefund:
			done = e.RefundState == ActionSucceeded
		case EntryAmountChange:
			done = e.ChangeState == ActionSucceeded
		}
		if e.Kind == kind && e.ProviderRef == ref && done {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

// BeginVoid reserves a void's amount before the host asks the provider to
// release it, so that nothing else can begin against it. Settle it with
// ConfirmVoid (with what the provider released) or FailVoid, naming
// Result.Entry.VoidID. A direct capture the provider accepted meanwhile may
// still be recorded: it draws from the reservation, and the void then
// releases that much less.
func (s *Service) BeginVoid(ctx context.Context, req VoidRequest) (*Result, error) {
	op := CmdBeginVoid
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	cmd, o, err := voidCommand(op, req)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, cmd, func(ch *change) error { return s.applyBeginVoid(ch, o) })
}

// voidCommand checks req and gives the command (with its fingerprint) and
// the order that Void and BeginVoid (op) run.
func voidCommand(op Command, req VoidRequest) (*command, voidOrder, error) {
	if err := checkVoidRequest(req); err != nil {
		return nil, voidOrder{}, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).amount(req.Amount).bool(req.All).str(req.Currency).
		str(string(req.Reason)).str(req.Reference).opt(req.ProviderRef)
	o := voidOrder{amount: req.Amount, all: req.All, currency: req.Currency, reason: req.Reason, reference: req.Reference,
		providerRef: req.ProviderRef}
	return &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)}, o, nil
}

func checkVoidRequest(req VoidRequest) error {
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return err
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return err
	}
	if req.Reason != "" && !req.Reason.callerVoidReason() {
		return fmt.Errorf("void reason %q is not a caller reason: %w", truncate(string(req.Reason), 64), ErrInvalidArgument)
	}
	return checkAmountChoice(req.Amount, req.All)
}

// voidOrder is what a void asks for: a caller's (VoidRequest) or the
// Scheduler's, which releases everything open when a delayed cancel fires.
type voidOrder struct {
	amount      decimal.Decimal
	all         bool
	currency    string
	reason      Reason
	reference   string
	providerRef string

	scheduled bool          // the Scheduler's: the delayed cancel fired
	id        string        // for a scheduled void: its ID
	key       string        // for a scheduled void: the key the provider gets
	lease     time.Duration // for a scheduled void: CancelAt moves this far on
}

// voidAmount checks a void against the policy and resolves its amount
// from available. It reports whether the void lets go of the whole hold:
// a void of everything, or the provider's only kind of void when the
// policy has no partial voids.
func (s *Service) voidAmount(ch *change, op Command, o voidOrder, available int64) (int64, bool, error) {
	a := ch.a
	p, err := s.openFor(ch, op, o.currency)
	if err != nil {
		return 0, false, err
	}
	amount, err := ch.amount(o.amount, o.all, available)
	if err != nil {
		return 0, false, err
	}
	if amount != a.Open() && amount != available && !p.PartialVoid {
		return 0, false, ch.reject(ErrPartialVoidNotAllowed, "policy %s voids only the whole %s open", p.Name, a.Currency.Format(a.Open()))
	}
	return amount, o.all || !p.PartialVoid, nil
}

// applyVoid applies the rules of a direct void to ch: the provider has
// released amount. It takes what is open first, then what voids in
// flight reserved (the provider released it on this call instead).
func (s *Service) applyVoid(ch *change, o voidOrder) error {
	a := ch.a
	amount, whole, err := s.voidAmount(ch, CmdVoid, o, a.Open()+a.PendingVoid)
	if err != nil {
		return err
	}
	if open := a.Open(); amount > open {
		ch.drawFromVoids(amount - open)
	}
	a.Voided += amount
	seq := ch.entry(Entry{Kind: EntryVoid, Amount: amount, Reason: o.reason, Reference: o.reference, ProviderRef: o.providerRef})
	ch.markMain()
	ch.voided(seq, amount, whole)
	ch.overrideCancel()
	return nil
}

// voided reports a release of amount. A void of the whole hold (whole)
// lets go of it: what pending actions give back later is released too.
// One that leaves nothing open closes the authorization as voided once
// nothing is in flight.
func (ch *change) voided(seq, amount int64, whole bool) {
	a := ch.a
	if whole && a.ReleasedBy == CloseNone {
		a.ReleasedBy = CloseVoided
	}
	if a.Open() > 0 {
		ch.event(EventPartiallyVoided, seq, amount)
		return
	}
	ch.event(EventVoided, seq, amount)
	ch.release = CloseVoided
}

// applyBeginVoid reserves a two-phase void's amount from what is open.
func (s *Service) applyBeginVoid(ch *change, o voidOrder) error {
	a := ch.a
	if a.ReleasedBy != CloseNone {
		return ch.reject(ErrInvalidStatus, "the provider let go of the hold (%s)", a.ReleasedBy)
	}
	amount, whole, err := s.voidAmount(ch, CmdBeginVoid, o, a.Open())
	if err != nil {
		return err
	}
	id := o.id
	if id == "" {
		id = "void_" + strconv.FormatInt(a.Entries+1, 10)
	}
	a.PendingVoid += amount
	a.PendingVoids = append(a.PendingVoids, PendingVoid{ID: id, Amount: amount, All: whole, Scheduled: o.scheduled,
		ProviderRef: o.providerRef, Key: o.key, BegunAt: ch.now})
	seq := ch.entry(Entry{Kind: EntryVoid, VoidState: ActionPending, VoidID: id, Amount: amount, Reason: o.reason,
		Reference: o.reference, ProviderRef: o.providerRef})
	ch.markMain()
	ch.event(EventVoidPending, seq, amount)
	if o.scheduled {
		a.CancelAt = ch.now.Add(o.lease) // the scheduler holds it; re-driven after the lease if it dies
	} else {
		ch.overrideCancel()
	}
	return nil
}

// drawFromVoids takes n (at most PendingVoid) from the reservations of
// voids in flight, newest first: a direct capture or void the provider
// accepted took it, so those voids will release that much less. Each
// draw is a failed entry of the void for the amount drawn.
func (ch *change) drawFromVoids(n int64) {
	a := ch.a
	for i := len(a.PendingVoids) - 1; i >= 0 && n > 0; i-- {
		pv := &a.PendingVoids[i]
		take := min(n, pv.Amount)
		if take == 0 {
			continue
		}
		pv.Amount -= take
		a.PendingVoid -= take
		n -= take
		ch.entry(Entry{Kind: EntryVoid, VoidState: ActionFailed, VoidID: pv.ID, Amount: take, Reason: ReasonDrawnByDirectAction})
	}
}

// SettleVoidRequest settles a pending two-phase void with the provider's
// outcome.
type SettleVoidRequest struct {
	MerchantID, ID string
	VoidID         string
	// Released, on confirm, is what the provider reports it released: at
	// most what the void still reserves (Authorization.PendingVoids), less
	// if something took part of it first, possibly zero. nil means all of
	// it. A void of everything may report more, up to what was never
	// captured: the provider let go of all it held, including what a
	// capture that failed meanwhile returned to open (taken from open now)
	// and what captures still in flight hold (released when they fail).
	Released *decimal.Decimal
	// Reason, for a failure, is the provider's code; ignored on confirm.
	Reason         string
	Reference      string
	ProviderRef    string // the provider's ID for the void, if it gave one
	IdempotencyKey string
}

// ConfirmVoid records that the provider carried out a pending void: what
// it released moves from the reservation to voided, and whatever it did
// not release returns to open (a capture that took it is recorded with
// Capture). A confirmed void of everything lets go of the hold
// (Authorization.ReleasedBy).
func (s *Service) ConfirmVoid(ctx context.Context, req SettleVoidRequest) (*Result, error) {
	return s.settleVoidRequest(ctx, CmdConfirmVoid, req)
}

// FailVoid records that the provider refused a pending void: its
// reservation returns to open, or is released if the hold lapsed or the
// provider let go of it meanwhile.
func (s *Service) FailVoid(ctx context.Context, req SettleVoidRequest) (*Result, error) {
	return s.settleVoidRequest(ctx, CmdFailVoid, req)
}

func (s *Service) settleVoidRequest(ctx context.Context, op Command, req SettleVoidRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkSettlement(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, "void ID", req.VoidID,
		req.Reason, req.ProviderRef); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if r := req.Released; r != nil && (r.Sign() < 0 || op == CmdFailVoid) {
		return nil, badRequest(op, req.MerchantID, req.ID, fmt.Errorf("released %s: a confirm may say what was released, zero or more: %w",
			amountString(*r), ErrInvalidAmount))
	}
	if r := req.Released; r != nil && !r.IsZero() {
		if err := checkAmount(*r); err != nil {
			return nil, badRequest(op, req.MerchantID, req.ID, err)
		}
	}
	return s.settleVoid(ctx, op, req)
}

// settleVoid confirms (CmdConfirmVoid) or fails (CmdFailVoid) a pending
// void. req is well formed: a caller's, validated by settleVoidRequest, or
// the Scheduler's own.
func (s *Service) settleVoid(ctx context.Context, op Command, req SettleVoidRequest) (*Result, error) {
	f := newFingerprint(op).str(req.ID).str(req.VoidID).str(req.Reason).str(req.Reference).str(req.ProviderRef).
		bool(req.Released != nil)
	if req.Released != nil {
		f = f.amount(*req.Released)
	}
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			i, ok := a.pendingVoid(req.VoidID)
			if !ok {
				return ch.reject(ErrNotFound, "no pending void %q", req.VoidID)
			}
			pv := a.PendingVoids[i]
			released := pv.Amount
			if op == CmdConfirmVoid && req.Released != nil {
				var r int64 // nothing released
				if !req.Released.IsZero() {
					var err error
					if r, err = a.Currency.ToMinor(*req.Released); err != nil {
						return ch.reject(rootSentinel(err), "%v", err)
					}
				}
				// A void of everything lets go of all the provider still
				// holds: what it reserved, what a failed capture returned to
				// open meanwhile (taken from open now), and what captures
				// still in flight hold, or what lapsed meanwhile (released
				// when those captures fail, or already released). It can
				// report at most what was never captured.
				most := pv.Amount
				if pv.All {
					most = a.Authorized - a.Captured
				}
				if r > most {
					return ch.reject(ErrExceedsCapturable, "released %s > %s the void may release",
						a.Currency.Format(r), a.Currency.Format(most))
				}
				released = min(r, pv.Amount+a.Open())
			}
			a.PendingVoids = append(a.PendingVoids[:i:i], a.PendingVoids[i+1:]...)
			if len(a.PendingVoids) == 0 {
				a.PendingVoids = nil
			}
			a.PendingVoid -= pv.Amount
			ref := req.ProviderRef
			if ref == "" {
				ref = pv.ProviderRef
			}
			if pv.Scheduled {
				a.CancelAt = time.Time{} // the delayed cancel is done, either way
			}
			if op == CmdFailVoid {
				seq := ch.entry(Entry{Kind: EntryVoid, VoidState: ActionFailed, VoidID: pv.ID, Amount: pv.Amount,
					Reference: req.Reference, Reason: Reason(req.Reason), ProviderRef: ref})
				ch.markMain()
				ch.event(EventVoidFailed, seq, pv.Amount)
				ch.giveBack(pv.Amount, ReasonExpired)
				return nil
			}
			var reason Reason
			if pv.Scheduled {
				reason = ReasonScheduledCancel
			}
			a.Voided += released
			extra := max(released-pv.Amount, 0) // taken from open: the provider let go of it too
			seq := ch.entry(Entry{Kind: EntryVoid, VoidState: ActionSucceeded, VoidID: pv.ID, Amount: released - extra,
				Reference: req.Reference, ProviderRef: ref, Reason: reason})
			ch.markMain()
			if extra > 0 {
				ch.entry(Entry{Kind: EntryVoid, Amount: extra, Reason: ReasonHoldReleased})
			}
			if rest := pv.Amount - released; rest > 0 {
				// Something took it first (a capture the host records
				// directly): back to open for that record, or to expired if
				// the hold lapsed meanwhile (nothing can be recorded then).
				ch.entry(Entry{Kind: EntryVoid, VoidState: ActionFailed, VoidID: pv.ID, Amount: rest, Reason: ReasonNotReleased})
				if a.HoldExpired() {
					a.Expired += rest
					seq := ch.entry(Entry{Kind: EntryExpiry, Amount: rest, Reason: ReasonExpired})
					ch.event(EventExpired, seq, rest)
				}
			}
			ch.voided(seq, released, pv.All)
			return nil
		})
}
