package storetest

import (
	"fmt"

	"github.com/authcapture/authcapture"
)

// CheckInvariants returns an error describing the first invariant of the
// aggregate (DESIGN section 2) that a and its log violate:
//
//  1. Authorized == Open + Pending + Captured + Voided + Expired
//  2. every amount >= 0, Authorized <= Requested
//  3. each ledger equals the sum of its log entries, and the log's Seq run
//     1..Entries without gaps
//  4. a closed authorization has a close reason and a close time, and no
//     pending capture
func CheckInvariants(a *authcapture.Authorization, log []authcapture.Entry) error {
	if a == nil {
		return fmt.Errorf("nil authorization")
	}
	for name, v := range map[string]int64{"requested": a.Requested, "authorized": a.Authorized,
		"captured": a.Captured, "pending": a.Pending, "voided": a.Voided, "expired": a.Expired, "open": a.Open()} {
		if v < 0 {
			return fmt.Errorf("invariant 2: %s is negative (%d): %+v", name, v, a)
		}
	}
	if a.Authorized > a.Requested {
		return fmt.Errorf("invariant 2: authorized %d > requested %d", a.Authorized, a.Requested)
	}
	if a.Phase == authcapture.PhaseApproved && a.Authorized != a.Open()+a.Pending+a.Captured+a.Voided+a.Expired {
		return fmt.Errorf("invariant 1: authorized %d != open %d + pending %d + captured %d + voided %d + expired %d",
			a.Authorized, a.Open(), a.Pending, a.Captured, a.Voided, a.Expired)
	}
	if int64(len(log)) != a.Entries {
		return fmt.Errorf("invariant 3: the log has %d entries, the authorization counts %d", len(log), a.Entries)
	}
	var captured, voided, expired, authorized int64
	state := map[string]authcapture.CaptureState{}
	amounts := map[string]int64{}
	for i, e := range log {
		if e.Seq != int64(i)+1 {
			return fmt.Errorf("invariant 3: entry %d has seq %d", i+1, e.Seq)
		}
		if e.Amount < 0 {
			return fmt.Errorf("invariant 2: entry %d has a negative amount", e.Seq)
		}
		switch e.Kind {
		case authcapture.EntryAuthorized:
			authorized += e.Amount
		case authcapture.EntryVoid:
			voided += e.Amount
		case authcapture.EntryExpiry:
			expired += e.Amount
		case authcapture.EntryCapture:
			switch e.CaptureState {
			case authcapture.CaptureSucceeded:
				captured += e.Amount
			case authcapture.CapturePending, authcapture.CaptureFailed:
			default:
				return fmt.Errorf("invariant 3: capture entry %d has state %q", e.Seq, e.CaptureState)
			}
			if prev, ok := state[e.CaptureID]; ok && prev != authcapture.CapturePending {
				return fmt.Errorf("invariant 3: capture %s settled twice (entry %d)", e.CaptureID, e.Seq)
			}
			state[e.CaptureID] = e.CaptureState
			amounts[e.CaptureID] = e.Amount
		}
	}
	var pending int64
	for id, s := range state {
		if s == authcapture.CapturePending {
			pending += amounts[id]
		}
	}
	got := [...]int64{a.Authorized, a.Captured, a.Pending, a.Voided, a.Expired}
	want := [...]int64{authorized, captured, pending, voided, expired}
	if a.Phase == authcapture.PhaseApproved && got != want {
		return fmt.Errorf("invariant 3: ledgers [authorized captured pending voided expired] %v, log sums %v", got, want)
	}
	var listed int64
	for _, p := range a.PendingCaptures {
		listed += p.Amount
		if state[p.ID] != authcapture.CapturePending {
			return fmt.Errorf("invariant 3: pending capture %s is not pending in the log", p.ID)
		}
	}
	if listed != a.Pending {
		return fmt.Errorf("invariant 3: pending captures sum to %d, the ledger says %d", listed, a.Pending)
	}
	if a.Closed() {
		if a.CloseReason == authcapture.CloseNone || a.ClosedAt.IsZero() {
			return fmt.Errorf("invariant 5: closed without a close reason or time: %+v", a)
		}
		if !a.NextDue.IsZero() {
			return fmt.Errorf("a closed authorization is still due at %s", a.NextDue)
		}
	}
	return nil
}
