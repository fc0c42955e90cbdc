package authcapture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// OutcomeKind names the kind of provider action an outcome reports.
type OutcomeKind string

// The kinds of action.
const (
	OutcomeCapture OutcomeKind = "capture"
	OutcomeVoid    OutcomeKind = "void"
	OutcomeRefund  OutcomeKind = "refund"
	// OutcomeAmountChange: an amount change of the hold (incremental or
	// decremental authorization). Succeeded means approved, failed
	// declined; Amount, if given, is the new authorized total.
	OutcomeAmountChange OutcomeKind = "amount_change"
)

// OutcomeState is what the provider reports of an action.
type OutcomeState string

// The states a provider reports.
const (
	OutcomeSucceeded OutcomeState = "succeeded" // the provider captured or released the money
	OutcomeFailed    OutcomeState = "failed"    // the provider refused for good: nothing moved
	OutcomePending   OutcomeState = "pending"   // the provider is still working on it: nothing to record yet
)

// OutcomeEffect says what RecordOutcome did with an outcome.
type OutcomeEffect string

// The effects of an outcome.
const (
	// EffectSettled: the outcome settled a pending two-phase capture,
	// void, refund or amount change (as ConfirmCapture, FailCapture,
	// ConfirmVoid, FailVoid, ConfirmRefund, FailRefund,
	// ConfirmAmountChange or DeclineAmountChange do).
	EffectSettled OutcomeEffect = "settled"
	// EffectRecorded: no action was recorded under the reference (the
	// host called the provider and never recorded it); the succeeded
	// outcome was recorded as the direct capture, void, refund or amount
	// change it reports.
	EffectRecorded OutcomeEffect = "recorded"
	// EffectReplayed: the action was already recorded with this outcome
	// (a repeated delivery). Nothing changed; Result.Replayed is set and
	// Result.Entry is the entry that recorded it.
	EffectReplayed OutcomeEffect = "replayed"
	// EffectIgnored: there was nothing to change, and Note says why: a
	// pending outcome, a failure of an action never recorded (it moved no
	// money), or a stale failure of an attempt the action has since
	// settled under another provider reference. Result.Entry is zero.
	EffectIgnored OutcomeEffect = "ignored"
)

// OutcomeRequest reports what the provider did with a capture, void,
// refund or amount change, as its webhook or status API tells it, in
// whatever order those arrive.
type OutcomeRequest struct {
	MerchantID string
	// ProviderRef is the provider's own ID for the action (its capture,
	// void, refund or adjustment ID), as the host gave it to BeginCapture,
	// BeginVoid, BeginRefund, BeginAmountChange, Capture, Void, Refund or
	// ChangeAmount, or as it is to be recorded. Required.
	ProviderRef string
	Kind        OutcomeKind
	Outcome     OutcomeState
	// Amount is what the provider reports: for a capture the amount it
	// captured, for a void the amount it released, for a refund the
	// amount it gave back (a refund settles only for what it reserved). Zero means as
	// recorded: what the pending action reserves. An outcome that settles
	// a pending capture must report its reserved amount, or zero; a void
	// may report less than it reserved (ConfirmVoid's Released). A
	// succeeded capture not yet recorded needs it; a succeeded void not
	// yet recorded without it releases everything open. For an amount
	// change it is the new authorized total: a pending change's must be
	// the total it asked for, and a succeeded change not yet recorded
	// needs it.
	Amount decimal.Decimal
	// Currency, if set, must be the authorization's.
	Currency string
	// AuthorizationID names the authorization when no entry records
	// ProviderRef yet (an action the host never recorded, or one begun
	// before the provider gave its ID). If ProviderRef is recorded, it
	// must name the same authorization.
	AuthorizationID string
	// ActionID names the action by the ID the library gave it
	// (Entry.CaptureID, Entry.VoidID, Entry.RefundID or Entry.ChangeID), for an action begun before the
	// provider gave its ID: the settlement then records ProviderRef.
	ActionID string
	// Final applies to a capture not yet recorded, as CaptureRequest.Final.
	Final *bool
	// CaptureID applies to a refund not yet recorded, as
	// RefundRequest.CaptureID: the capture it refunds (empty: the total).
	CaptureID string
	// Reason, for a failure, is the provider's code.
	Reason string
	// IdempotencyKey, if set, is the key of the command the outcome
	// becomes. If empty, the key is derived from the merchant's provider
	// reference, the kind and the outcome, under the reserved prefix
	// "outcome:", so every delivery of one outcome shares it.
	IdempotencyKey string
}

