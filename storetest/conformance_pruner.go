package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prunerContractTests prove authcapture.Pruner's contract. They skip for a
// store that does not declare it.
var prunerContractTests = []contractTest{
	{"PruneIdempotencyDeletesTheRecordsBeforeTheCutoff", testPruneIdempotencyCutoff},
	{"PruneIdempotencyHonoursTheLimit", testPruneIdempotencyLimit},
	{"APrunedKeyIsFreeAgain", testPrunedKeyIsFree},
	{"PruneEventsDeletesTheEventsBeforeTheCutoff", testPruneEventsCutoff},
	{"PruneEventsNeverDeletesFromKeepFrom", testPruneEventsKeepFrom},
	{"PruneEventsHonoursTheLimit", testPruneEventsLimit},
	{"PruneEventsStopsAtTheFirstEventTooYoung", testPruneEventsStopsAtYoung},
	{"PruneAuthorizationsDeletesTheClosedBeforeTheCutoff", testPruneAuthorizationsCutoff},
	{"PruneAuthorizationsWaitsForTheRefundWindow", testPruneAuthorizationsRefundWindow},
	{"PruneAuthorizationsNeverDeletesWhatIsInFlight", testPruneAuthorizationsInFlight},
	{"PruneAuthorizationsHonoursTheLimitOldestFirst", testPruneAuthorizationsLimit},
	{"PruneAuthorizationsKeepsAnotherAuthorizationsRecordUnderAReusedKey", testPruneAuthorizationsReusedKey},
}

// pruner returns s as a Pruner, or skips t.
func pruner(t *testing.T, s authcapture.Store) authcapture.Pruner {
	t.Helper()
	p, ok := s.(authcapture.Pruner)
	if !ok {
		t.Skip("the store is not an authcapture.Pruner")
	}
	return p
}

// writeAged writes n new authorizations, alternating between two merchants,
// the i-th recorded under key "key-i" with its record and event dated at
// epoch plus hours(i) hours. It returns the merchant of each.
func writeAged(t *testing.T, s authcapture.Store, n int, hours func(i int) int) []string {
	t.Helper()
	merchants := make([]string, n)
	for i := range n {
		merchants[i] = fmt.Sprintf("m%d", i%2)
		w := created(merchants[i], fmt.Sprintf("a%d", i), fmt.Sprintf("key-%d", i))
		at := epoch.Add(time.Duration(hours(i)) * time.Hour)
		w.Idempotency.CreatedAt = at
		w.Events[0].At = at
		mustWrite(t, s, w)
	}
	return merchants
}

// hoursAt returns epoch plus h hours.
func hoursAt(h int) time.Time { return epoch.Add(time.Duration(h) * time.Hour) }

// keyKept reports whether the record of key-i is still stored.
func keyKept(t *testing.T, s authcapture.Store, merchant string, i int) bool {
	t.Helper()
	_, err := s.Idempotency(testContext(t), merchant, fmt.Sprintf("key-%d", i))
	if err == nil {
		return true
	}
	require.ErrorIs(t, err, authcapture.ErrNotFound)
	return false
}

func testPruneIdempotencyCutoff(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	// Not in the order of writing: every record older than the cutoff
	// goes, wherever it was written.
	hours := []int{7, 2, 9, 0, 5, 4, 8, 1, 6, 3}
	merchants := writeAged(t, s, len(hours), func(i int) int { return hours[i] })
	n, err := p.PruneIdempotency(ctx, hoursAt(5), 100)
	require.NoError(t, err)
	assert.Equal(t, 5, n, "records dated before the cutoff")
	for i, h := range hours {
		assert.Equal(t, h >= 5, keyKept(t, s, merchants[i], i), "record dated %dh (the cutoff is 5h, and a record at it stays)", h)
	}
	n, err = p.PruneIdempotency(ctx, hoursAt(5), 100)
	require.NoError(t, err)
	assert.Zero(t, n, "a second prune at the same cutoff")
	// Authorizations, logs and events are not idempotency records.
	for i := range hours {
		_, err := s.Get(ctx, merchants[i], fmt.Sprintf("a%d", i))
		require.NoError(t, err)
	}
	assert.Len(t, allEventsAfter(t, s, 0), len(hours))
}

