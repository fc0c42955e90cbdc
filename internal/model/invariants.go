package model

import (
	"fmt"
	"slices"

	"github.com/authcapture/authcapture"
)

// Check returns an error describing the first invariant of the aggregate
// (docs/design.md, "Invariants") that a and its whole log violate:
//
//  1. Authorized + Overcaptured == Open + Pending + PendingVoid +
//     PendingDecrement + Captured + Voided + Expired, Refunded +
//     PendingRefund <= Captured, and an authorization not yet approved has
//     empty ledgers; Overcaptured is what captures take beyond Authorized
//     (max(0, Captured + Pending - Authorized)), and when positive it is
//     the only capture's, a final one, of a whole hold (CheckPolicy checks
//     it against the policy's allowance);
//  2. every amount >= 0, Authorized <= Requested;
//  3. each ledger equals the sum of its log entries (capture entries by
//     CaptureState, void and expiry entries by kind; other kinds move no
//     money), a two-phase capture settles once with the amount it reserved,
//     PendingCaptures lists the unsettled ones oldest first, Captures counts
//     the succeeded and pending ones, a two-phase void's reservation (its
//     pending entry less its failed and succeeded ones) never goes below
//     zero and PendingVoids lists each unsettled one with what it still
//     reserves, and Seq runs 1..Entries without gaps;
//     Refunded is the sum of succeeded refund entries and PendingRefund of
//     the pending ones not yet settled, each refund settles once for the
//     amount it reserved, PendingRefunds lists the unsettled ones oldest
//     first, Refunds counts the succeeded and pending ones, and the
//     refunds naming a capture that succeeded or are pending sum to at
//     most what it took;
//  5. a closed authorization has a close reason, a close time, a terminal
//     status and nothing due.
//
// Invariant 4, the status derived, is Ledger.Status; what holds between
// two reads of one authorization is CheckStep; that a rejected command
// changes nothing (invariant 6) is how every command of Ledger returns.
func Check(a *authcapture.Authorization, log []authcapture.Entry) error {
	if a == nil {
		return fmt.Errorf("nil authorization")
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"requested", a.Requested}, {"authorized", a.Authorized}, {"open", a.Open()}, {"pending", a.Pending},
		{"pending void", a.PendingVoid}, {"captured", a.Captured}, {"voided", a.Voided}, {"expired", a.Expired},
		{"pending decrement", a.PendingDecrement}, {"overcaptured", a.Overcaptured}, {"refunded", a.Refunded},
		{"pending refund", a.PendingRefund}} {
		if l.v < 0 {
			return fmt.Errorf("invariant 2: %s of %s is negative (%d)", l.name, a.ID, l.v)
		}
	}
	if a.Authorized > a.Requested {
		return fmt.Errorf("invariant 2: authorized %d > requested %d", a.Authorized, a.Requested)
	}
	if a.Phase == authcapture.PhaseApproved {
		if a.Authorized+a.Overcaptured != a.Open()+a.Pending+a.PendingVoid+a.PendingDecrement+a.Captured+a.Voided+a.Expired {
			return fmt.Errorf("invariant 1: authorized %d + overcaptured %d != open %d + pending %d + pending void %d + pending decrement %d + captured %d + voided %d + expired %d",
				a.Authorized, a.Overcaptured, a.Open(), a.Pending, a.PendingVoid, a.PendingDecrement, a.Captured, a.Voided, a.Expired)
		}
		if a.Refunded+a.PendingRefund > a.Captured {
			return fmt.Errorf("invariant 1: refunded %d + pending refund %d > captured %d", a.Refunded, a.PendingRefund, a.Captured)
		}
	} else if a.Authorized+a.Pending+a.PendingVoid+a.PendingDecrement+a.Overcaptured+a.Captured+a.Voided+a.Expired+a.Refunded+a.PendingRefund != 0 {
		return fmt.Errorf("invariant 1: %s is %s, yet its ledgers are not empty", a.ID, a.Phase)
	}
	if int64(len(log)) != a.Entries {
		return fmt.Errorf("invariant 3: the log has %d entries, the authorization counts %d", len(log), a.Entries)
	}
	var authorized, captured, pending, pendingVoid, voided, expired int64
	captures := 0
	reserved := map[string]int64{} // unsettled two-phase captures
	var order []string
	voidReserved := map[string]int64{} // what each two-phase void still reserves
	var voidOrder []string
	refunds := refundLog{reserved: map[string]int64{}, byCapture: map[string]int64{}, pendingOf: map[string]string{}}
	capturedBy := map[string]int64{} // what each capture that succeeded took
	for i, e := range log {
		if e.Seq != int64(i)+1 {
			return fmt.Errorf("invariant 3: entry %d has seq %d", i+1, e.Seq)
		}
		if e.Amount < 0 {
			return fmt.Errorf("invariant 2: entry %d has a negative amount", e.Seq)
		}
		if i > 0 && e.Version < log[i-1].Version {
			return fmt.Errorf("invariant 3: entry %d has version %d after %d", e.Seq, e.Version, log[i-1].Version)
		}
		if e.Kind != authcapture.EntryCapture && e.CaptureState != "" {
			return fmt.Errorf("invariant 3: %s entry %d has capture state %q", e.Kind, e.Seq, e.CaptureState)
		}
		if e.Kind != authcapture.EntryVoid && e.VoidState != "" {
			return fmt.Errorf("invariant 3: %s entry %d has void state %q", e.Kind, e.Seq, e.VoidState)
		}
		if e.Kind != authcapture.EntryRefund && (e.RefundState != "" || e.RefundID != "") {
			return fmt.Errorf("invariant 3: %s entry %d has refund state %q", e.Kind, e.Seq, e.RefundState)
		}
		switch e.Kind {
		case authcapture.EntryRefund:
			if err := refunds.add(e, capturedBy); err != nil {
				return err
			}
		case authcapture.EntryAuthorized:
			authorized += e.Amount
		case authcapture.EntryVoid:
			left, begun := voidReserved[e.VoidID]
			switch e.VoidState {
			case "": // a direct void, or a release
				voided += e.Amount
			case authcapture.ActionPending:
				if begun {
					return fmt.Errorf("invariant 3: void %s begun twice (entry %d)", e.VoidID, e.Seq)
				}
				pendingVoid += e.Amount
				voidReserved[e.VoidID] = e.Amount
				voidOrder = append(voidOrder, e.VoidID)
			case authcapture.ActionSucceeded, authcapture.ActionFailed:
				if !begun || e.Amount > left {
					return fmt.Errorf("invariant 3: void %s settles %d of a reservation of %d (entry %d)", e.VoidID, e.Amount, left, e.Seq)
				}
				voidReserved[e.VoidID] = left - e.Amount
				pendingVoid -= e.Amount
				if e.VoidState == authcapture.ActionSucceeded {
					voided += e.Amount
				}
			default:
				return fmt.Errorf("invariant 3: void entry %d has state %q", e.Seq, e.VoidState)
			}
		case authcapture.EntryExpiry:
			expired += e.Amount
		case authcapture.EntryCapture:
			amount, wasPending := reserved[e.CaptureID]
			switch e.CaptureState {
			case authcapture.CapturePending:
				if wasPending {
					return fmt.Errorf("invariant 3: capture %s begun twice (entry %d)", e.CaptureID, e.Seq)
				}
				pending += e.Amount
				reserved[e.CaptureID] = e.Amount
				order = append(order, e.CaptureID)
				captures++
			case authcapture.CaptureSucceeded:
				captured += e.Amount
				capturedBy[e.CaptureID] += e.Amount
				if !wasPending {
					captures++ // a direct capture
					break
				}
				fallthrough
			case authcapture.CaptureFailed:
				if !wasPending {
					return fmt.Errorf("invariant 3: capture %s failed without being pending (entry %d)", e.CaptureID, e.Seq)
				}
				if amount != e.Amount {
					return fmt.Errorf("invariant 3: capture %s reserved %d and settled %d", e.CaptureID, amount, e.Amount)
				}
				if e.CaptureState == authcapture.CaptureFailed {
					captures--
				}
				pending -= amount
				delete(reserved, e.CaptureID)
			default:
				return fmt.Errorf("invariant 3: capture entry %d has state %q", e.Seq, e.CaptureState)
			}
		}
	}
	got := [...]int64{a.Captured, a.Pending, a.PendingVoid, a.Voided, a.Expired}
	want := [...]int64{captured, pending, pendingVoid, voided, expired}
	if got != want {
		return fmt.Errorf("invariant 3: ledgers [captured pending pendingVoid voided expired] %v, log sums %v", got, want)
	}
	var listedVoids []string
	for _, pv := range a.PendingVoids {
		listedVoids = append(listedVoids, pv.ID)
		if left, ok := voidReserved[pv.ID]; !ok || left != pv.Amount {
			return fmt.Errorf("invariant 3: pending void %s lists %d, the log leaves %d", pv.ID, pv.Amount, left)
		}
	}
	voidOrder = slices.DeleteFunc(voidOrder, func(id string) bool {
		return !slices.ContainsFunc(a.PendingVoids, func(pv authcapture.PendingVoid) bool { return pv.ID == id })
	})
	if !slices.Equal(voidOrder, listedVoids) {
		return fmt.Errorf("invariant 3: PendingVoids %v out of order, the log begins %v", listedVoids, voidOrder)
	}
	for id, left := range voidReserved {
		if left != 0 && !slices.Contains(listedVoids, id) {
			return fmt.Errorf("invariant 3: settled void %s still reserves %d", id, left)
		}
	}
	if err := refunds.check(a, capturedBy); err != nil {
		return err
	}
	if a.Phase == authcapture.PhaseApproved && a.Authorized != authorized {
		return fmt.Errorf("invariant 3: authorized %d, log says %d", a.Authorized, authorized)
	}
	if a.Captures != captures {
		return fmt.Errorf("invariant 3: Captures is %d, the log has %d succeeded or pending", a.Captures, captures)
	}
	if err := checkOvercaptured(a, log); err != nil {
		return err
	}
	order = slices.DeleteFunc(order, func(id string) bool { _, ok := reserved[id]; return !ok })
	var listed []string
	var listedSum int64
	for _, p := range a.PendingCaptures {
		listed = append(listed, p.ID)
		listedSum += p.Amount
	}
	if !slices.Equal(order, listed) || listedSum != a.Pending {
		return fmt.Errorf("invariant 3: PendingCaptures %v (sum %d), the log has %v unsettled (sum %d)", listed, listedSum, order, a.Pending)
	}
	if a.Closed() {
		switch {
		case a.CloseReason == authcapture.CloseNone || a.ClosedAt.IsZero():
			return fmt.Errorf("invariant 5: %s is closed without a close reason or time", a.ID)
		case !a.Status().Terminal():
			return fmt.Errorf("invariant 5: %s is closed with status %s", a.ID, a.Status())
		case !a.NextDue.IsZero() || !a.CaptureAt.IsZero() || !a.CancelAt.IsZero():
			return fmt.Errorf("invariant 5: closed %s is still due at %s", a.ID, a.NextDue)
		}
	}
	return nil
}