// OutcomeResult is what RecordOutcome returns: the Result of the command
// the outcome became (or, for EffectIgnored, the authorization as it is),
// what it did, and, when nothing changed, why.
type OutcomeResult struct {
	Result
	Effect OutcomeEffect
	Note   string // why nothing changed, for people
}

// outcomeKeyPrefix starts the idempotency keys RecordOutcome derives;
// callers cannot use it.
const outcomeKeyPrefix = "outcome:"

// opRecordOutcome names RecordOutcome in its errors.
const opRecordOutcome = "record_outcome"

// outcomeAttempts bounds how often RecordOutcome looks again after the
// action changed under it (another delivery settled it meanwhile).
const outcomeAttempts = 8

// OutcomeKey returns the idempotency key RecordOutcome uses for an outcome
// given without one: "outcome:", the kind, the outcome and 40 hexadecimal
// digits of a SHA-256 of the provider reference. Keys are scoped by
// merchant, and a provider reference names one action of a merchant.
func OutcomeKey(providerRef string, kind OutcomeKind, outcome OutcomeState) string {
	sum := sha256.Sum256([]byte(providerRef))
	return outcomeKeyPrefix + string(kind) + ":" + string(outcome) + ":" + hex.EncodeToString(sum[:20])
}

// RecordOutcome records a provider's outcome for a capture, void, refund
// or amount change, found by its provider reference (or ActionID),
// whatever the order outcomes arrive in:
//
//   - a pending action is settled: a success confirms it, a failure fails
//     it (EffectSettled);
//   - an action already settled with the same outcome is a replay:
//     nothing changes (EffectReplayed, Result.Replayed);
//   - an action settled with the other outcome, or of the other kind, is
//     ErrOutcomeConflict, whose *Error names both;
//   - a success for an action not yet recorded (the host crashed after
//     calling the provider) is recorded as the direct capture, void,
//     refund or amount change it reports (EffectRecorded), unless an action of its kind is pending
//     without a provider reference (it may be that one: ErrOutcomeConflict,
//     asking for ActionID); a failure for one moved no money and changes
//     nothing (EffectIgnored);
//   - a pending outcome, or a failure of an attempt whose action has since
//     settled under another provider reference, is stale and changes
//     nothing (EffectIgnored).
//
// A reference no entry records, without AuthorizationID, is ErrNotFound.
// Rejections of the command an outcome becomes (an expired hold, an
// amount that does not fit) carry that command's name.
func (s *Service) RecordOutcome(ctx context.Context, req OutcomeRequest) (*OutcomeResult, error) {
	if err := checkContext(ctx, opRecordOutcome); err != nil {
		return nil, err
	}
	if err := checkOutcome(req); err != nil {
		return nil, &Error{Op: opRecordOutcome, MerchantID: truncate(req.MerchantID, MaxIDLen),
			AuthorizationID: truncate(req.AuthorizationID, MaxIDLen), Err: rootSentinel(err), Detail: detail(err)}
	}
	key := req.IdempotencyKey
	if key == "" {
		key = OutcomeKey(req.ProviderRef, req.Kind, req.Outcome)
	}
	var err error
	for range outcomeAttempts {
		var r *OutcomeResult
		var again bool
		r, again, err = s.recordOutcome(ctx, req, key)
		if !again {
			return r, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
	}
	return nil, err
}

func checkOutcome(req OutcomeRequest) error {
	if err := checkToken("merchant ID", req.MerchantID, MaxIDLen); err != nil {
		return err
	}
	if req.ProviderRef == "" {
		return fmt.Errorf("provider reference is required: %w", ErrInvalidArgument)
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return err
	}
	if req.Kind != OutcomeCapture && req.Kind != OutcomeVoid && req.Kind != OutcomeRefund &&
		req.Kind != OutcomeAmountChange {
		return fmt.Errorf("kind %q is not capture, void, refund or amount_change: %w", truncate(string(req.Kind), 16), ErrInvalidArgument)
	}
	if req.CaptureID != "" {
		if req.Kind != OutcomeRefund {
			return fmt.Errorf("CaptureID is for refunds, not for a %s: %w", req.Kind, ErrInvalidArgument)
		}
		if err := checkToken("capture ID", req.CaptureID, MaxIDLen); err != nil {
			return err
		}
	}
	switch req.Outcome {
	case OutcomeSucceeded, OutcomeFailed, OutcomePending:
	default:
		return fmt.Errorf("outcome %q is not succeeded, failed or pending: %w", truncate(string(req.Outcome), 16), ErrInvalidArgument)
	}
	if req.AuthorizationID != "" {
		if err := checkToken("authorization ID", req.AuthorizationID, MaxIDLen); err != nil {
			return err
		}
	}
	if req.ActionID != "" {
		if err := checkToken("action ID", req.ActionID, MaxIDLen); err != nil {
			return err
		}
	}
	if req.IdempotencyKey != "" {
		if err := checkKey(req.IdempotencyKey); err != nil {
			return err
		}
	}
	if err := checkText("reason", req.Reason, MaxReasonLen); err != nil {
		return err
	}
	if !req.Amount.IsZero() {
		return checkAmount(req.Amount)
	}
	return nil
}

// recordOutcome is one attempt of RecordOutcome. again means the action
// changed while it looked (another delivery settled or recorded it): look
// again.
func (s *Service) recordOutcome(ctx context.Context, req OutcomeRequest, key string) (*OutcomeResult, bool, error) {
	reject := func(sentinel error, id string, format string, args ...any) error {
		return &Error{Op: opRecordOutcome, MerchantID: req.MerchantID, AuthorizationID: id, Err: sentinel,
			Detail: fmt.Sprintf(format, args...)}
	}
	id := req.AuthorizationID
	indexed, err := s.store.FindByProviderRef(ctx, req.MerchantID, req.ProviderRef)
	switch {
	case errors.Is(err, ErrNotFound) && id == "":
		return nil, false, reject(ErrNotFound, "", "no authorization records provider reference %q; name it with AuthorizationID",
			truncate(req.ProviderRef, 64))
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, false, err
	case id == "":
		id = indexed
	case indexed != id:
		return nil, false, reject(ErrOutcomeConflict, id, "provider reference %q is authorization %s's, the outcome names %s",
			truncate(req.ProviderRef, 64), indexed, id)
	}
	a, err := s.load(ctx, opRecordOutcome, req.MerchantID, id)
	if err != nil {
		return nil, false, err
	}
	ignored := func(format string, args ...any) (*OutcomeResult, bool, error) {
		return &OutcomeResult{Result: Result{Authorization: a}, Effect: EffectIgnored, Note: fmt.Sprintf(format, args...)}, false, nil
	}

	// A pending action: settle it.
	if kind, actionID, reserved, ok := findPending(a, req); ok {
		if kind != req.Kind {
			return nil, false, reject(ErrOutcomeConflict, id, "%s %s is a pending %s; the provider reports a %s %s",
				actionID, quoteRef(req.ProviderRef), kind, req.Kind, req.Outcome)
		}
		if req.Outcome == OutcomePending {
			return ignored("%s %s is pending; it settles when the provider reports its outcome", kind, actionID)
		}
		r, err := s.settleOutcome(ctx, req, a, actionID, reserved, key)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCaptureSettled) {
			return nil, true, err // settled meanwhile: look again
		}
		if err != nil {
			return nil, false, err
		}
		effect := EffectSettled
		if r.Replayed {
			effect = EffectReplayed
		}
		return &OutcomeResult{Result: *r, Effect: effect}, false, nil
	}

	// A settled action: a replay, a conflict or a stale report.
	log, err := s.store.Entries(ctx, req.MerchantID, id, 0, 0)
	if err != nil {
		return nil, false, err
	}
	if st, ok := findSettled(log, req); ok {
		what := fmt.Sprintf("%s %s", st.kind, st.name())
		if st.kind != req.Kind {
			return nil, false, reject(ErrOutcomeConflict, id, "%s %s is a %s; the provider reports a %s %s",
				st.name(), quoteRef(req.ProviderRef), st.kind, req.Kind, req.Outcome)
		}
		superseded := st.entry.ProviderRef != "" && st.entry.ProviderRef != req.ProviderRef
		switch {
		case req.Outcome == OutcomePending:
			return ignored("%s settled as %s (entry %d); a pending report is stale", what, st.outcome, st.entry.Seq)
		case superseded && req.Outcome == OutcomeFailed:
			return ignored("%s settled as %s under provider reference %q (entry %d); the failure of %q is stale",
				what, st.outcome, truncate(st.entry.ProviderRef, 64), st.entry.Seq, truncate(req.ProviderRef, 64))
		case st.outcome != req.Outcome || superseded:
			return nil, false, reject(ErrOutcomeConflict, id, "the provider reports %s %s %s; it was recorded as %s under %s (entry %d)",
				what, quoteRef(req.ProviderRef), req.Outcome, st.outcome, quoteRef(st.entry.ProviderRef), st.entry.Seq)
		}
		have := st.entry.Amount
		if st.kind == OutcomeAmountChange {
			have = st.entry.Total
		}
		if err := checkReported(a, req, have, "recorded"); err != nil {
			return nil, false, reject(ErrOutcomeConflict, id, "%s %s: %v", what, quoteRef(req.ProviderRef), err)
		}
		return &OutcomeResult{Result: Result{Authorization: a, Entry: st.entry, Replayed: true}, Effect: EffectReplayed}, false, nil
	}

	// No action recorded under the reference.
	switch {
	case req.ActionID != "":
		return nil, false, reject(ErrNotFound, id, "no %s %q", req.Kind, req.ActionID)
	case req.Outcome == OutcomePending:
		return ignored("no action is recorded under provider reference %q; a pending one moves nothing yet", truncate(req.ProviderRef, 64))
	case req.Outcome == OutcomeFailed:
		return ignored("no action is recorded under provider reference %q; a failed one moved no money", truncate(req.ProviderRef, 64))
	}
	if id, ok := unnamedPending(a, req.Kind); ok {
		// It may be the action the provider reports: recording it again
		// would count it twice.
		return nil, false, reject(ErrOutcomeConflict, a.ID, "%s %s is pending without a provider reference; if the provider's %s "+
			"is that action name it with ActionID, else record it with %s", req.Kind, id, quoteRef(req.ProviderRef),
			map[OutcomeKind]string{OutcomeCapture: "Capture", OutcomeVoid: "Void", OutcomeRefund: "Refund",
				OutcomeAmountChange: "ChangeAmount"}[req.Kind])
	}
	r, err := s.recordDirect(ctx, req, a, key)
	if errors.Is(err, ErrVersionConflict) {
		return nil, true, err // changed since its log was read: look again
	}
	if err != nil {
		return nil, false, err
	}
	effect := EffectRecorded
	if r.Replayed {
		effect = EffectReplayed
	}
	return &OutcomeResult{Result: *r, Effect: effect}, false, nil
}

