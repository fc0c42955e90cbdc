package authcapture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// CaptureRequest takes an amount, or everything open, from a hold.
type CaptureRequest struct {
	MerchantID, ID string
	// Amount to capture; must be zero when All is set.
	Amount decimal.Decimal
	// All captures the whole open amount.
	All bool
	// Currency, if set, must be the authorization's (a guard against
	// capturing dollars from a yen hold).
	Currency string
	// Final releases whatever stays open after this capture. nil takes the
	// policy's default; a policy without multiple captures makes every
	// capture final.
	Final          *bool
	Reference      string // such as a shipment ID
	ProviderRef    string // the provider's ID for the capture, if it gave one
	IdempotencyKey string
}

// Capture records a capture the provider has already accepted (a direct
// capture): the amount moves from open to captured at once, and a final
// capture releases the remainder in the same write.
func (s *Service) Capture(ctx context.Context, req CaptureRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdCapture)); err != nil {
		return nil, err
	}
	return s.capture(ctx, CmdCapture, req)
}

// BeginCapture reserves a capture's amount as pending before the host asks
// the provider, so concurrent callers can never over-capture. Settle it with
// ConfirmCapture or FailCapture, naming Result.Entry.CaptureID: "cap_" and
// the Seq of the capture's first log entry, unique within the authorization
// (the caller's own reference, a shipment ID say, goes in Reference). While a final
// capture is pending no other capture may begin; the remainder is released
// when it is confirmed.
func (s *Service) BeginCapture(ctx context.Context, req CaptureRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdBeginCapture)); err != nil {
		return nil, err
	}
	return s.capture(ctx, CmdBeginCapture, req)
}

// capture validates a caller's capture or begin-capture and runs it.
func (s *Service) capture(ctx context.Context, op Command, req CaptureRequest) (*Result, error) {
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if err := checkAmountChoice(req.Amount, req.All); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).amount(req.Amount).bool(req.All).str(req.Currency).
		bool(req.Final != nil).bool(req.Final != nil && *req.Final).str(req.Reference).opt(req.ProviderRef)
	o := captureOrder{amount: req.Amount, all: req.All, currency: req.Currency, final: req.Final, reference: req.Reference,
		providerRef: req.ProviderRef}
	cmd := &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)}
	fn := func(ch *change) error { return s.applyCapture(ch, op, o) }
	if op == CmdCapture && req.ProviderRef != "" {
		return s.directByRef(ctx, cmd, req.ProviderRef, EntryCapture, req.Amount, fn)
	}
	return s.run(ctx, cmd, fn)
}

// captureOrder is what a capture asks for: a caller's (CaptureRequest) or
// the Scheduler's, which begins a final capture of everything open under a
// capture ID of its own and holds it for a lease.
type captureOrder struct {
	amount    decimal.Decimal
	all       bool
	currency  string
	final     *bool
	reference string

	providerRef string // the provider's ID for the capture, if known

	scheduled bool          // begun by the Scheduler, which settles it
	key       string        // for a scheduled capture: the key the provider gets
	id        string        // the capture ID; empty for the next cap_ ID
	lease     time.Duration // for a scheduled capture: CaptureAt moves this far on
	reason    Reason        // for a scheduled capture: why it was taken
}