func testPruneIdempotencyLimit(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	writeAged(t, s, 5, func(i int) int { return i })
	var got []int
	for range 4 {
		n, err := p.PruneIdempotency(ctx, hoursAt(100), 2)
		require.NoError(t, err)
		got = append(got, n)
	}
	assert.Equal(t, []int{2, 2, 1, 0}, got, "deleted per call of limit 2, of 5 records")
}

func testPrunedKeyIsFree(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	merchants := writeAged(t, s, 1, func(int) int { return 0 })
	n, err := p.PruneIdempotency(ctx, hoursAt(1), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// The same key names a new command now.
	w := created(merchants[0], "again", "key-0")
	mustWrite(t, s, w)
	rec, err := s.Idempotency(ctx, merchants[0], "key-0")
	require.NoError(t, err)
	assert.Equal(t, "again", rec.AuthorizationID)
}

// allEventsAfter returns every event of the store after position after.
func allEventsAfter(t *testing.T, s authcapture.Store, after int64) []authcapture.Event {
	t.Helper()
	evs, err := s.AllEvents(testContext(t), after, 10_000)
	require.NoError(t, err)
	return evs
}

// positions returns the positions of evs.
func positions(evs []authcapture.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Position
	}
	return out
}

func testPruneEventsCutoff(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	merchants := writeAged(t, s, 10, func(i int) int { return i })
	before := allEventsAfter(t, s, 0)
	require.Len(t, before, 10)
	n, err := p.PruneEvents(ctx, hoursAt(5), before[9].Position+1, 100)
	require.NoError(t, err)
	assert.Equal(t, 5, n, "events dated before the cutoff")
	after := allEventsAfter(t, s, 0)
	assert.Equal(t, positions(before[5:]), positions(after), "the events left, from the one at the cutoff")
	// a5 to a9 are left: a6 and a8 of m0, a5, a7 and a9 of m1.
	for m, left := range map[string]int{"m0": 2, "m1": 3} {
		evs, err := s.Events(ctx, m, 0, 100)
		require.NoError(t, err)
		for _, ev := range evs {
			assert.False(t, ev.At.Before(hoursAt(5)), "merchant %s still has event %d dated %v", m, ev.Position, ev.At)
		}
		assert.Len(t, evs, left, "merchant %s's events left", m)
	}
	// Idempotency records are not events.
	for i := range 10 {
		assert.True(t, keyKept(t, s, merchants[i], i))
	}
	// Writing goes on above the positions pruned.
	w := created("m0", "later", "")
	w.Events[0].At = hoursAt(20)
	mustWrite(t, s, w)
	next := allEventsAfter(t, s, before[9].Position)
	require.Len(t, next, 1)
	assert.Greater(t, next[0].Position, before[9].Position)
}

func testPruneEventsKeepFrom(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	writeAged(t, s, 6, func(i int) int { return i })
	before := allEventsAfter(t, s, 0)
	require.Len(t, before, 6)
	n, err := p.PruneEvents(ctx, hoursAt(100), 0, 100)
	require.NoError(t, err)
	assert.Zero(t, n, "keepFrom 0 keeps every event")
	// A relay whose cursor is at the second event.
	n, err = p.PruneEvents(ctx, hoursAt(100), before[1].Position+1, 100)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "events up to the relay's cursor")
	assert.Equal(t, positions(before[2:]), positions(allEventsAfter(t, s, 0)))
	n, err = p.PruneEvents(ctx, hoursAt(100), before[2].Position, 100)
	require.NoError(t, err)
	assert.Zero(t, n, "the event at keepFrom stays")
	assert.Equal(t, positions(before[2:]), positions(allEventsAfter(t, s, 0)))
}

func testPruneEventsLimit(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	writeAged(t, s, 5, func(i int) int { return i })
	before := allEventsAfter(t, s, 0)
	var got []int
	for range 4 {
		n, err := p.PruneEvents(ctx, hoursAt(100), before[4].Position+1, 2)
		require.NoError(t, err)
		got = append(got, n)
	}
	assert.Equal(t, []int{2, 2, 1, 0}, got, "deleted per call of limit 2, of 5 events")
	assert.Empty(t, allEventsAfter(t, s, 0))
}