// checkOvercaptured checks the overcapture part of invariants 1 and 3:
// Overcaptured is what the captures, succeeded and pending, take beyond
// Authorized, and a positive Overcaptured belongs to the authorization's
// only capture, a final one, taken from the whole hold (nothing voided or
// expired beside it).
func checkOvercaptured(a *authcapture.Authorization, log []authcapture.Entry) error {
	if a.Phase != authcapture.PhaseApproved {
		return nil
	}
	if beyond := max(0, a.Captured+a.Pending-a.Authorized); a.Overcaptured != beyond {
		return fmt.Errorf("invariant 1: overcaptured %d, yet captures take %d beyond the authorized %d", a.Overcaptured, beyond, a.Authorized)
	}
	if a.Overcaptured == 0 {
		return nil
	}
	if a.Captures != 1 || a.Voided != 0 || a.Expired != 0 || a.PendingVoid != 0 || a.PendingDecrement != 0 {
		return fmt.Errorf("invariant 1: overcaptured %d with %d captures, voided %d, expired %d, pending void %d, pending decrement %d: an overcapture is the only capture of a whole hold",
			a.Overcaptured, a.Captures, a.Voided, a.Expired, a.PendingVoid, a.PendingDecrement)
	}
	final := false
	for _, pc := range a.PendingCaptures {
		final = pc.Final
	}
	if len(a.PendingCaptures) == 0 {
		for _, e := range log {
			if e.Kind == authcapture.EntryCapture && e.CaptureState == authcapture.CaptureSucceeded {
				final = e.Final
			}
		}
	}
	if !final {
		return fmt.Errorf("invariant 1: overcaptured %d by a capture that is not final", a.Overcaptured)
	}
	return nil
}

