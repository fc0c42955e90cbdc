package storetest

import (
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