func testPruneEventsStopsAtYoung(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	hours := []int{0, 1, 9, 2, 3}
	writeAged(t, s, len(hours), func(i int) int { return hours[i] })
	before := allEventsAfter(t, s, 0)
	n, err := p.PruneEvents(ctx, hoursAt(5), before[4].Position+1, 100)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "events before the first one dated at or after the cutoff")
	assert.Equal(t, positions(before[2:]), positions(allEventsAfter(t, s, 0)))
}

// closedAged writes a new authorization of merchant that is approved, half
// captured under the provider reference "ref-ID" and voided for the rest,
// closing it at closedAt; each step is recorded under key "ID-k1"... It
// returns the stored state.
func closedAged(t *testing.T, s authcapture.Store, merchant, id string, closedAt time.Time) *authcapture.Authorization {
	t.Helper()
	a := mustWrite(t, s, created(merchant, id, id+"-k1"))
	a = mustWrite(t, s, authorized(a, id+"-k2", epoch.Add(validity)))
	w := captured(a, id+"-k3", authorizedMinor/2)
	w.Entries[0].ProviderRef = "ref-" + id
	a = mustWrite(t, s, w)
	w = voided(a, id+"-k4", authorizedMinor/2)
	require.True(t, w.Authorization.Closed())
	w.Authorization.ClosedAt = closedAt
	return mustWrite(t, s, w)
}

// declinedAged writes a new authorization of merchant that the issuer
// declined at closedAt, recorded under keys "ID-k1" and "ID-k2".
func declinedAged(t *testing.T, s authcapture.Store, merchant, id string, closedAt time.Time) *authcapture.Authorization {
	t.Helper()
	a := mustWrite(t, s, created(merchant, id, id+"-k1"))
	w := build(a, id+"-k2", authcapture.Entry{Kind: authcapture.EntryDeclined}, authcapture.EventDeclined,
		func(a *authcapture.Authorization, _ time.Time) {
			a.Phase = authcapture.PhaseDeclined
			a.CloseReason = authcapture.CloseDeclined
			a.ClosedAt = closedAt
		})
	return mustWrite(t, s, w)
}

// assertPruned checks that authorization id of merchant is gone with its
// log, its keys 1 to keys and, if ref is not empty, its provider
// reference; or, if kept, that all of them are still there.
func assertPruned(t *testing.T, s authcapture.Store, merchant, id string, keys int, ref string, pruned bool) {
	t.Helper()
	ctx := testContext(t)
	_, err := s.Get(ctx, merchant, id)
	_, errEntries := s.Entries(ctx, merchant, id, 0, 0)
	if pruned {
		assert.ErrorIs(t, err, authcapture.ErrNotFound, "Get of pruned %s", id)
		assert.ErrorIs(t, errEntries, authcapture.ErrNotFound, "Entries of pruned %s", id)
	} else {
		assert.NoError(t, err, "Get of kept %s", id)
		assert.NoError(t, errEntries, "Entries of kept %s", id)
	}
	for k := 1; k <= keys; k++ {
		_, err := s.Idempotency(ctx, merchant, fmt.Sprintf("%s-k%d", id, k))
		if pruned {
			assert.ErrorIs(t, err, authcapture.ErrNotFound, "idempotency record %s-k%d of pruned %s", id, k, id)
		} else {
			assert.NoError(t, err, "idempotency record %s-k%d of kept %s", id, k, id)
		}
	}
	if ref != "" {
		got, err := s.FindByProviderRef(ctx, merchant, ref)
		if pruned {
			assert.ErrorIs(t, err, authcapture.ErrNotFound, "provider reference %s of pruned %s", ref, id)
		} else {
			assert.NoError(t, err, "provider reference %s of kept %s", ref, id)
			assert.Equal(t, id, got)
		}
	}
}

