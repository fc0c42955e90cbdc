package authcapture

import "time"

// expiryDue returns the write that applies an authorization's expiry at now,
// or nil if none is due. A hold is expired at now >= ExpiresAt: the open
// remainder moves to the expired ledger, captures and pending captures stay
// (a pending capture that later fails releases its amount to expired too).
// The write is dated ExpiresAt, when the hold lapsed, even when now is
// later (no read or sweep came sooner).
func (s *Service) expiryDue(a *Authorization, now time.Time) *Write {
	if !expiryIsDue(a, now) {
		return nil
	}
	// The hold lapsed at ExpiresAt, however late this is noticed: the
	// expiry, its event and the close are dated then.
	now = a.ExpiresAt
	ch := s.newChange(a, now, &command{op: CmdExpire, merchant: a.MerchantID, id: a.ID})
	open := a.Open()
	a.Expired += open
	a.ExpiredAt = now
	// Nothing can be captured or voided any more; a scheduled capture
	// already at the provider keeps its lease, so the scheduler settles it.
	a.CancelAt = time.Time{}
	if !a.scheduledPending() {
		a.CaptureAt = time.Time{}
	}
	seq := ch.entry(Entry{Kind: EntryExpiry, Amount: open, Reason: ReasonExpired})
	ch.markMain()
	ch.event(EventExpired, seq, open)
	ch.release = CloseExpired
	w, err := ch.finish()
	if err != nil {
		// The expiry edges are in the table; an error here is a bug that
		// the state-machine tests catch. Leave the authorization as it is.
		return nil
	}
	return w
}

// expiryIsDue reports whether a's hold must be expired at now.
func expiryIsDue(a *Authorization, now time.Time) bool {
	return a.Phase == PhaseApproved && !a.Closed() && !a.HoldExpired() && !now.Before(a.ExpiresAt)
}
