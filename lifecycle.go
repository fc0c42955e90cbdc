package authcapture

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// CreateRequest records a new payment intent before the provider approves it.
type CreateRequest struct {
	MerchantID string
	// ID of the new authorization; generated ("auth_...") when empty.
	ID        string
	Reference string            // the caller's reference, such as an order ID
	Metadata  map[string]string // copied; at most 50 pairs, keys up to 40 bytes, values up to 500
	Currency  string            // ISO 4217, such as "USD"
	Amount    decimal.Decimal   // the amount requested
	// Policy names the rules that apply; Options.DefaultPolicy when empty.
	Policy string

	// CaptureMode: the policy's DefaultCaptureMode when empty (manual for
	// most presets, automatic for those whose provider captures at once
	// unless told otherwise). CaptureDelay applies to CaptureDelayed (the
	// policy's DefaultCaptureDelay when zero); use ParseDelay for ISO 8601
	// strings such as "PT5M".
	CaptureMode  CaptureMode
	CaptureDelay time.Duration
	// CancelMode: CancelManual when empty. CancelDelay is required for
	// CancelDelayed and must be longer than a delayed capture's delay.
	CancelMode  CancelMode
	CancelDelay time.Duration
	// ExpiryAction: the policy's when empty.
	ExpiryAction ExpiryAction
	// AuthorizationType: AuthorizationFinal when empty, or
	// AuthorizationEstimated for a hold whose amount may change later
	// (Policy.AmountChangeTypes).
	AuthorizationType AuthorizationType

	IdempotencyKey string
}

// Create records a new authorization in status requires_authorization.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdCreate)); err != nil {
		return nil, err
	}
	op := CmdCreate
	bad := func(err error) error { return badRequest(op, req.MerchantID, req.ID, err) }
	if err := checkToken("merchant ID", req.MerchantID, MaxIDLen); err != nil {
		return nil, bad(err)
	}
	if req.ID != "" {
		if err := checkToken("authorization ID", req.ID, MaxIDLen); err != nil {
			return nil, bad(err)
		}
	}
	if err := checkKey(req.IdempotencyKey); err != nil {
		return nil, bad(err)
	}
	if err := checkText("reference", req.Reference, MaxReferenceLen); err != nil {
		return nil, bad(err)
	}
	if err := checkMetadata(req.Metadata); err != nil {
		return nil, bad(err)
	}
	cur, err := ParseCurrency(req.Currency)
	if err != nil {
		return nil, bad(err)
	}
	amount, err := cur.ToMinor(req.Amount)
	if err != nil {
		return nil, bad(err)
	}
	policy := req.Policy
	if policy == "" {
		policy = s.defaultPolicy
	}
	if _, ok := s.policies[policy]; !ok {
		return nil, bad(fmt.Errorf("%q is not registered with this service: %w", truncate(policy, MaxIDLen), ErrUnknownPolicy))
	}
	authType := req.AuthorizationType
	switch authType {
	case "":
		authType = AuthorizationFinal
	case AuthorizationFinal, AuthorizationEstimated:
	default:
		return nil, bad(fmt.Errorf("authorization type %q is neither final nor estimated: %w", truncate(string(authType), 32), ErrInvalidArgument))
	}
	p := s.policies[policy]
	sched, err := p.checkSchedule(req)
	if err != nil {
		return nil, bad(err)
	}
	f := newFingerprint(op).str(req.ID).str(req.Reference).str(string(cur)).int(amount).str(policy).
		str(string(sched.CaptureMode)).int(int64(sched.CaptureDelay)).str(string(sched.CancelMode)).
		int(int64(sched.CancelDelay)).str(string(sched.ExpiryAction))
	if authType != AuthorizationFinal {
		f = f.str(string(authType)) // the default leaves the fingerprints of older requests as they were
	}
	keys := make([]string, 0, len(req.Metadata))
	for k := range req.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f = f.str(k).str(req.Metadata[k])
	}
	cmd := &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f), create: true}
	return s.run(ctx, cmd, func(ch *change) error {
		id := req.ID
		if id == "" {
			id = s.newID("auth")
		}
		var md map[string]string
		if len(req.Metadata) > 0 {
			md = maps.Clone(req.Metadata)
		}
		ch.a = &Authorization{
			ID: id, MerchantID: req.MerchantID, Reference: req.Reference, Metadata: md,
			Currency: cur, Policy: policy, Phase: PhaseCreated, AuthorizationType: authType, Requested: amount,
			CreatedAt: ch.now, Version: 1,
			CaptureMode: sched.CaptureMode, CaptureDelay: sched.CaptureDelay,
			CancelMode: sched.CancelMode, CancelDelay: sched.CancelDelay, ExpiryAction: sched.ExpiryAction,
		}
		seq := ch.entry(Entry{Kind: EntryCreated, Amount: amount, Reference: req.Reference})
		ch.markMain()
		ch.event(EventCreated, seq, amount)
		return nil
	})
}

