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

// RefundRequest gives captured money back: all or part of one capture, or
// of the total captured.
type RefundRequest struct {
	MerchantID, ID string
	// Amount to refund, a positive decimal.
	Amount decimal.Decimal
	// Currency, if set, must be the authorization's.
	Currency string
	// CaptureID names the capture refunded (Entry.CaptureID): the refunds
	// naming it may give back at most what it captured. Empty refunds
	// against the total captured.
	CaptureID string
	// Reason is a caller reason (ReasonRequestedByCustomer,
	// ReasonFraudulent, ReasonDuplicate) or empty.
	Reason         Reason
	Reference      string // such as a return's ID
	ProviderRef    string // the provider's ID for the refund, if it gave one
	IdempotencyKey string
}

// Refund records a refund the provider has already carried out (a direct
// refund): the amount moves from refundable to refunded at once. Refunds
// change only the refund ledger (Refunded, PendingRefund), never what is
// open, pending or released on the hold, and never the Status; they are
// accepted on a captured (closed) authorization too. The policy decides
// whether refunds may come before the authorization is closed
// (RefundBeforeFinalCapture) and for how long after a capture they may
// come (RefundWindow). Refunded + PendingRefund never exceeds Captured, in
// total and, for the refunds naming a capture, per capture.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (*Result, error) {
	return s.refundRequest(ctx, CmdRefund, req)
}

// BeginRefund reserves a refund's amount before the host asks the provider
// for it, so that nothing else can refund it meanwhile. Settle it with
// ConfirmRefund or FailRefund, naming Result.Entry.RefundID ("refund_"
// and the Seq of the refund's first entry); a failed refund's amount is
// refundable again.
func (s *Service) BeginRefund(ctx context.Context, req RefundRequest) (*Result, error) {
	return s.refundRequest(ctx, CmdBeginRefund, req)
}

func (s *Service) refundRequest(ctx context.Context, op Command, req RefundRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkRefundRequest(req); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).amount(req.Amount).str(req.Currency).str(req.CaptureID).
		str(string(req.Reason)).str(req.Reference).opt(req.ProviderRef)
	o := refundOrder{amount: req.Amount, currency: req.Currency, captureID: req.CaptureID, reason: req.Reason,
		reference: req.Reference, providerRef: req.ProviderRef}
	cmd := &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)}
	return s.runRefund(ctx, cmd, o, 0)
}

func checkRefundRequest(req RefundRequest) error {
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return err
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return err
	}
	if req.CaptureID != "" {
		if err := checkToken("capture ID", req.CaptureID, MaxIDLen); err != nil {
			return err
		}
	}
	if req.Reason != "" && !req.Reason.callerRefundReason() {
		return fmt.Errorf("refund reason %q is not a caller reason: %w", truncate(string(req.Reason), 64), ErrInvalidArgument)
	}
	if req.Amount.Sign() <= 0 {
		return fmt.Errorf("refund amount %s: %w", amountString(req.Amount), ErrInvalidAmount)
	}
	return checkAmount(req.Amount)
}

func (r Reason) callerRefundReason() bool {
	switch r {
	case ReasonRequestedByCustomer, ReasonFraudulent, ReasonDuplicate:
		return true
	}
	return false
}

// refundOrder is what a refund asks for.
type refundOrder struct {
	amount      decimal.Decimal
	currency    string
	captureID   string
	reason      Reason
	reference   string
	providerRef string
}

// runRefund runs a refund or begin-refund. The rules need the log when the
// refund names a capture (what it captured, when, and what refunds naming
// it took) or the policy has a refund window (when the latest capture
// succeeded): the log is read first and the write pinned to the version
// read, so that a refund written meanwhile is seen on the next look. A
// direct refund naming the provider's reference is a replay if the log
// already records it as done (its webhook came first). found, if not
// zero, pins the command to that version without retrying (RecordOutcome
// looks again itself).
func (s *Service) runRefund(ctx context.Context, cmd *command, o refundOrder, found int64) (*Result, error) {
	fn := func(log []Entry) func(ch *change) error {
		return func(ch *change) error { return s.applyRefund(ch, cmd.op, o, log) }
	}
	for attempt := 0; ; attempt++ {
		a, err := s.load(ctx, string(cmd.op), cmd.merchant, cmd.id)
		if err != nil {
			return s.notFound(ctx, cmd, err)
		}
		p := s.policies[a.Policy]
		needLog := o.captureID != "" || p != nil && p.RefundWindow > 0
		byRef := cmd.op == CmdRefund && o.providerRef != ""
		if byRef {
			if r, err := s.replayByRef(ctx, cmd, a, o.providerRef, EntryRefund, o.amount); r != nil || err != nil {
				return r, err
			}
		}
		if !needLog && !byRef && found == 0 {
			return s.run(ctx, cmd, fn(nil))
		}
		var log []Entry
		if needLog {
			after := int64(0)
			if o.captureID != "" {
				after = captureSeq(o.captureID) // the capture's entries and the refunds naming it come from there on
			}
			if log, err = s.store.Entries(ctx, cmd.merchant, cmd.id, after, 0); err != nil {
				return nil, err
			}
		}
		pinned := *cmd
		pinned.found = a.Version
		if found != 0 {
			pinned.found = found
		}
		r, err := s.run(ctx, &pinned, fn(log))
		if errors.Is(err, ErrVersionConflict) && found == 0 && attempt < s.maxRetries {
			continue
		}
		return r, err
	}
}

