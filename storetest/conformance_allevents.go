package storetest

import (
	"fmt"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allEventsContractTests check Store.AllEvents, the store-wide cursor over
// the events of every merchant.
var allEventsContractTests = []contractTest{
	{"AllEventsOfAnEmptyStoreIsEmpty", testAllEventsEmpty},
	{"AllEventsHoldsEveryMerchantsEventsInPositionOrder", testAllEventsOrder},
	{"AllEventsCursorPagesWithoutGapsOrRepeats", testAllEventsPaging},
	{"AllEventsCursorMissesNothingUnderConcurrentWrites", testAllEventsConcurrent},
}

// storeEvents returns every event of the store, paging through AllEvents.
func storeEvents(t *testing.T, s authcapture.Store) []authcapture.Event {
	t.Helper()
	var out []authcapture.Event
	var after int64
	for {
		page, err := s.AllEvents(testContext(t), after, 1000)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

func testAllEventsEmpty(t *testing.T, s authcapture.Store) {
	evs, err := s.AllEvents(testContext(t), 0, 100)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func testAllEventsOrder(t *testing.T, s authcapture.Store) {
	// Writes alternate between three merchants; one of them carries two
	// events. AllEvents returns them all, in write order.
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	b := openAuthorization(t, s, "m2", "auth-2", epoch.Add(validity))
	c := openAuthorization(t, s, "m3", "auth-1", epoch.Add(validity)) // the same ID as m1's
	a = mustWrite(t, s, captured(a, "", 100))
	b = mustWrite(t, s, captured(b, "", 100))
	mustWrite(t, s, finalCaptured(a, "", 100))
	mustWrite(t, s, voided(b, "", 300))
	mustWrite(t, s, captured(c, "", 50))

	all := storeEvents(t, s)
	m1, m2, m3 := allEvents(t, s, "m1"), allEvents(t, s, "m2"), allEvents(t, s, "m3")
	require.Len(t, m1, 5)
	require.Len(t, m2, 4)
	require.Len(t, m3, 3)
	want := []authcapture.Event{m1[0], m1[1], m2[0], m2[1], m3[0], m3[1], m1[2], m2[2], m1[3], m1[4], m2[3], m3[2]}
	assert.Equal(t, want, all, "every merchant's events, as Events returns them, in write order")
	for i := 1; i < len(all); i++ {
		assert.Greater(t, all[i].Position, all[i-1].Position, "event %d", i)
	}
	last := all[len(all)-1].Position
	rest, err := s.AllEvents(testContext(t), last, 100)
	require.NoError(t, err)
	assert.Empty(t, rest, "after the last position")
}

func testAllEventsPaging(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	for _, id := range []string{"a", "b", "c"} {
		writeLifecycle(t, s, "m1", id)
		writeLifecycle(t, s, "m2", id)
	}
	all, err := s.AllEvents(ctx, 0, 1000)
	require.NoError(t, err)
	require.Len(t, all, 30)
	for _, limit := range []int{1, 2, 4, 7, 30, 100} {
		var got []authcapture.Event
		var after int64
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100, "paging does not end")
			page, err := s.AllEvents(ctx, after, limit)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Position
		}
		assert.Equal(t, all, got, "paging by %d", limit)
	}
	// A cursor in the middle returns exactly the rest.
	rest, err := s.AllEvents(ctx, all[12].Position, 1000)
	require.NoError(t, err)
	assert.Equal(t, all[13:], rest)
}

func testAllEventsConcurrent(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	seen := relayDuringWrites(t, s, func(i int) string { return fmt.Sprintf("m%d", i%3) }, func(after int64) ([]authcapture.Event, error) {
		return s.AllEvents(ctx, after, 5)
	})
	all := storeEvents(t, s)
	require.Len(t, all, relayWriters*(2+relayWritesEach))
	assert.Equal(t, all, seen, "a relay polling during the writes sees every event once, in position order")
	n := 0
	for _, m := range []string{"m0", "m1", "m2"} {
		n += len(allEvents(t, s, m))
	}
	assert.Equal(t, len(all), n, "AllEvents holds every merchant's events")
}