// applyCapture applies the capture rules to ch: op is CmdCapture (a
// direct capture) or CmdBeginCapture (a pending one).
func (s *Service) applyCapture(ch *change, op Command, o captureOrder) error {
	a := ch.a
	p, err := s.openFor(ch, op, o.currency)
	if err != nil {
		return err
	}
	if a.finalPending() {
		return ch.reject(ErrCapturePending, "")
	}
	direct := op == CmdCapture
	if !direct && a.ReleasedBy != CloseNone {
		return ch.reject(ErrInvalidStatus, "the provider let go of the hold (%s); only captures it already accepted can be recorded", a.ReleasedBy)
	}
	// A capture the provider already accepted may take what a void in
	// flight reserved: the provider captured first, and the void will
	// release that much less.
	available := a.Open()
	if direct {
		available += a.PendingVoid
	}
	amount, over, err := ch.captureAmount(p, o, available)
	if err != nil {
		return err
	}
	if err := ch.checkCapture(p, amount, o.final); err != nil {
		return err
	}
	final := p.finalFor(o.final)
	id := o.id
	if id == "" {
		id = ch.captureID()
	}
	a.Captures++
	a.Overcaptured += over // zero unless this is the overcapture; Open stays >= 0
	if o.scheduled {
		// The scheduler holds it until then; if it dies, the capture is
		// due again and another scheduler settles it.
		a.CaptureAt = ch.now.Add(o.lease)
	} else {
		ch.overrideCapture()
	}
	if op == CmdBeginCapture {
		a.Pending += amount
		a.PendingCaptures = append(a.PendingCaptures, PendingCapture{ID: id, Amount: amount, Final: final,
			Scheduled: o.scheduled, ProviderRef: o.providerRef, Key: o.key, BegunAt: ch.now})
		seq := ch.entry(Entry{Kind: EntryCapture, CaptureState: CapturePending, CaptureID: id, Final: final, Amount: amount,
			Reference: o.reference, Reason: o.reason, ProviderRef: o.providerRef})
		ch.markMain()
		ch.event(EventCapturePending, seq, amount)
		return nil
	}
	if open := a.Open(); amount > open {
		ch.drawFromVoids(amount - open)
	}
	a.Captured += amount
	seq := ch.entry(Entry{Kind: EntryCapture, CaptureState: CaptureSucceeded, CaptureID: id, Final: final, Amount: amount,
		Reference: o.reference, Reason: o.reason, ProviderRef: o.providerRef})
	ch.markMain()
	ch.event(EventCaptureSucceeded, seq, amount)
	if final {
		ch.releaseRemainder()
	}
	return nil
}

// SettleCaptureRequest settles a pending two-phase capture with the
// provider's outcome. A capture that is no longer pending (confirmed or
// failed already, or captured directly) is rejected with ErrCaptureSettled
// and its state, unless the same key replays the settlement; a capture ID
// the authorization never had is ErrNotFound.
type SettleCaptureRequest struct {
	MerchantID, ID string
	CaptureID      string
	// Reason, for a failure, is the provider's code; ignored on confirm.
	Reason         string
	Reference      string
	ProviderRef    string // the provider's ID for the capture, if it gave one
	IdempotencyKey string
}

// ConfirmCapture records that the provider accepted a pending capture: its
// amount moves from pending to captured, and if it was final the remainder
// still open is released.
func (s *Service) ConfirmCapture(ctx context.Context, req SettleCaptureRequest) (*Result, error) {
	return s.settleRequest(ctx, CmdConfirmCapture, req)
}

// FailCapture records that the provider refused a pending capture: its
// amount returns to open; or is released, by void if the provider let go
// of the hold meanwhile (Authorization.ReleasedBy) or by expiry if the
// hold lapsed. A failed final capture releases nothing: the authorization
// stays open and may be captured again or voided.
func (s *Service) FailCapture(ctx context.Context, req SettleCaptureRequest) (*Result, error) {
	return s.settleRequest(ctx, CmdFailCapture, req)
}

// settleRequest validates a caller's settlement and runs it.
func (s *Service) settleRequest(ctx context.Context, op Command, req SettleCaptureRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkSettlement(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, "capture ID", req.CaptureID,
		req.Reason, req.ProviderRef); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	return s.settle(ctx, op, req)
}

// checkSettlement checks the fields every settlement of a two-phase
// capture or void has: idName names actionID's kind.
func checkSettlement(merchant, id, key, reference, idName, actionID, reason, providerRef string) error {
	if err := checkCommand(merchant, id, key, reference); err != nil {
		return err
	}
	if err := checkToken(idName, actionID, MaxIDLen); err != nil {
		return err
	}
	if err := checkText("reason", reason, MaxReasonLen); err != nil {
		return err
	}
	return checkText("provider reference", providerRef, MaxReferenceLen)
}

