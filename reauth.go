package authcapture

import (
	"context"
	"time"
)

// ReauthorizeRequest records a new hold the provider placed for the same
// payment (PayPal's reauthorization), once the provider has answered.
type ReauthorizeRequest struct {
	MerchantID, ID string
	// ExpiresAt, if set, is when the new hold lapses; otherwise the
	// policy's ReauthorizationValidity after the original authorization
	// when it sets one (PayPal: 29 days), else its Validity from now. It
	// must be after now and within 90 days.
	ExpiresAt time.Time
	// ProviderRef is the provider's ID for the new authorization, if it
	// gave one. It is recorded on the reauthorization's entry and indexed
	// like every provider reference: FindByProviderRef finds the
	// authorization by it, as by the original one.
	ProviderRef    string
	Reference      string // the caller's reference, such as a request ID
	IdempotencyKey string
}

// Reauthorize records that the provider placed a new hold for the
// payment: the hold now lapses at the new ExpiresAt. The amounts stay as
// they are. It is allowed only while the hold is open (approved, not
// closed, not expired, not released by the provider, no void of everything
// in flight) and as the policy says: at most MaxReauthorizations times
// (ErrReauthorizationNotAllowed), from ReauthorizeAfter
// (ErrReauthorizationWindow before it) to ReauthorizeBefore
// (ErrReauthorizationNotAllowed after it) after the original
// authorization. The schedules still set are fitted to the
// new hold by the rules of approval (clamped or dropped, with schedule
// entries), an expiry capture follows the new expiry, and the
// expiring-soon notice is due again for the new hold.
//
// Reauthorize records the provider's answer; it has no two-phase form.
// Until it is recorded the old hold stands in the ledger, which expires
// no later than the provider's: the safe side (docs/design.md, section 4.8).
func (s *Service) Reauthorize(ctx context.Context, req ReauthorizeRequest) (*Result, error) {
	if err := checkContext(ctx, string(CmdReauthorize)); err != nil {
		return nil, err
	}
	op := CmdReauthorize
	if err := checkCommand(req.MerchantID, req.ID, req.IdempotencyKey, req.Reference); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	if err := checkText("provider reference", req.ProviderRef, MaxReferenceLen); err != nil {
		return nil, badRequest(op, req.MerchantID, req.ID, err)
	}
	var explicit int64
	if !req.ExpiresAt.IsZero() {
		explicit = req.ExpiresAt.UnixNano()
	}
	f := newFingerprint(op).str(req.ID).int(explicit).str(req.Reference).opt(req.ProviderRef)
	return s.run(ctx, &command{op: op, merchant: req.MerchantID, id: req.ID, key: req.IdempotencyKey, print: uint64(f)},
		func(ch *change) error {
			a := ch.a
			switch {
			case a.HoldExpired():
				return ch.reject(ErrExpired, "the hold lapsed at %s", a.ExpiresAt.Format(time.RFC3339Nano))
			case !ch.before.Accepts(op):
				return ch.reject(ErrInvalidStatus, "")
			case a.ReleasedBy != CloseNone:
				return ch.reject(ErrInvalidStatus, "the provider let go of the hold (%s)", a.ReleasedBy)
			}
			for _, pv := range a.PendingVoids {
				if pv.All {
					return ch.reject(ErrActionInFlight, "void %s of the whole hold is in flight", pv.ID)
				}
			}
			p, ok := ch.policy()
			if !ok {
				return ch.reject(ErrUnknownPolicy, "policy %q is not registered with this service", a.Policy)
			}
			switch {
			case p.MaxReauthorizations == 0:
				return ch.reject(ErrReauthorizationNotAllowed, "policy %s allows no reauthorization", p.Name)
			case a.Reauthorizations >= p.MaxReauthorizations:
				return ch.reject(ErrReauthorizationNotAllowed, "policy %s allows %d, and %d were recorded", p.Name, p.MaxReauthorizations, a.Reauthorizations)
			}
			age := ch.now.Sub(a.AuthorizedAt)
			switch {
			case age < p.ReauthorizeAfter:
				return ch.reject(ErrReauthorizationWindow, "%s after the authorization; policy %s allows it from %s",
					age, p.Name, p.ReauthorizeAfter)
			case p.ReauthorizeBefore > 0 && age > p.ReauthorizeBefore:
				return ch.reject(ErrReauthorizationNotAllowed, "%s after the authorization; policy %s allows it until %s",
					age, p.Name, p.ReauthorizeBefore)
			}
			old := a.ExpiresAt
			switch {
			case req.ExpiresAt.IsZero() && p.ReauthorizationValidity > 0:
				at := a.AuthorizedAt.Add(p.ReauthorizationValidity)
				if !at.After(ch.now) {
					return ch.reject(ErrReauthorizationNotAllowed, "a hold reauthorized now would lapse at %s, %s after the authorization (policy %s)",
						at.Format(time.RFC3339Nano), p.ReauthorizationValidity, p.Name)
				}
				a.ExpiresAt = at
				a.ExpiryRule = "reauthorization: policy " + p.Name + " reauthorization validity " + p.ReauthorizationValidity.String()
			case req.ExpiresAt.IsZero():
				a.ExpiresAt = ch.now.Add(p.Validity)
				a.ExpiryRule = "reauthorization: policy " + p.Name + " validity " + p.Validity.String()
			default:
				at := req.ExpiresAt.UTC()
				if !at.After(ch.now) || at.Sub(ch.now) > maxValidity {
					return ch.reject(ErrInvalidArgument, "ExpiresAt %s must be after now (%s) and within %s of it",
						at.Format(time.RFC3339Nano), ch.now.Format(time.RFC3339Nano), maxValidity)
				}
				a.ExpiresAt = at
				a.ExpiryRule = "reauthorization: explicit"
			}
			a.Reauthorizations++
			a.ReauthorizedAt = ch.now
			seq := ch.entry(Entry{Kind: EntryReauthorized, Reference: req.Reference, ProviderRef: req.ProviderRef})
			ch.markMain()
			ch.event(EventReauthorized, seq, 0)
			ch.events[len(ch.events)-1].PreviousExpiresAt = old
			ch.rescheduleForHold(p, old)
			return nil
		})
}
