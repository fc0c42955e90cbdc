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
//     empty ledgers;
//  2. every amount >= 0, Authorized <= Requested;
//  3. each ledger equals the sum of its log entries (capture entries by
//     CaptureState, void and expiry entries by kind; other kinds move no
//     money), a two-phase capture settles once with the amount it reserved,
//     PendingCaptures lists the unsettled ones oldest first, Captures counts
//     the succeeded and pending ones, a two-phase void's reservation (its
//     pending entry less its failed and succeeded ones) never goes below
//     zero and PendingVoids lists each unsettled one with what it still
//     reserves, and Seq runs 1..Entries without gaps;
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
		switch e.Kind {
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
	if a.Phase == authcapture.PhaseApproved && a.Authorized != authorized {
		return fmt.Errorf("invariant 3: authorized %d, log says %d", a.Authorized, authorized)
	}
	if a.Captures != captures {
		return fmt.Errorf("invariant 3: Captures is %d, the log has %d succeeded or pending", a.Captures, captures)
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
		case !a.NextDue.IsZero() || !a.CaptureAt.IsZero() || !a.CancelAt.IsZero() || !a.ExpiringNoticeAt.IsZero():
			return fmt.Errorf("invariant 5: closed %s is still due at %s", a.ID, a.NextDue)
		}
	}
	return nil
}

// CheckStep returns an error if next, a later read of the authorization
// prev was read from, breaks what holds between reads: captured, voided,
// expired and the version never decrease (invariant 2), how the provider
// let go of the hold (ReleasedBy) is never cleared and never changes once
// set (the first release wins), and a closed authorization never changes
// again (invariant 5).
func CheckStep(prev, next *authcapture.Authorization) error {
	if next.Captured < prev.Captured || next.Voided < prev.Voided || next.Expired < prev.Expired || next.Version < prev.Version {
		return fmt.Errorf("invariant 2: a ledger decreased: before %+v, after %+v", prev, next)
	}
	if prev.ReleasedBy != authcapture.CloseNone && next.ReleasedBy != prev.ReleasedBy {
		return fmt.Errorf("released hold: ReleasedBy %q -> %q", prev.ReleasedBy, next.ReleasedBy)
	}
	if prev.Closed() && next.Version != prev.Version {
		return fmt.Errorf("invariant 5: a closed authorization changed: version %d -> %d", prev.Version, next.Version)
	}
	return nil
}