// MarkPendingRequest records that the authorization was sent to the
// provider and awaits the issuer (or a 3-D Secure step).
type MarkPendingRequest struct {
	MerchantID, ID string
	Reference      string // the provider's reference, if it gave one
	IdempotencyKey string
}

// MarkPending moves an authorization from requires_authorization to pending.
func (s *Service) MarkPending(ctx context.Context, req MarkPendingRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdMarkPending)); err != nil {
		return nil, err
	}
	op := CmdMarkPending
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).str(req.Reference)
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			if !ch.before.Accepts(op) {
				return ch.reject(ErrInvalidStatus, "")
			}
			ch.a.Phase = PhasePending
			seq := ch.entry(Entry{Kind: EntryPending, Reference: req.Reference})
			ch.markMain()
			ch.event(EventPending, seq, 0)
			return nil
		})
}

// AuthorizeRequest records the provider's approval.
type AuthorizeRequest struct {
	MerchantID, ID string
	// Amount approved by the issuer: at most the requested amount; less
	// for a partial authorization.
	Amount decimal.Decimal
	// ExpiresAt, if set, is when the hold lapses; otherwise the policy's
	// Validity from now. It must be within 90 days. A time already past is
	// recorded all the same (the provider's answer arrived late): the
	// approval and the hold's expiry are written together.
	ExpiresAt time.Time
	Reference string // the caller's reference for the approval, such as the provider's authorization code
	// ProviderRef is the provider's own ID for the authorization (a
	// payment or PSP reference), if it gave one. It is recorded on the
	// approval's entry and indexed like every provider reference:
	// FindByProviderRef finds the authorization by it.
	ProviderRef string
	// CapturedImmediately reports that the payment method could not hold
	// funds and the provider captured at once (NjiaPay's prefer_delay). It
	// needs a policy with ImmediateCaptureFallback; the authorization then
	// records CaptureAutomatic as the mode used.
	CapturedImmediately bool
	IdempotencyKey      string
}

// Authorize approves an authorization in full or in part. In capture mode
// automatic, or when the provider captured immediately, the approval and the
// capture of the whole approved amount are recorded together. Scheduled
// captures and cancels start counting now.
func (s *Service) Authorize(ctx context.Context, req AuthorizeRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdAuthorize)); err != nil {
		return nil, err
	}
	op := CmdAuthorize
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if err := checkAmount(req.Amount); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	f := newFingerprint(op).str(req.ID).amount(req.Amount).int(req.ExpiresAt.UnixNano()).str(req.Reference).
		bool(req.CapturedImmediately).opt(req.ProviderRef)
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			if !ch.before.Accepts(op) {
				return ch.reject(ErrInvalidStatus, "")
			}
			amount, err := a.Currency.ToMinor(req.Amount)
			if err != nil {
				return ch.reject(rootSentinel(err), "%v", err)
			}
			if amount > a.Requested {
				return ch.reject(ErrExceedsRequested, "approved %s > requested %s", a.Currency.Format(amount), a.Currency.Format(a.Requested))
			}
			p := s.policies[a.Policy]
			if p == nil {
				return ch.reject(ErrUnknownPolicy, "policy %q is not registered with this service", a.Policy)
			}
			if req.ExpiresAt.IsZero() {
				a.ExpiresAt = ch.now.Add(p.Validity)
				a.ExpiryRule = "policy " + p.Name + " validity " + p.Validity.String()
			} else {
				at := req.ExpiresAt.UTC()
				if at.Sub(ch.now) > maxValidity {
					return ch.reject(ErrInvalidArgument, "ExpiresAt %s must be within %s of now (%s)", at.Format(time.RFC3339Nano), maxValidity, ch.now.Format(time.RFC3339Nano))
				}
				a.ExpiresAt = at
				a.ExpiryRule = "explicit"
			}
			if req.CapturedImmediately && !p.ImmediateCaptureFallback && a.CaptureMode != CaptureAutomatic {
				return ch.reject(ErrInvalidSchedule, "policy %s has no immediate-capture fallback", p.Name)
			}
			a.Phase = PhaseApproved
			a.Authorized = amount
			a.AuthorizedAt = ch.now
			seq := ch.entry(Entry{Kind: EntryAuthorized, Amount: amount, Reference: req.Reference, ProviderRef: req.ProviderRef})
			ch.markMain()
			ch.event(EventAuthorized, seq, amount)
			if a.CaptureMode == CaptureAutomatic || req.CapturedImmediately {
				reason := ReasonAutomaticCapture
				if a.CaptureMode != CaptureAutomatic {
					reason = ReasonCaptureFallback
				}
				a.CaptureMode = CaptureAutomatic
				a.CancelMode, a.CancelDelay, a.ExpiryAction = CancelManual, 0, ExpiryRelease
				a.Captured = amount
				a.Captures = 1
				seq := ch.entry(Entry{Kind: EntryCapture, CaptureState: CaptureSucceeded, CaptureID: ch.captureID(),
					Final: true, Amount: amount, Reason: reason})
				ch.event(EventCaptureSucceeded, seq, amount)
				return nil
			}
			if !ch.now.Before(a.ExpiresAt) {
				// The provider approved a hold that has already lapsed (its
				// answer came late): record the approval, and the expiry.
				ch.expire()
				return nil
			}
			ch.schedule(p)
			return nil
		})
}