// captureSeq is the Seq before the first entry of the capture id: a
// capture ID "cap_N" names the Seq of its first entry. Other IDs (the
// scheduler's) give 0: their entries are looked for in the whole log.
func captureSeq(id string) int64 {
	if rest, ok := strings.CutPrefix(id, "cap_"); ok {
		if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n > 0 {
			return n - 1
		}
	}
	return 0
}

// refundable is what the log says of a capture that refunds name: what it
// captured and when, and what the refunds naming it took (succeeded or
// pending).
type refundable struct {
	state    ActionState // of the capture; empty if the log has no such capture
	captured int64
	at       time.Time // when it succeeded
	refunded int64     // by refunds naming it that succeeded or are pending
}

// captureRefunds reads from log the capture id and the refunds naming it.
func captureRefunds(log []Entry, id string) refundable {
	var r refundable
	refunds := map[string]int64{} // refund ID -> what it takes
	for _, e := range log {
		switch {
		case e.Kind == EntryCapture && e.CaptureID == id:
			r.state = e.CaptureState
			if e.CaptureState == ActionSucceeded {
				r.captured, r.at = e.Amount, e.At
			}
		case e.Kind == EntryRefund && e.CaptureID == id:
			switch e.RefundState {
			case ActionPending, ActionSucceeded:
				if _, ok := refunds[e.RefundID]; !ok {
					refunds[e.RefundID] = e.Amount
				}
			case ActionFailed:
				refunds[e.RefundID] = 0
			}
		}
	}
	for _, n := range refunds {
		r.refunded += n
	}
	return r
}

// lastCaptureAt is when the latest capture in log succeeded; zero if none did.
func lastCaptureAt(log []Entry) time.Time {
	var t time.Time
	for _, e := range log {
		if e.Kind == EntryCapture && e.CaptureState == ActionSucceeded && e.At.After(t) {
			t = e.At
		}
	}
	return t
}

// applyRefund applies the refund rules to ch: op is CmdRefund (a direct
// refund) or CmdBeginRefund (a pending one). log is the authorization's
// log, from the capture named on, when the rules need it (runRefund).
func (s *Service) applyRefund(ch *change, op Command, o refundOrder, log []Entry) error {
	a := ch.a
	if !ch.before.Accepts(op) {
		if a.Phase == PhaseApproved && a.Captured == 0 {
			return ch.reject(ErrInvalidStatus, "nothing was captured")
		}
		return ch.reject(ErrInvalidStatus, "")
	}
	if o.currency != "" && o.currency != string(a.Currency) {
		if _, err := ParseCurrency(o.currency); err != nil {
			return ch.reject(ErrUnknownCurrency, "%q", truncate(o.currency, 16))
		}
		return ch.reject(ErrCurrencyMismatch, "%s given, the authorization is in %s", o.currency, a.Currency)
	}
	p := s.policies[a.Policy]
	if p == nil {
		return ch.reject(ErrUnknownPolicy, "policy %q is not registered with this service", a.Policy)
	}
	if !a.Closed() && !p.RefundBeforeFinalCapture {
		return ch.reject(ErrRefundNotAllowed, "policy %s refunds once the authorization is closed; it is %s", p.Name, ch.before)
	}
	amount, err := a.Currency.ToMinor(o.amount)
	if err != nil {
		return ch.reject(rootSentinel(err), "%v", err)
	}
	// Per capture: what it captured, less what the refunds naming it took.
	if o.captureID != "" {
		c := captureRefunds(log, o.captureID)
		switch c.state {
		case "":
			return ch.reject(ErrNotFound, "no capture %q", truncate(o.captureID, 64))
		case ActionPending:
			return ch.reject(ErrActionInFlight, "capture %s is pending; refund it once it succeeds", o.captureID)
		case ActionFailed:
			return ch.reject(ErrCaptureNotRefundable, "capture %s failed", o.captureID)
		}
		if p.RefundWindow > 0 && !ch.now.Before(c.at.Add(p.RefundWindow)) {
			return ch.reject(ErrRefundWindowClosed, "capture %s succeeded at %s; policy %s refunds within %s", o.captureID,
				c.at.UTC().Format(time.RFC3339), p.Name, p.RefundWindow)
		}
		if left := c.captured - c.refunded; amount > left {
			return ch.reject(ErrExceedsRefundable, "%s > %s refundable of capture %s", a.Currency.Format(amount),
				a.Currency.Format(max(left, 0)), o.captureID)
		}
	} else if p.RefundWindow > 0 {
		if at := lastCaptureAt(log); !at.IsZero() && !ch.now.Before(at.Add(p.RefundWindow)) {
			return ch.reject(ErrRefundWindowClosed, "the latest capture succeeded at %s; policy %s refunds within %s",
				at.UTC().Format(time.RFC3339), p.Name, p.RefundWindow)
		}
	}
	// In total.
	switch left := a.Refundable(); {
	case amount <= left:
	case amount <= left+a.PendingRefund:
		return ch.reject(ErrActionInFlight, "%s > %s refundable; refunds in flight hold %s more", a.Currency.Format(amount),
			a.Currency.Format(left), a.Currency.Format(a.PendingRefund))
	default:
		return ch.reject(ErrExceedsRefundable, "%s > %s refundable", a.Currency.Format(amount), a.Currency.Format(left))
	}
	id := "refund_" + strconv.FormatInt(a.Entries+1, 10)
	a.Refunds++
	if op == CmdBeginRefund {
		a.PendingRefund += amount
		a.PendingRefunds = append(a.PendingRefunds, PendingRefund{ID: id, Amount: amount, CaptureID: o.captureID,
			ProviderRef: o.providerRef, BegunAt: ch.now})
		seq := ch.entry(Entry{Kind: EntryRefund, RefundState: ActionPending, RefundID: id, CaptureID: o.captureID, Amount: amount,
			Reference: o.reference, Reason: o.reason, ProviderRef: o.providerRef})
		ch.markMain()
		ch.event(EventRefundPending, seq, amount)
		return nil
	}
	a.Refunded += amount
	seq := ch.entry(Entry{Kind: EntryRefund, RefundState: ActionSucceeded, RefundID: id, CaptureID: o.captureID, Amount: amount,
		Reference: o.reference, Reason: o.reason, ProviderRef: o.providerRef})
	ch.markMain()
	ch.event(EventRefundSucceeded, seq, amount)
	return nil
}