func quoteRef(ref string) string {
	if ref == "" {
		return "(no provider reference)"
	}
	return fmt.Sprintf("%q", truncate(ref, 64))
}

// findPending finds the pending capture, void or amount change the
// outcome names: by
// ActionID if given, else by provider reference.
func findPending(a *Authorization, req OutcomeRequest) (kind OutcomeKind, id string, reserved int64, ok bool) {
	match := func(actionID, ref string) bool {
		if req.ActionID != "" {
			return actionID == req.ActionID
		}
		return ref == req.ProviderRef
	}
	for _, pc := range a.PendingCaptures {
		if match(pc.ID, pc.ProviderRef) {
			return OutcomeCapture, pc.ID, pc.Amount, true
		}
	}
	for _, pv := range a.PendingVoids {
		if match(pv.ID, pv.ProviderRef) {
			return OutcomeVoid, pv.ID, pv.Amount, true
		}
	}
	for _, pr := range a.PendingRefunds {
		if match(pr.ID, pr.ProviderRef) {
			return OutcomeRefund, pr.ID, pr.Amount, true
		}
	}
	if pc := a.PendingAmountChange; pc != nil && match(pc.ID, pc.ProviderRef) {
		return OutcomeAmountChange, pc.ID, pc.Total, true
	}
	return "", "", 0, false
}