// CheckPolicy returns an error if a breaks a rule of its policy p that
// the stored authorization alone cannot tell: Overcaptured is at most the
// policy's overcapture allowance (Allowance) for the authorized amount.
func CheckPolicy(a *authcapture.Authorization, p authcapture.Policy) error {
	if most := Allowance(p, a.Currency, a.Authorized); a.Overcaptured > most {
		return fmt.Errorf("overcapture: overcaptured %d > the allowance %d of policy %s for %d authorized", a.Overcaptured, most, p.Name, a.Authorized)
	}
	return nil
}

// CheckStep returns an error if next, a later read of the authorization
// prev was read from, breaks what holds between reads: captured, voided,
// expired, refunded and the version never decrease (invariant 2), how the
// provider let go of the hold (ReleasedBy) is never cleared and never
// changes once set (the first release wins), and a closed hold never
// changes again (invariant 5): only the refund ledger of a closed
// authorization may.
func CheckStep(prev, next *authcapture.Authorization) error {
	if next.Captured < prev.Captured || next.Voided < prev.Voided || next.Expired < prev.Expired || next.Version < prev.Version ||
		next.Refunded < prev.Refunded {
		return fmt.Errorf("invariant 2: a ledger decreased: before %+v, after %+v", prev, next)
	}
	if prev.ReleasedBy != authcapture.CloseNone && next.ReleasedBy != prev.ReleasedBy {
		return fmt.Errorf("released hold: ReleasedBy %q -> %q", prev.ReleasedBy, next.ReleasedBy)
	}
	if prev.Closed() && next.Version != prev.Version && hold(prev) != hold(next) {
		return fmt.Errorf("invariant 5: a closed hold changed: version %d -> %d, %+v -> %+v", prev.Version, next.Version,
			hold(prev), hold(next))
	}
	return nil
}

