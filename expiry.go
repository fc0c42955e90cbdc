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
	ch.expire()
	ch.markMain()
	w, err := ch.finish()
	if err != nil {
		// The expiry edges are in the table; an error here is a bug that
		// the state-machine tests catch. Leave the authorization as it is.
		return nil
	}
	return w
}

// expire applies the hold's expiry to ch: the open remainder moves to the
// expired ledger, and nothing may be captured or voided any more. Actions
// the scheduler already handed to the provider keep their leases, so it
// settles them.
func (ch *change) expire() {
	a := ch.a
	open := a.Open()
	a.Expired += open
	a.ExpiredAt = a.ExpiresAt
	if !a.scheduledVoidPending() {
		a.CancelAt = time.Time{}
	}
	if !a.scheduledPending() {
		a.CaptureAt = time.Time{}
	}
	seq := ch.entry(Entry{Kind: EntryExpiry, Amount: open, Reason: ReasonExpired})
	ch.event(EventExpired, seq, open)
	ch.release = CloseExpired
}

// expiryIsDue reports whether a's hold must be expired at now.
func expiryIsDue(a *Authorization, now time.Time) bool {
	return a.Phase == PhaseApproved && !a.Closed() && !a.HoldExpired() && !now.Before(a.ExpiresAt)
}