// unnamedPending returns the ID of a pending action of kind that has no
// provider reference, if there is one.
func unnamedPending(a *Authorization, kind OutcomeKind) (string, bool) {
	switch kind {
	case OutcomeCapture:
		for _, pc := range a.PendingCaptures {
			if pc.ProviderRef == "" {
				return pc.ID, true
			}
		}
		return "", false
	case OutcomeRefund:
		for _, pr := range a.PendingRefunds {
			if pr.ProviderRef == "" {
				return pr.ID, true
			}
		}
		return "", false
	}
	if kind == OutcomeAmountChange {
		if pc := a.PendingAmountChange; pc != nil && pc.ProviderRef == "" {
			return pc.ID, true
		}
		return "", false
	}
	for _, pv := range a.PendingVoids {
		if pv.ProviderRef == "" {
			return pv.ID, true
		}
	}
	return "", false
}

// settled is an action found settled in the log.
type settled struct {
	kind    OutcomeKind
	id      string       // the capture or void ID; empty for a direct void
	outcome OutcomeState // succeeded or failed
	entry   Entry        // the entry that settled it
}

func (st settled) name() string {
	if st.id == "" {
		return "(direct)"
	}
	return st.id
}

// findSettled finds the settled action the outcome names in the log: by
// ActionID if given, else by the first capture or void entry that records
// the provider reference.
func findSettled(log []Entry, req OutcomeRequest) (settled, bool) {
	var st settled
	found := false
	for _, e := range log {
		if e.Kind == EntryAmountChange {
			if req.ActionID != "" && e.ChangeID == req.ActionID || req.ActionID == "" && e.ProviderRef == req.ProviderRef {
				return settledChange(log, e.ChangeID)
			}
			continue
		}
		if e.Kind != EntryCapture && e.Kind != EntryVoid && e.Kind != EntryRefund {
			continue
		}
		id := e.CaptureID
		switch e.Kind {
		case EntryVoid:
			id = e.VoidID
		case EntryRefund:
			id = e.RefundID
		}
		if req.ActionID != "" && id == req.ActionID || req.ActionID == "" && e.ProviderRef == req.ProviderRef {
			st = settled{kind: OutcomeCapture, id: id}
			switch e.Kind {
			case EntryVoid:
				st.kind = OutcomeVoid
			case EntryRefund:
				st.kind = OutcomeRefund
			}
			if id == "" {
				// A direct void: one succeeded entry.
				return settled{kind: st.kind, outcome: OutcomeSucceeded, entry: e}, true
			}
			found = true
			break
		}
	}
	if !found {
		return st, false
	}
	// The action's settlement: its succeeded entry if it has one (a
	// confirmed void may be followed by a failed entry of what it did not
	// release), else its last failed entry.
	var last *Entry
	for i := range log {
		e := &log[i]
		state := e.CaptureState
		switch st.kind {
		case OutcomeVoid:
			if e.Kind != EntryVoid || e.VoidID != st.id {
				continue
			}
			state = e.VoidState
		case OutcomeRefund:
			if e.Kind != EntryRefund || e.RefundID != st.id {
				continue
			}
			state = e.RefundState
		default:
			if e.Kind != EntryCapture || e.CaptureID != st.id {
				continue
			}
		}
		switch state {
		case ActionSucceeded:
			st.outcome, st.entry = OutcomeSucceeded, *e
			// A void of everything that released more than it reserved
			// records the rest, taken from open, right after it.
			for _, next := range log[i+1:] {
				if next.Version != e.Version {
					break
				}
				if next.Kind == EntryVoid && next.VoidID == "" && next.Reason == ReasonHoldReleased {
					st.entry.Amount += next.Amount
				}
			}
			return st, true
		case ActionFailed:
			last = e
		}
	}
	if last == nil {
		return st, false // pending in the log but not listed: cannot happen
	}
	st.outcome, st.entry = OutcomeFailed, *last
	return st, true
}