// holdState is what a closed hold keeps: everything but the refund
// ledger, the counters and the unsettled index.
type holdState struct {
	Phase                                                                      authcapture.Phase
	Requested, Authorized, Pending, PendingVoid, Captured, Voided, Expired     int64
	PendingDecrement, Overcaptured                                             int64
	Captures, PendingCaptures, PendingVoids                                    int
	ReleasedBy, CloseReason                                                    authcapture.CloseReason
	Status                                                                     authcapture.Status
	ClosedAt, ExpiresAt, ExpiredAt, NextDue, CaptureAt, CancelAt, AuthorizedAt string
}

func hold(a *authcapture.Authorization) holdState {
	t := func(x interface{ String() string }) string { return x.String() }
	return holdState{
		Phase: a.Phase, Requested: a.Requested, Authorized: a.Authorized, Pending: a.Pending, PendingVoid: a.PendingVoid,
		Captured: a.Captured, Voided: a.Voided, Expired: a.Expired, PendingDecrement: a.PendingDecrement,
		Overcaptured: a.Overcaptured, Captures: a.Captures, PendingCaptures: len(a.PendingCaptures),
		PendingVoids: len(a.PendingVoids), ReleasedBy: a.ReleasedBy, CloseReason: a.CloseReason, Status: a.Status(),
		ClosedAt: t(a.ClosedAt.UTC()), ExpiresAt: t(a.ExpiresAt.UTC()), ExpiredAt: t(a.ExpiredAt.UTC()), NextDue: t(a.NextDue.UTC()),
		CaptureAt: t(a.CaptureAt.UTC()), CancelAt: t(a.CancelAt.UTC()), AuthorizedAt: t(a.AuthorizedAt.UTC()),
	}
}

// refundLog sums the refund entries of a log.
type refundLog struct {
	refunded, pending int64
	count             int
	reserved          map[string]int64  // pending refund ID -> its amount
	order             []string          // pending refunds in log order
	byCapture         map[string]int64  // capture ID -> what its refunds take
	pendingOf         map[string]string // pending refund ID -> the capture it names
	settled           []string
}