// SettleRefundRequest settles a pending two-phase refund with the
// provider's outcome.
type SettleRefundRequest struct {
	MerchantID, ID string
	RefundID       string
	// Reason, for a failure, is the provider's code; ignored on confirm.
	Reason         string
	Reference      string
	ProviderRef    string // the provider's ID for the refund, if it gave one
	IdempotencyKey string
}

// ConfirmRefund records that the provider carried out a pending refund:
// its whole amount moves from PendingRefund to Refunded.
func (s *Service) ConfirmRefund(ctx context.Context, req SettleRefundRequest) (*Result, error) {
	return s.settleRefundRequest(ctx, CmdConfirmRefund, req)
}

// FailRefund records that the provider refused a pending refund: its
// amount is refundable again.
func (s *Service) FailRefund(ctx context.Context, req SettleRefundRequest) (*Result, error) {
	return s.settleRefundRequest(ctx, CmdFailRefund, req)
}

func (s *Service) settleRefundRequest(ctx context.Context, op Command, req SettleRefundRequest) (*Result, error) {
	if err := checkContext(ctx, string(op)); err != nil {
		return nil, err
	}
	if err := checkSettlement(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, "refund ID", req.RefundID,
		req.Reason, req.ProviderRef); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	return s.settleRefund(ctx, op, req)
}

// settleRefund confirms (CmdConfirmRefund) or fails (CmdFailRefund) a
// pending refund; req is well formed.
func (s *Service) settleRefund(ctx context.Context, op Command, req SettleRefundRequest) (*Result, error) {
	f := newFingerprint(op).str(req.ID).str(req.RefundID).str(req.Reason).str(req.Reference).opt(req.ProviderRef)
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			i, ok := a.pendingRefund(req.RefundID)
			if !ok {
				return ch.reject(ErrNotFound, "no pending refund %q", req.RefundID)
			}
			pr := a.PendingRefunds[i]
			a.PendingRefunds = append(a.PendingRefunds[:i:i], a.PendingRefunds[i+1:]...)
			if len(a.PendingRefunds) == 0 {
				a.PendingRefunds = nil
			}
			a.PendingRefund -= pr.Amount
			ref := req.ProviderRef
			if ref == "" {
				ref = pr.ProviderRef
			}
			e := Entry{Kind: EntryRefund, RefundID: pr.ID, CaptureID: pr.CaptureID, Amount: pr.Amount, Reference: req.Reference,
				ProviderRef: ref}
			if op == CmdConfirmRefund {
				a.Refunded += pr.Amount
				e.RefundState = ActionSucceeded
				seq := ch.entry(e)
				ch.markMain()
				ch.event(EventRefundSucceeded, seq, pr.Amount)
				return nil
			}
			a.Refunds--
			e.RefundState, e.Reason = ActionFailed, Reason(req.Reason)
			seq := ch.entry(e)
			ch.markMain()
			ch.event(EventRefundFailed, seq, pr.Amount)
			return nil
		})
}