// settledChange finds the entry that settled the amount change id: its
// succeeded or failed entry.
func settledChange(log []Entry, id string) (settled, bool) {
	for _, e := range log {
		if e.Kind != EntryAmountChange || e.ChangeID != id {
			continue
		}
		switch e.ChangeState {
		case ActionSucceeded:
			return settled{kind: OutcomeAmountChange, id: id, outcome: OutcomeSucceeded, entry: e}, true
		case ActionFailed:
			return settled{kind: OutcomeAmountChange, id: id, outcome: OutcomeFailed, entry: e}, true
		}
	}
	return settled{}, false
}

// checkReported checks the amount an outcome reports against what the
// library has (what = "reserved" or "recorded"): zero means as recorded.
func checkReported(a *Authorization, req OutcomeRequest, have int64, what string) error {
	if req.Amount.IsZero() || req.Outcome != OutcomeSucceeded {
		return nil
	}
	got, err := a.Currency.ToMinor(req.Amount)
	if err != nil {
		return err
	}
	if req.Kind == OutcomeVoid && a.ReleasedBy == CloseVoided && got >= have && got <= a.Authorized-a.Captured {
		// A void of everything: the provider counts all it let go, some
		// of which the ledger released otherwise (expiry, failed captures).
		return nil
	}
	if got != have {
		return fmt.Errorf("the provider reports %s, the library %s %s", a.Currency.Format(got), what, a.Currency.Format(have))
	}
	return nil
}