func testPruneAuthorizationsCutoff(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	// Closed at 1h and 3h (of two merchants), declined at 2h: before the
	// cutoff at 5h. Closed at 5h (at the cutoff) and 9h, and one open
	// since long before: kept.
	closedAged(t, s, "m0", "c1", hoursAt(1))
	declinedAged(t, s, "m1", "d2", hoursAt(2))
	closedAged(t, s, "m1", "c3", hoursAt(3))
	closedAged(t, s, "m0", "c5", hoursAt(5))
	closedAged(t, s, "m1", "c9", hoursAt(9))
	open := mustWrite(t, s, created("m0", "open", "open-k1"))
	mustWrite(t, s, authorized(open, "open-k2", hoursAt(100)))
	events := len(allEventsAfter(t, s, 0))

	n, err := p.PruneAuthorizations(ctx, hoursAt(5), 100)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "authorizations closed before the cutoff")
	assertPruned(t, s, "m0", "c1", 4, "ref-c1", true)
	assertPruned(t, s, "m1", "d2", 2, "", true)
	assertPruned(t, s, "m1", "c3", 4, "ref-c3", true)
	assertPruned(t, s, "m0", "c5", 4, "ref-c5", false)
	assertPruned(t, s, "m1", "c9", 4, "ref-c9", false)
	assertPruned(t, s, "m0", "open", 2, "", false)
	assert.Len(t, allEventsAfter(t, s, 0), events, "events follow their own retention")

	n, err = p.PruneAuthorizations(ctx, hoursAt(5), 100)
	require.NoError(t, err)
	assert.Zero(t, n, "a second prune at the same cutoff")

	// The provider reference is free again.
	a := openAuthorization(t, s, "m0", "later", hoursAt(100))
	w := captured(a, "", 1)
	w.Entries[0].ProviderRef = "ref-c1"
	mustWrite(t, s, w)
	got, err := s.FindByProviderRef(ctx, "m0", "ref-c1")
	require.NoError(t, err)
	assert.Equal(t, "later", got)

	// A later cutoff takes the rest that closed; the open ones stay.
	n, err = p.PruneAuthorizations(ctx, hoursAt(100), 100)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "c5 and c9")
	assertPruned(t, s, "m0", "later", 0, "ref-c1", false)
	assertPruned(t, s, "m0", "open", 2, "", false)
}

// closedRefundable is closedAged with the capture's RefundableUntil set
// to until, as under a policy with a RefundWindow.
func closedRefundable(t *testing.T, s authcapture.Store, merchant, id string, closedAt, until time.Time) *authcapture.Authorization {
	t.Helper()
	a := mustWrite(t, s, created(merchant, id, id+"-k1"))
	a = mustWrite(t, s, authorized(a, id+"-k2", epoch.Add(validity)))
	w := captured(a, id+"-k3", authorizedMinor/2)
	w.Entries[0].ProviderRef = "ref-" + id
	w.Authorization.RefundableUntil = until
	a = mustWrite(t, s, w)
	w = voided(a, id+"-k4", authorizedMinor/2)
	require.True(t, w.Authorization.Closed())
	w.Authorization.ClosedAt = closedAt
	return mustWrite(t, s, w)
}

// An authorization is pruned by the later of its ClosedAt and its
// RefundableUntil (Authorization.PrunableSince), and a write that moves
// RefundableUntil after it closed moves it.
func testPruneAuthorizationsRefundWindow(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	// Closed at 1h, refundable until 10h: kept until 10h. Closed at 3h,
	// refundable until 2h: it goes by its ClosedAt. Closed at 1h,
	// refundable until 2h, then moved to 20h by a later write.
	closedRefundable(t, s, "m0", "r10", hoursAt(1), hoursAt(10))
	closedRefundable(t, s, "m1", "r2", hoursAt(3), hoursAt(2))
	moved := closedRefundable(t, s, "m0", "moved", hoursAt(1), hoursAt(2))
	w := refunded(moved, "moved-k5", 1)
	w.Authorization.RefundableUntil = hoursAt(20)
	mustWrite(t, s, w)
	assert.Equal(t, hoursAt(10), mustGet(t, s, "m0", "r10").PrunableSince().UTC())

	n, err := p.PruneAuthorizations(ctx, hoursAt(5), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "r2, closed at 3h, past its window")
	assertPruned(t, s, "m1", "r2", 4, "ref-r2", true)
	assertPruned(t, s, "m0", "r10", 4, "ref-r10", false)
	assertPruned(t, s, "m0", "moved", 5, "ref-moved", false)

	n, err = p.PruneAuthorizations(ctx, hoursAt(10), 100)
	require.NoError(t, err)
	assert.Zero(t, n, "r10 is refundable until the cutoff")

	n, err = p.PruneAuthorizations(ctx, hoursAt(11), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "r10, past its window")
	assertPruned(t, s, "m0", "r10", 4, "ref-r10", true)
	assertPruned(t, s, "m0", "moved", 5, "ref-moved", false)

	n, err = p.PruneAuthorizations(ctx, hoursAt(21), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "moved, past its moved window")
	assertPruned(t, s, "m0", "moved", 5, "ref-moved", true)
}