// settle confirms (CmdConfirmCapture) or fails (CmdFailCapture) a pending
// capture. req is well formed: a caller's, validated by settleRequest, or
// the Scheduler's own, whose key carries its reserved prefix.
func (s *Service) settle(ctx context.Context, op Command, req SettleCaptureRequest) (*Result, error) {
	f := newFingerprint(op).str(req.ID).str(req.CaptureID).str(req.Reason).str(req.Reference).opt(req.ProviderRef)
	notPending := false // the rules found no pending capture of that ID
	r, err := s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			i, ok := a.pendingCapture(req.CaptureID)
			if !ok {
				notPending = true
				return ch.reject(ErrNotFound, "no pending capture %q", req.CaptureID)
			}
			pc := a.PendingCaptures[i]
			a.PendingCaptures = append(a.PendingCaptures[:i:i], a.PendingCaptures[i+1:]...)
			if len(a.PendingCaptures) == 0 {
				a.PendingCaptures = nil
			}
			a.Pending -= pc.Amount
			ref := req.ProviderRef
			if ref == "" {
				ref = pc.ProviderRef
			}
			if pc.Scheduled {
				defer ch.settleScheduled(op == CmdConfirmCapture)
			}
			if op == CmdConfirmCapture {
				a.Captured += pc.Amount
				seq := ch.entry(Entry{Kind: EntryCapture, CaptureState: CaptureSucceeded, CaptureID: pc.ID, Final: pc.Final, Amount: pc.Amount,
					Reference: req.Reference, ProviderRef: ref})
				ch.markMain()
				ch.event(EventCaptureSucceeded, seq, pc.Amount)
				if pc.Final {
					ch.releaseRemainder()
				}
				return nil
			}
			a.Captures--
			back := pc.Amount
			if a.Overcaptured > 0 {
				// The overcapture failed (it is the only capture): what it
				// took beyond the hold was never held, and is given back to
				// no ledger; the hold is as it was before it began.
				back -= a.Overcaptured
				a.Overcaptured = 0
			}
			seq := ch.entry(Entry{Kind: EntryCapture, CaptureState: CaptureFailed, CaptureID: pc.ID, Final: pc.Final, Amount: pc.Amount,
				Reference: req.Reference, Reason: Reason(req.Reason), ProviderRef: ref})
			ch.markMain()
			ch.event(EventCaptureFailed, seq, pc.Amount)
			ch.giveBack(back, ReasonCaptureFailed)
			return nil
		})
	if notPending && errors.Is(err, ErrNotFound) {
		return nil, s.settledCapture(ctx, req, err)
	}
	return r, err
}

// settledCapture returns the rejection of a settlement whose capture is
// not pending (rejection, an ErrNotFound): ErrCaptureSettled with the
// capture's state if the log has the capture, else rejection. A capture
// ID "cap_N" names the Seq of the capture's first entry, so the log is
// read from there; other IDs (the scheduler's "sched_N") are looked for in
// the whole log.
func (s *Service) settledCapture(ctx context.Context, req SettleCaptureRequest, rejection error) error {
	var e *Error
	if !errors.As(rejection, &e) {
		return rejection
	}
	var after int64
	if n, err := strconv.ParseInt(strings.TrimPrefix(req.CaptureID, "cap_"), 10, 64); err == nil && n > 0 &&
		strings.HasPrefix(req.CaptureID, "cap_") {
		after = n - 1
	}
	entries, err := s.store.Entries(ctx, req.MerchantID, req.ID, after, 0)
	if err != nil {
		return err
	}
	var state CaptureState
	for _, en := range entries {
		if en.Kind == EntryCapture && en.CaptureID == req.CaptureID {
			state = en.CaptureState
		}
	}
	if state != CaptureSucceeded && state != CaptureFailed {
		return rejection
	}
	settled := *e
	settled.Err, settled.CaptureState = ErrCaptureSettled, state
	settled.Detail = fmt.Sprintf("capture %q is %s", req.CaptureID, state)
	return &settled
}

// captureID names a capture by the Seq its first entry will have.
func (ch *change) captureID() string {
	return "cap_" + strconv.FormatInt(ch.a.Entries+1, 10)
}