// settleOutcome settles the pending action actionID of a with the outcome.
func (s *Service) settleOutcome(ctx context.Context, req OutcomeRequest, a *Authorization, actionID string, reserved int64,
	key string) (*Result, error) {
	if req.Currency != "" && req.Currency != string(a.Currency) {
		return nil, &Error{Op: opRecordOutcome, MerchantID: req.MerchantID, AuthorizationID: a.ID, Status: a.Status(),
			Err: ErrCurrencyMismatch, Detail: fmt.Sprintf("%s given, the authorization is in %s", truncate(req.Currency, 16), a.Currency)}
	}
	// conflict is the error for a success that reports another amount
	// than the pending action (kind) has.
	conflict := func(kind string, err error) error {
		return &Error{Op: opRecordOutcome, MerchantID: req.MerchantID, AuthorizationID: a.ID, Status: a.Status(),
			Err: ErrOutcomeConflict, Detail: fmt.Sprintf("%s %s %s: %v", kind, actionID, quoteRef(req.ProviderRef), err)}
	}
	if req.Kind == OutcomeAmountChange {
		op := CmdDeclineAmountChange
		sc := SettleAmountChangeRequest{MerchantID: req.MerchantID, ID: a.ID, ChangeID: actionID, ProviderRef: req.ProviderRef,
			IdempotencyKey: key}
		if req.Outcome == OutcomeSucceeded {
			op = CmdConfirmAmountChange
			if err := checkReported(a, req, reserved, "asked for"); err != nil {
				return nil, conflict("amount change", err)
			}
		} else {
			sc.Reason = req.Reason
		}
		return s.settleAmountChange(ctx, op, sc)
	}
	if req.Kind == OutcomeCapture {
		op := CmdFailCapture
		if req.Outcome == OutcomeSucceeded {
			op = CmdConfirmCapture
			if err := checkReported(a, req, reserved, "reserved"); err != nil {
				return nil, conflict("capture", err)
			}
		}
		return s.settle(ctx, op, SettleCaptureRequest{MerchantID: req.MerchantID, ID: a.ID, CaptureID: actionID,
			Reason: req.Reason, ProviderRef: req.ProviderRef, IdempotencyKey: key})
	}
	if req.Kind == OutcomeRefund {
		op := CmdFailRefund
		sr := SettleRefundRequest{MerchantID: req.MerchantID, ID: a.ID, RefundID: actionID, ProviderRef: req.ProviderRef,
			IdempotencyKey: key}
		if req.Outcome == OutcomeSucceeded {
			op = CmdConfirmRefund
			if err := checkReported(a, req, reserved, "reserved"); err != nil {
				return nil, conflict("refund", err)
			}
		} else {
			sr.Reason = req.Reason
		}
		return s.settleRefund(ctx, op, sr)
	}
	op := CmdFailVoid
	sv := SettleVoidRequest{MerchantID: req.MerchantID, ID: a.ID, VoidID: actionID, ProviderRef: req.ProviderRef,
		IdempotencyKey: key}
	if req.Outcome == OutcomeSucceeded {
		op = CmdConfirmVoid
		if !req.Amount.IsZero() {
			released := req.Amount
			sv.Released = &released
		}
	} else {
		sv.Reason = req.Reason
	}
	return s.settleVoid(ctx, op, sv)
}