func testPruneAuthorizationsInFlight(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	// A capture in flight since long before the cutoff: not closed.
	a := openAuthorization(t, s, "m0", "pending", hoursAt(100))
	mustWrite(t, s, beganCapture(a, "", authorizedMinor))
	// Closed long ago, then a refund in flight on it: kept while it is
	// in flight.
	c := closedAged(t, s, "m0", "refunding", hoursAt(1))
	w := beganRefund(c, "refunding-k5", "cap-3", 100)
	require.False(t, w.Authorization.PendingSince.IsZero())
	c = mustWrite(t, s, w)

	n, err := p.PruneAuthorizations(ctx, hoursAt(50), 100)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing in flight is pruned")
	assertPruned(t, s, "m0", "pending", 0, "", false)
	assertPruned(t, s, "m0", "refunding", 5, "ref-refunding", false)

	// Once settled, it goes, with the refund's provider reference.
	pr := c.PendingRefunds[0]
	settled := build(c, "refunding-k6", authcapture.Entry{Kind: authcapture.EntryRefund, RefundState: authcapture.ActionSucceeded,
		RefundID: pr.ID, CaptureID: pr.CaptureID, Amount: pr.Amount, ProviderRef: pr.ProviderRef}, authcapture.EventRefundSucceeded,
		func(a *authcapture.Authorization, _ time.Time) {
			a.PendingRefunds = nil
			a.PendingRefund -= pr.Amount
			a.Refunded += pr.Amount
		})
	require.True(t, settled.Authorization.PendingSince.IsZero())
	mustWrite(t, s, settled)
	n, err = p.PruneAuthorizations(ctx, hoursAt(50), 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the settled one")
	assertPruned(t, s, "m0", "refunding", 6, "ref-refunding", true)
	_, err = s.FindByProviderRef(ctx, "m0", pr.ProviderRef)
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "the refund's provider reference")
	assertPruned(t, s, "m0", "pending", 0, "", false)
}

func testPruneAuthorizationsLimit(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	// Written in another order than they closed.
	hours := []int{4, 0, 3, 1, 2}
	for i, h := range hours {
		closedAged(t, s, fmt.Sprintf("m%d", i%2), fmt.Sprintf("c%d", h), hoursAt(h))
	}
	var got []int
	for range 4 {
		n, err := p.PruneAuthorizations(ctx, hoursAt(100), 2)
		require.NoError(t, err)
		got = append(got, n)
		if len(got) == 1 {
			// The two that closed first went first.
			for i, h := range hours {
				_, err := s.Get(ctx, fmt.Sprintf("m%d", i%2), fmt.Sprintf("c%d", h))
				assert.Equal(t, h < 2, errors.Is(err, authcapture.ErrNotFound), "c%d after the first call", h)
			}
		}
	}
	assert.Equal(t, []int{2, 2, 1, 0}, got, "deleted per call of limit 2, of 5 authorizations")
}

func testPruneAuthorizationsReusedKey(t *testing.T, s authcapture.Store) {
	p := pruner(t, s)
	ctx := testContext(t)
	closedAged(t, s, "m0", "old", hoursAt(1))
	// old's first key was pruned and then names another authorization's
	// command; the provider reference "ref-old" is old's alone.
	n, err := p.PruneIdempotency(ctx, epoch.Add(90*time.Second), 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mustWrite(t, s, created("m0", "new", "old-k1"))
	n, err = p.PruneAuthorizations(ctx, hoursAt(2), 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	rec, err := s.Idempotency(ctx, "m0", "old-k1")
	require.NoError(t, err, "the record of the other authorization stays")
	assert.Equal(t, "new", rec.AuthorizationID)
	_, err = s.Get(ctx, "m0", "new")
	assert.NoError(t, err)
}