// checkCapture applies the policy's capture rules to a capture of amount
// with the caller's final choice.
func (ch *change) checkCapture(p *Policy, amount int64, final *bool) error {
	a := ch.a
	// (Only an overcapture takes more than Authorized.)
	if !p.PartialCapture && (amount < a.Authorized || a.Captures > 0) {
		return ch.reject(ErrPartialCaptureNotAllowed, "the only capture allowed takes the whole %s", a.Currency.Format(a.Authorized))
	}
	if !p.MultipleCaptures && (a.Captures > 0 || (final != nil && !*final)) {
		return ch.reject(ErrMultipleCaptureNotAllowed, "policy %s allows a single, final capture", p.Name)
	}
	if p.MaxCaptures > 0 && a.Captures >= p.MaxCaptures {
		return ch.reject(ErrTooManyCaptures, "%d of %d", a.Captures, p.MaxCaptures)
	}
	if min := p.minCapture[a.Currency]; amount < min {
		return ch.reject(ErrBelowMinimum, "%s < %s", a.Currency.Format(amount), a.Currency.Format(min))
	}
	return nil
}

// captureAmount resolves a capture's amount in minor units (ch.amount)
// and how much of it is an overcapture: an explicit amount above the
// authorized amount and above what is open and what actions in flight
// hold, under a policy with an
// overcapture allowance, may take up to the allowance beyond the hold if
// the capture may overcapture (overcaptureBarred); over is then amount
// less what is open. More than the hold and the allowance is
// ErrExceedsCapturable; within them, a capture that may not overcapture
// is ErrOvercaptureNotAllowed.
func (ch *change) captureAmount(p *Policy, o captureOrder, available int64) (amount, over int64, err error) {
	a := ch.a
	allowance := p.OvercaptureAllowance(a.Currency, a.Authorized)
	if !o.all && allowance > 0 {
		amount, err = a.Currency.ToMinor(o.amount)
		if err == nil && amount > a.Authorized && amount > a.Open()+a.inFlight() {
			if most := a.Authorized + allowance; amount > most {
				return 0, 0, ch.reject(ErrExceedsCapturable, "%s > %s, the %s authorized and an overcapture allowance of %s",
					a.Currency.Format(amount), a.Currency.Format(most), a.Currency.Format(a.Authorized), a.Currency.Format(allowance))
			}
			if why := ch.overcaptureBarred(p, o.final); why != "" {
				return 0, 0, ch.reject(ErrOvercaptureNotAllowed, "%s > %s open: %s", a.Currency.Format(amount),
					a.Currency.Format(max(a.Open(), 0)), why)
			}
			return amount, amount - a.Open(), nil
		}
	}
	amount, err = ch.amount(o.amount, o.all, available)
	return amount, 0, err
}

// overcaptureBarred says why a capture (final as asked) may not take
// more than the hold under p, or returns "" if it may: an overcapture is
// a final capture, the authorization's only one, taken from a whole hold
// (nothing captured, pending, voided, expired or reserved) whose amount
// never changed.
func (ch *change) overcaptureBarred(p *Policy, final *bool) string {
	a := ch.a
	switch {
	case !p.finalFor(final):
		return "only a final capture may overcapture"
	case a.Captures > 0:
		return "only the authorization's only capture may overcapture, and it has another"
	case a.amountChanged():
		return "the hold's amount was changed; an overcapture may not follow an amount change"
	case a.Open() != a.Authorized || a.ReleasedBy != CloseNone:
		return "an overcapture takes the whole hold, and part of it was voided, expired or reserved"
	}
	return ""
}

// releaseRemainder voids what is open after a final capture: the provider
// lets go of the hold, and whatever a pending action gives back later is
// released too (giveBack).
func (ch *change) releaseRemainder() {
	a := ch.a
	if a.ReleasedBy == CloseNone { // the first release is the one that let go of the hold
		a.ReleasedBy = CloseFinalCapture
	}
	rest := a.Open()
	if rest <= 0 {
		return
	}
	a.Voided += rest
	seq := ch.entry(Entry{Kind: EntryVoid, Amount: rest, Reason: ReasonFinalCapture})
	ch.event(EventRemainderReleased, seq, rest)
	ch.release = CloseFinalCapture
}