// recordDirect records a succeeded outcome no entry records as the direct
// capture, void or refund it reports, pinned to the version whose log
// showed no such action: if another writer changed the authorization
// meanwhile, it is rejected with ErrVersionConflict and RecordOutcome
// looks again. (A closed hold never changes, and the rules of a capture
// or void reject the command; a refund is pinned on a closed
// authorization too, since refunds may still change it.)
func (s *Service) recordDirect(ctx context.Context, req OutcomeRequest, a *Authorization, key string) (*Result, error) {
	found := a.Version
	if a.Closed() {
		found = 0
	}
	if req.Kind == OutcomeRefund {
		if req.Amount.IsZero() {
			return nil, &Error{Op: string(CmdRefund), MerchantID: req.MerchantID, AuthorizationID: a.ID, Status: a.Status(),
				Err: ErrInvalidAmount, Detail: fmt.Sprintf("a refund not yet recorded needs the amount the provider gave back (%s)",
					quoteRef(req.ProviderRef))}
		}
		f := newFingerprint(CmdRefund).str(a.ID).amount(req.Amount).str(req.Currency).str(req.CaptureID).
			str("").str("").opt(req.ProviderRef)
		o := refundOrder{amount: req.Amount, currency: req.Currency, captureID: req.CaptureID, providerRef: req.ProviderRef}
		return s.runRefund(ctx, &command{op: CmdRefund, merchant: req.MerchantID, id: a.ID, key: key, print: uint64(f)}, o, a.Version)
	}
	if req.Kind == OutcomeAmountChange {
		if req.Amount.IsZero() {
			return nil, &Error{Op: string(CmdChangeAmount), MerchantID: req.MerchantID, AuthorizationID: a.ID, Status: a.Status(),
				Err: ErrInvalidAmount, Detail: fmt.Sprintf("an amount change not yet recorded needs the new total the provider approved (%s)",
					quoteRef(req.ProviderRef))}
		}
		cr := AmountChangeRequest{MerchantID: req.MerchantID, ID: a.ID, Total: req.Amount, Currency: req.Currency,
			ProviderRef: req.ProviderRef}
		f := newFingerprint(CmdChangeAmount).str(a.ID).str(string(AmountChangeTotal)).amount(cr.Total).amount(cr.Delta).
			str(cr.Currency).bool(false).str("").str("").opt(cr.ProviderRef)
		return s.run(ctx, &command{op: CmdChangeAmount, merchant: req.MerchantID, id: a.ID, key: key, print: uint64(f), found: found},
			func(ch *change) error { return s.applyAmountChange(ch, CmdChangeAmount, AmountChangeTotal, cr) })
	}
	if req.Kind == OutcomeCapture {
		if req.Amount.IsZero() {
			return nil, &Error{Op: string(CmdCapture), MerchantID: req.MerchantID, AuthorizationID: a.ID, Status: a.Status(),
				Err: ErrInvalidAmount, Detail: fmt.Sprintf("a capture not yet recorded needs the amount the provider captured (%s)",
					quoteRef(req.ProviderRef))}
		}
		f := newFingerprint(CmdCapture).str(a.ID).amount(req.Amount).bool(false).str(req.Currency).
			bool(req.Final != nil).bool(req.Final != nil && *req.Final).str("").opt(req.ProviderRef)
		o := captureOrder{amount: req.Amount, currency: req.Currency, final: req.Final, providerRef: req.ProviderRef}
		return s.run(ctx, &command{op: CmdCapture, merchant: req.MerchantID, id: a.ID, key: key, print: uint64(f), found: found},
			func(ch *change) error { return s.applyCapture(ch, CmdCapture, o) })
	}
	all := req.Amount.IsZero()
	f := newFingerprint(CmdVoid).str(a.ID).amount(req.Amount).bool(all).str(req.Currency).
		str("").str("").opt(req.ProviderRef)
	o := voidOrder{amount: req.Amount, all: all, currency: req.Currency, providerRef: req.ProviderRef}
	return s.run(ctx, &command{op: CmdVoid, merchant: req.MerchantID, id: a.ID, key: key, print: uint64(f), found: found},
		func(ch *change) error { return s.applyVoid(ch, o) })
}

// FindByProviderRef returns the authorization of merchantID whose log
// records the provider reference ref (Entry.ProviderRef: the approval's,
// a capture's, a void's, a refund's, an amount change's or a
// reauthorization's), with expiry applied as Get does, or ErrNotFound.
func (s *Service) FindByProviderRef(ctx context.Context, merchantID, ref string) (*Authorization, error) {
	const op = "find_by_provider_ref"
	if err := checkContext(ctx, op); err != nil {
		return nil, err
	}
	if err := checkToken("merchant ID", merchantID, MaxIDLen); err != nil {
		return nil, &Error{Op: op, Err: ErrInvalidArgument, Detail: err.Error()}
	}
	if ref == "" {
		return nil, &Error{Op: op, MerchantID: merchantID, Err: ErrInvalidArgument, Detail: "provider reference is required"}
	}
	if err := checkText("provider reference", ref, MaxReferenceLen); err != nil {
		return nil, &Error{Op: op, MerchantID: merchantID, Err: ErrInvalidArgument, Detail: err.Error()}
	}
	id, err := s.store.FindByProviderRef(ctx, merchantID, ref)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Op: op, MerchantID: merchantID, Err: ErrNotFound,
			Detail: fmt.Sprintf("no authorization records provider reference %q", truncate(ref, 64))}
	}
	if err != nil {
		return nil, err
	}
	return s.load(ctx, op, merchantID, id)
}

// UnsettledRequest asks for the provider actions in flight longer than
// OlderThan, across all merchants.
type UnsettledRequest struct {
	// OlderThan: actions begun at least this long ago (zero: all of them).
	OlderThan time.Duration
	// Limit is the most actions returned, 1 to 10,000.
	Limit int
}