func (r *refundLog) add(e authcapture.Entry, capturedBy map[string]int64) error {
	if e.CaptureState != "" || e.VoidState != "" {
		return fmt.Errorf("invariant 3: refund entry %d has a capture or void state", e.Seq)
	}
	if e.RefundID == "" {
		return fmt.Errorf("invariant 3: refund entry %d has no refund ID", e.Seq)
	}
	amount, pending := r.reserved[e.RefundID]
	switch e.RefundState {
	case authcapture.ActionPending, authcapture.ActionSucceeded:
		if e.RefundState == authcapture.ActionSucceeded && pending {
			if amount != e.Amount {
				return fmt.Errorf("invariant 3: refund %s reserved %d and settled %d", e.RefundID, amount, e.Amount)
			}
			r.pending -= amount
			r.refunded += amount
			delete(r.reserved, e.RefundID)
			r.settled = append(r.settled, e.RefundID)
			return nil
		}
		if pending || slices.Contains(r.settled, e.RefundID) {
			return fmt.Errorf("invariant 3: refund %s recorded twice (entry %d)", e.RefundID, e.Seq)
		}
		if e.CaptureID != "" {
			r.byCapture[e.CaptureID] += e.Amount
			if r.byCapture[e.CaptureID] > capturedBy[e.CaptureID] {
				return fmt.Errorf("invariant 1: refunds of capture %s take %d, it took %d (entry %d)", e.CaptureID,
					r.byCapture[e.CaptureID], capturedBy[e.CaptureID], e.Seq)
			}
		}
		r.count++
		if e.RefundState == authcapture.ActionSucceeded { // a direct refund
			r.refunded += e.Amount
			r.settled = append(r.settled, e.RefundID)
			return nil
		}
		r.pending += e.Amount
		r.reserved[e.RefundID] = e.Amount
		r.pendingOf[e.RefundID] = e.CaptureID
		r.order = append(r.order, e.RefundID)
	case authcapture.ActionFailed:
		if !pending || amount != e.Amount {
			return fmt.Errorf("invariant 3: refund %s fails %d without reserving it (entry %d)", e.RefundID, e.Amount, e.Seq)
		}
		r.pending -= amount
		r.count--
		if c := r.pendingOf[e.RefundID]; c != "" {
			r.byCapture[c] -= amount
		}
		delete(r.reserved, e.RefundID)
		r.settled = append(r.settled, e.RefundID)
	default:
		return fmt.Errorf("invariant 3: refund entry %d has state %q", e.Seq, e.RefundState)
	}
	return nil
}

func (r *refundLog) check(a *authcapture.Authorization, capturedBy map[string]int64) error {
	if a.Refunded != r.refunded || a.PendingRefund != r.pending || a.Refunds != r.count {
		return fmt.Errorf("invariant 3: refund ledgers [refunded pending count] [%d %d %d], the log sums [%d %d %d]",
			a.Refunded, a.PendingRefund, a.Refunds, r.refunded, r.pending, r.count)
	}
	order := slices.DeleteFunc(slices.Clone(r.order), func(id string) bool { _, ok := r.reserved[id]; return !ok })
	var listed []string
	var sum int64
	for _, pr := range a.PendingRefunds {
		listed = append(listed, pr.ID)
		sum += pr.Amount
		if r.reserved[pr.ID] != pr.Amount || r.pendingOf[pr.ID] != pr.CaptureID {
			return fmt.Errorf("invariant 3: pending refund %s lists %d of %q, the log %d of %q", pr.ID, pr.Amount, pr.CaptureID,
				r.reserved[pr.ID], r.pendingOf[pr.ID])
		}
	}
	if !slices.Equal(order, listed) || sum != a.PendingRefund {
		return fmt.Errorf("invariant 3: PendingRefunds %v (sum %d), the log has %v unsettled (sum %d)", listed, sum, order, a.PendingRefund)
	}
	for c, n := range r.byCapture {
		if n > capturedBy[c] {
			return fmt.Errorf("invariant 1: refunds of capture %s take %d, it took %d", c, n, capturedBy[c])
		}
	}
	return nil
}