// openFor checks that the authorization accepts a capture or void now: its
// status allows the command, the hold has not expired and the currency, if
// given, matches. It returns the policy.
func (s *Service) openFor(ch *change, op Command, currency string) (*Policy, error) {
	a := ch.a
	if a.HoldExpired() {
		return nil, ch.reject(ErrExpired, "the hold expired at %s", a.ExpiresAt.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	if !ch.before.Accepts(op) {
		return nil, ch.reject(ErrInvalidStatus, "")
	}
	if currency != "" && currency != string(a.Currency) {
		if _, err := ParseCurrency(currency); err != nil {
			return nil, ch.reject(ErrUnknownCurrency, "%q", truncate(currency, 16))
		}
		return nil, ch.reject(ErrCurrencyMismatch, "%s given, the authorization is in %s", currency, a.Currency)
	}
	p := s.policies[a.Policy]
	if p == nil {
		return nil, ch.reject(ErrUnknownPolicy, "policy %q is not registered with this service", a.Policy)
	}
	return p, nil
}

// amount resolves a capture's or void's amount in minor units: All takes
// what is open; an explicit amount may take up to available (what is open,
// and for a direct action what voids in flight reserved). Asking for more
// than available is a temporary conflict while actions in flight hold the
// rest (ErrActionInFlight), and impossible otherwise.
func (ch *change) amount(d decimal.Decimal, all bool, available int64) (int64, error) {
	a := ch.a
	open := a.Open()
	held := open + a.inFlight() - available // held by actions in flight, out of this command's reach
	if all {
		switch {
		case open > 0:
			return open, nil
		case a.inFlight() > 0:
			return 0, ch.reject(ErrActionInFlight, "nothing is open; %s is held by actions in flight", a.Currency.Format(a.inFlight()))
		default:
			return 0, ch.reject(ErrExceedsCapturable, "nothing is open")
		}
	}
	amount, err := a.Currency.ToMinor(d)
	if err != nil {
		return 0, ch.reject(rootSentinel(err), "%v", err)
	}
	switch {
	case amount <= available:
		return amount, nil
	case amount <= available+held:
		return 0, ch.reject(ErrActionInFlight, "%s > %s available; actions in flight hold %s more", a.Currency.Format(amount),
			a.Currency.Format(available), a.Currency.Format(held))
	case available <= 0:
		return 0, ch.reject(ErrExceedsCapturable, "nothing is open")
	default:
		return 0, ch.reject(ErrExceedsCapturable, "%s > %s open", a.Currency.Format(amount), a.Currency.Format(available))
	}
}

// giveBack returns amount that a failed action had reserved: to open while
// the provider holds the funds; else released, by void if the provider let
// go of the hold (ReleasedBy) or by expiry if the hold lapsed.
func (ch *change) giveBack(amount int64, reason Reason) {
	a := ch.a
	switch {
	case amount <= 0:
	case a.ReleasedBy != CloseNone:
		a.Voided += amount
		seq := ch.entry(Entry{Kind: EntryVoid, Amount: amount, Reason: ReasonHoldReleased})
		ch.event(EventVoided, seq, amount)
		ch.release = a.ReleasedBy
	case a.HoldExpired():
		a.Expired += amount
		seq := ch.entry(Entry{Kind: EntryExpiry, Amount: amount, Reason: reason})
		ch.event(EventExpired, seq, amount)
		ch.release = CloseExpired
	}
}

func checkAmountChoice(d decimal.Decimal, all bool) error {
	if all {
		if !d.IsZero() {
			return fmt.Errorf("amount %s given with All: %w", amountString(d), ErrInvalidArgument)
		}
		return nil
	}
	if d.Sign() <= 0 {
		return fmt.Errorf("%s given, and All is not set: %w", amountString(d), ErrInvalidAmount)
	}
	return checkAmount(d)
}