// UnsettledAction is a two-phase capture, void, refund or amount change
// the provider has not been reported to have settled: the host asks its
// provider and records the answer with RecordOutcome (or ConfirmCapture, FailVoid, ...).
type UnsettledAction struct {
	MerchantID      string
	AuthorizationID string
	ActionID        string // the action's ID (Entry.CaptureID, Entry.VoidID, Entry.RefundID, Entry.ChangeID)
	Kind            OutcomeKind
	Amount          int64 // minor units of Currency the action still reserves (for an increase, 0)
	Currency        Currency
	ProviderRef     string    // the provider's ID for it, if the host gave one
	Key             string    // for a Scheduler's action: the idempotency key the provider got (ProviderKey)
	Scheduled       bool      // begun by the Scheduler
	BegunAt         time.Time // when it was begun
}

// Unsettled lists the pending captures, voids, refunds and amount changes
// of all merchants (refunds of closed authorizations too) begun at
// least OlderThan ago, oldest first, at most Limit of them. It reads the
// stores' index of authorizations with actions in flight
// (Store.Unsettled), not every authorization.
func (s *Service) Unsettled(ctx context.Context, req UnsettledRequest) ([]UnsettledAction, error) {
	const op = "unsettled"
	if err := checkContext(ctx, op); err != nil {
		return nil, err
	}
	if req.OlderThan < 0 || req.Limit <= 0 || req.Limit > 10_000 {
		return nil, &Error{Op: op, Err: ErrInvalidArgument, Detail: "OlderThan must be >= 0 and Limit between 1 and 10000"}
	}
	before := s.clock.Now().Add(-req.OlderThan)
	refs, err := s.store.Unsettled(ctx, before, req.Limit)
	if err != nil {
		return nil, err
	}
	// Each authorization listed holds at least one action old enough, and
	// every action of an authorization not listed began no earlier than
	// the last one listed: the oldest Limit actions are among these.
	var out []UnsettledAction
	for _, ref := range refs {
		a, err := s.store.Get(ctx, ref.MerchantID, ref.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		add := func(kind OutcomeKind, id string, amount int64, providerRef, key string, scheduled bool, begun time.Time) {
			if begun = begunAt(a, begun); !begun.After(before) {
				out = append(out, UnsettledAction{MerchantID: a.MerchantID, AuthorizationID: a.ID, ActionID: id, Kind: kind,
					Amount: amount, Currency: a.Currency, ProviderRef: providerRef, Key: key, Scheduled: scheduled, BegunAt: begun})
			}
		}
		for _, pc := range a.PendingCaptures {
			add(OutcomeCapture, pc.ID, pc.Amount, pc.ProviderRef, pc.Key, pc.Scheduled, pc.BegunAt)
		}
		for _, pv := range a.PendingVoids {
			add(OutcomeVoid, pv.ID, pv.Amount, pv.ProviderRef, pv.Key, pv.Scheduled, pv.BegunAt)
		}
		for _, pr := range a.PendingRefunds {
			add(OutcomeRefund, pr.ID, pr.Amount, pr.ProviderRef, "", false, pr.BegunAt)
		}
		if pc := a.PendingAmountChange; pc != nil {
			add(OutcomeAmountChange, pc.ID, max(-pc.Delta, 0), pc.ProviderRef, "", false, pc.BegunAt)
		}
	}
	slices.SortStableFunc(out, func(x, y UnsettledAction) int { return x.BegunAt.Compare(y.BegunAt) })
	if len(out) > req.Limit {
		out = out[:req.Limit]
	}
	return out, nil
}

// begunAt is when an action of a began: begun, or for an action recorded
// before the time was kept, the approval (no action begins earlier).
func begunAt(a *Authorization, begun time.Time) time.Time {
	if begun.IsZero() {
		return a.AuthorizedAt
	}
	return begun
}

// pendingSince is when the oldest action in flight of a began; zero when
// none is.
func pendingSince(a *Authorization) time.Time {
	var t time.Time
	for _, pc := range a.PendingCaptures {
		if b := begunAt(a, pc.BegunAt); t.IsZero() || b.Before(t) {
			t = b
		}
	}
	for _, pv := range a.PendingVoids {
		if b := begunAt(a, pv.BegunAt); t.IsZero() || b.Before(t) {
			t = b
		}
	}
	for _, pr := range a.PendingRefunds {
		if b := begunAt(a, pr.BegunAt); t.IsZero() || b.Before(t) {
			t = b
		}
	}
	if pc := a.PendingAmountChange; pc != nil {
		if b := begunAt(a, pc.BegunAt); t.IsZero() || b.Before(t) {
			t = b
		}
	}
	return t
}
