package authcapture

import (
	"fmt"
	"time"
)

// change accumulates what one command does to an authorization: the
// working copy, and the entries and events the command appends.
type change struct {
	svc     *Service
	a       *Authorization // the working copy
	before  Status
	now     time.Time
	cmd     command
	entries []Entry
	events  []Event
	main    int         // index in entries of the command's main entry
	release CloseReason // how the last open amount was released, if it was
	open0   int64
	// reported: the command emitted amount_capturable_updated itself.
	reported bool
}

// newChange starts a change of a (nil for a create) at now, or at the
// latest time a records if now is earlier (a clock that stepped back).
func (s *Service) newChange(a *Authorization, now time.Time, cmd *command) *change {
	ch := &change{svc: s, now: now, cmd: *cmd}
	if a != nil {
		ch.now = latestOf(now, a.CreatedAt, a.AuthorizedAt, a.ExpiredAt, a.ClosedAt)
		ch.a = a // the store returned a private copy
		ch.before = a.Status()
		ch.open0 = a.Open()
		a.Version++
	}
	return ch
}

// entry appends a log entry, fills its bookkeeping fields and returns its Seq.
func (ch *change) entry(e Entry) int64 {
	ch.a.Entries++
	e.Seq = ch.a.Entries
	e.Version = ch.a.Version
	e.At = ch.now
	if e.IdempotencyKey == "" {
		e.IdempotencyKey = ch.cmd.key
	}
	ch.entries = append(ch.entries, e)
	return e.Seq
}

// markMain makes the last entry the command's main entry.
func (ch *change) markMain() { ch.main = len(ch.entries) - 1 }

// event appends an event reporting the entry entrySeq, one of the
// change's entries, with its capture ID, reference and reason.
func (ch *change) event(t EventType, entrySeq, amount int64) {
	ch.a.Events++
	ev := Event{
		MerchantID: ch.a.MerchantID, AuthorizationID: ch.a.ID, Seq: ch.a.Events,
		Version: ch.a.Version, Type: t, At: ch.now, EntrySeq: entrySeq, Amount: amount,
	}
	if t == EventReauthorized || t == EventExpiringSoon {
		ev.ExpiresAt = ch.a.ExpiresAt
	}
	for i := range ch.entries {
		if e := &ch.entries[i]; e.Seq == entrySeq {
			ev.CaptureID, ev.Reference, ev.Reason = e.CaptureID, e.Reference, e.Reason
			ev.RefundID, ev.VoidID, ev.ProviderRef = e.RefundID, e.VoidID, e.ProviderRef
		}
	}
	ch.events = append(ch.events, ev)
}

// mainEntry returns the command's main entry.
func (ch *change) mainEntry() Entry { return ch.entries[ch.main] }

// policy returns the authorization's policy.
func (ch *change) policy() (*Policy, bool) {
	p, ok := ch.svc.policies[ch.a.Policy]
	return p, ok
}

// reject returns the command's rejection with sentinel and an optional
// detail.
func (ch *change) reject(sentinel error, format string, args ...any) error {
	e := &Error{Op: string(ch.cmd.op), MerchantID: ch.cmd.merchant, AuthorizationID: ch.cmd.id, Status: ch.before, Err: sentinel}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

// finish closes the authorization if nothing is left, sets the due time,
// checks the transition against the table and builds the Write.
func (ch *change) finish() (*Write, error) {
	a := ch.a
	if a.Phase == PhaseApproved && a.Closed() && a.ClosedAt.IsZero() {
		a.ClosedAt = ch.now
		switch {
		case a.Captured == a.Authorized+a.Overcaptured:
			a.CloseReason = CloseFullyCaptured
		case ch.release != CloseNone:
			a.CloseReason = ch.release
		case a.HoldExpired():
			a.CloseReason = CloseExpired
		case a.Captured > 0:
			a.CloseReason = CloseFullyCaptured // captures took the last open amount
		default:
			a.CloseReason = CloseVoided
		}
	}
	// Captures and voids report the new open amount on their own events;
	// this one says that open grew back (a failed capture returned its
	// amount).
	if open := a.Open(); open > ch.open0 && !a.Closed() && ch.cmd.op != CmdAuthorize && !ch.reported {
		ch.event(EventAmountCapturableUpdated, ch.entries[len(ch.entries)-1].Seq, open)
	}
	if a.Closed() {
		a.CaptureAt, a.CancelAt = time.Time{}, time.Time{}
	}
	if a.Closed() || a.HoldExpired() || a.ReleasedBy != CloseNone {
		a.ExpiringNoticeAt = time.Time{} // no hold left to warn about
	}
	ch.extendRefundable()
	a.NextDue = nextDue(a)
	a.PendingSince = pendingSince(a)
	after := a.Status()
	if !edges[edge{ch.before, ch.cmd.op, after}] {
		return nil, fmt.Errorf("authcapture: internal error: %s from %q to %q is not in the transition table", ch.cmd.op, ch.before, after)
	}
	open := a.Open()
	closed := after.Terminal() && !ch.before.Terminal()
	for i := range ch.events {
		ch.events[i].Open = open
		ch.events[i].Status = after
		ch.events[i].Refunded, ch.events[i].PendingRefund = a.Refunded, a.PendingRefund
		if closed {
			ch.events[i].CloseReason = a.CloseReason
		}
	}
	w := &Write{Authorization: a, Entries: ch.entries, Events: ch.events}
	if ch.cmd.key != "" {
		w.Idempotency = &IdempotencyRecord{
			MerchantID: a.MerchantID, Key: ch.cmd.key, Op: string(ch.cmd.op), Fingerprint: ch.cmd.print,
			AuthorizationID: a.ID, Version: a.Version, EntrySeq: ch.entries[ch.main].Seq, CreatedAt: ch.now,
		}
	}
	return w, nil
}

// latestOf returns the latest of now and ts.
func latestOf(now time.Time, ts ...time.Time) time.Time {
	for _, t := range ts {
		if t.After(now) {
			now = t
		}
	}
	return now
}

// extendRefundable moves the authorization's RefundableUntil to the end of
// the policy's RefundWindow for each capture the change recorded as
// succeeded: every path that captures (direct, confirmed two-phase,
// scheduled, recorded outcomes, capture at approval) appends such an
// entry, so this is the one place RefundableUntil is set.
func (ch *change) extendRefundable() {
	for _, e := range ch.entries {
		if e.Kind != EntryCapture || e.CaptureState != CaptureSucceeded {
			continue
		}
		p, ok := ch.policy()
		if !ok || p.RefundWindow <= 0 {
			return
		}
		if until := e.At.Add(p.RefundWindow); until.After(ch.a.RefundableUntil) {
			ch.a.RefundableUntil = until
		}
	}
}
