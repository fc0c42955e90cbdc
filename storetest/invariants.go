package storetest

import (
	"slices"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkStored reads one authorization, its log and its events from the
// store and checks the invariants of DESIGN section 2 on them:
//
//  1. authorized == open + pending + captured + voided + expired;
//  2. every amount is >= 0;
//  3. each ledger equals the sum of the log entries of its kind (capture
//     entries by CaptureState, void and expiry entries by kind; other
//     kinds move no money);
//  4. the status the last event reports is the one derived now;
//  5. a closed authorization has nothing due.
//
// It also checks the bookkeeping that ties them together: Seq without gaps
// in the log and the events, Entries and Events counts, positions
// increasing, the pending captures list. It returns the authorization.
func checkStored(t *testing.T, s authcapture.Store, merchant, id string) *authcapture.Authorization {
	t.Helper()
	ctx := testContext(t)
	a, err := s.Get(ctx, merchant, id)
	require.NoError(t, err)
	entries, err := s.Entries(ctx, merchant, id, 0, 0)
	require.NoError(t, err)
	events := eventsOf(t, s, merchant, id)

	// 1 and 2.
	for name, v := range map[string]int64{"requested": a.Requested, "authorized": a.Authorized, "open": a.Open(),
		"pending": a.Pending, "captured": a.Captured, "voided": a.Voided, "expired": a.Expired} {
		assert.GreaterOrEqual(t, v, int64(0), "%s of %s", name, id)
	}
	if a.Phase == authcapture.PhaseApproved {
		assert.Equal(t, a.Authorized, a.Open()+a.Pending+a.Captured+a.Voided+a.Expired, "ledger of %s", id)
	} else {
		assert.Zero(t, a.Authorized+a.Pending+a.Captured+a.Voided+a.Expired, "%s is not approved, yet its ledgers are not empty", id)
	}

	// 3.
	var authorized, captured, pending, voided, expired int64
	var captures int
	open := map[string]int64{} // pending captures not yet settled
	var openOrder []string
	for i, e := range entries {
		assert.Equal(t, int64(i+1), e.Seq, "entry %d of %s", i, id)
		assert.GreaterOrEqual(t, e.Amount, int64(0), "entry %d of %s", e.Seq, id)
		if i > 0 {
			assert.GreaterOrEqual(t, e.Version, entries[i-1].Version, "entry %d of %s", e.Seq, id)
		}
		if e.Kind != authcapture.EntryCapture {
			assert.Empty(t, e.CaptureState, "entry %d (%s) of %s", e.Seq, e.Kind, id)
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
			case authcapture.CapturePending:
				pending += e.Amount
				open[e.CaptureID] = e.Amount
				openOrder = append(openOrder, e.CaptureID)
			case authcapture.CaptureSucceeded:
				captured += e.Amount
				if amount, ok := open[e.CaptureID]; ok {
					assert.Equal(t, amount, e.Amount, "capture %s of %s succeeded with another amount than it reserved", e.CaptureID, id)
					pending -= amount
					delete(open, e.CaptureID)
				}
			case authcapture.CaptureFailed:
				amount, ok := open[e.CaptureID]
				if assert.True(t, ok, "capture %s of %s failed without being pending", e.CaptureID, id) {
					assert.Equal(t, amount, e.Amount)
					pending -= amount
					delete(open, e.CaptureID)
				}
			default:
				t.Errorf("capture entry %d of %s has capture state %q", e.Seq, id, e.CaptureState)
			}
		}
	}
	for _, e := range entries {
		if e.Kind == authcapture.EntryCapture && e.CaptureState == authcapture.CaptureSucceeded {
			captures++
		}
	}
	captures += len(open)
	if a.Phase == authcapture.PhaseApproved {
		assert.Equal(t, a.Authorized, authorized, "authorized vs its log entries, %s", id)
	}
	assert.Equal(t, a.Captured, captured, "captured vs succeeded capture entries, %s", id)
	assert.Equal(t, a.Pending, pending, "pending vs unsettled pending capture entries, %s", id)
	assert.Equal(t, a.Voided, voided, "voided vs void entries, %s", id)
	assert.Equal(t, a.Expired, expired, "expired vs expiry entries, %s", id)
	assert.Equal(t, a.Captures, captures, "Captures vs succeeded and pending captures, %s", id)
	var listed []string
	var listedSum int64
	for _, pc := range a.PendingCaptures {
		listed = append(listed, pc.ID)
		listedSum += pc.Amount
	}
	openOrder = slices.DeleteFunc(openOrder, func(id string) bool { _, ok := open[id]; return !ok })
	if len(openOrder) == 0 {
		openOrder = nil
	}
	assert.Equal(t, openOrder, listed, "PendingCaptures vs unsettled pending entries, oldest first, %s", id)
	assert.Equal(t, a.Pending, listedSum, "Pending vs PendingCaptures, %s", id)

	// Bookkeeping.
	assert.Equal(t, a.Entries, int64(len(entries)), "Entries count of %s", id)
	if len(entries) > 0 {
		assert.Equal(t, a.Version, entries[len(entries)-1].Version, "every accepted command writes an entry, %s", id)
	}
	assert.Equal(t, a.Events, int64(len(events)), "Events count of %s", id)
	for i, ev := range events {
		assert.Equal(t, int64(i+1), ev.Seq, "event %d of %s", i, id)
		assert.LessOrEqual(t, ev.Version, a.Version)
		assert.True(t, ev.EntrySeq >= 1 && ev.EntrySeq <= a.Entries, "event %d of %s reports entry %d", ev.Seq, id, ev.EntrySeq)
		if i > 0 {
			assert.Greater(t, ev.Position, events[i-1].Position)
			assert.GreaterOrEqual(t, ev.Version, events[i-1].Version)
		}
	}

	// 4 and 5.
	if n := len(events); n > 0 {
		assert.Equal(t, a.Status(), events[n-1].Status, "status of %s vs its last event", id)
		assert.Equal(t, a.Open(), events[n-1].Open, "open of %s vs its last event", id)
	}
	if a.Closed() {
		assert.True(t, a.NextDue.IsZero(), "closed %s is still due at %s", id, a.NextDue)
		assert.False(t, a.ClosedAt.IsZero(), "closed %s has no ClosedAt", id)
		assert.True(t, a.Status().Terminal(), "closed %s has status %s", id, a.Status())
	}
	return a
}