// DeclineRequest records the provider's refusal.
type DeclineRequest struct {
	MerchantID, ID string
	// Reason is the provider's decline code, such as "insufficient_funds".
	Reason         string
	Reference      string
	IdempotencyKey string
}

// Decline ends an authorization that was not approved.
func (s *Service) Decline(ctx context.Context, req DeclineRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdDecline)); err != nil {
		return nil, err
	}
	return s.end(ctx, CmdDecline, req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, Reason(req.Reason))
}

// CancelRequest abandons an authorization: before approval it ends it,
// after approval it releases everything open.
type CancelRequest struct {
	MerchantID, ID string
	Reason         Reason // a caller reason, such as ReasonAbandoned; may be empty
	Reference      string
	IdempotencyKey string
}

// Cancel is the one cancel of providers whose cancel call works before and
// after approval. Before approval it ends the authorization as canceled.
// After approval it is a void of everything open, with the caller's
// reason: the authorization closes as voided (as captured if something was
// captured), and pending captures stand.
func (s *Service) Cancel(ctx context.Context, req CancelRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdCancel)); err != nil {
		return nil, err
	}
	if req.Reason != "" && !req.Reason.callerVoidReason() {
		return nil, badRequest(CmdCancel, req.MerchantID, req.ID, fmt.Errorf("cancel reason %q is not a caller reason: %w", truncate(string(req.Reason), 64), ErrInvalidArgument))
	}
	return s.end(ctx, CmdCancel, req.MerchantID, req.ID, req.IdempotencyKey, req.Reference, req.Reason)
}

func (s *Service) end(ctx context.Context, op Command, merchant, id, key, ref string, reason Reason) (*Result, error) {
	if err := checkCommand(merchant, id, key, ref); err != nil {
		return nil, badRequest(op, merchant, id, err)
	}
	if err := checkText("reason", string(reason), MaxReasonLen); err != nil {
		return nil, badRequest(op, merchant, id, err)
	}
	f := newFingerprint(op).str(id).str(ref).str(string(reason))
	return s.run(ctx, &command{op: op, merchant: merchant, id: id, key: key, print: uint64(f)},
		func(ch *change) error {
			if op == CmdCancel && ch.a.Phase == PhaseApproved {
				// The void's rules, its checks included (an expired hold
				// is ErrExpired, as for Void).
				return s.applyVoid(ch, voidOrder{all: true, reason: reason, reference: ref})
			}
			if !ch.before.Accepts(op) {
				return ch.reject(ErrInvalidStatus, "")
			}
			kind, ev, phase, cr := EntryDeclined, EventDeclined, PhaseDeclined, CloseDeclined
			if op == CmdCancel {
				kind, ev, phase, cr = EntryCanceled, EventCanceled, PhaseCanceled, CloseCanceled
			}
			ch.a.Phase = phase
			ch.a.CloseReason = cr
			ch.a.ClosedAt = ch.now
			seq := ch.entry(Entry{Kind: kind, Reference: ref, Reason: reason})
			ch.markMain()
			ch.event(ev, seq, 0)
			return nil
		})
}

func checkCommand(merchant, id, key, ref string) error {
	if err := checkRef(merchant, id); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return checkText("reference", ref, MaxReferenceLen)
}

func badRequest(op Command, merchant, id string, err error) error {
	return &Error{Op: string(op), MerchantID: truncate(merchant, MaxIDLen), AuthorizationID: truncate(id, MaxIDLen), Err: rootSentinel(err), Detail: detail(err)}
}

// rootSentinel returns the library sentinel err wraps.
func rootSentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.err
		}
	}
	return ErrInvalidArgument
}
