package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dueClaimerContractTests prove authcapture.DueClaimer's contract. They
// skip for a store that does not declare it.
var dueClaimerContractTests = []contractTest{
	{"ClaimDueClaimsTheEarliestAndHidesThemUntilTheClaimEnds", testClaimDueHides},
	{"ClaimDueEndsAtTheNextWrite", testClaimDueEndsAtWrite},
	{"ClaimDueChangesNoAuthorization", testClaimDueChangesNothing},
	{"ConcurrentClaimsTakeDifferentAuthorizations", testClaimDueConcurrent},
}

// claimer returns s as a DueClaimer, or skips t.
func claimer(t *testing.T, s authcapture.Store) authcapture.DueClaimer {
	t.Helper()
	c, ok := s.(authcapture.DueClaimer)
	if !ok {
		t.Skip("the store is not an authcapture.DueClaimer")
	}
	return c
}

// dueAtHours writes one open authorization "dH" of merchant m0 or m1 due
// (expiring) at hoursAt(H) for each H of hours.
func dueAtHours(t *testing.T, s authcapture.Store, hours ...int) {
	t.Helper()
	for i, h := range hours {
		openAuthorization(t, s, fmt.Sprintf("m%d", i%2), fmt.Sprintf("d%d", h), hoursAt(h))
	}
}

// ids returns the IDs of refs, in order.
func ids(refs []authcapture.DueRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID
	}
	return out
}

func testClaimDueHides(t *testing.T, s authcapture.Store) {
	c := claimer(t, s)
	ctx := testContext(t)
	dueAtHours(t, s, 4, 1, 3, 2, 9)
	refs, err := c.ClaimDue(ctx, hoursAt(5), hoursAt(20), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"d1", "d2"}, ids(refs), "the two due first")
	assert.True(t, refs[0].DueAt.Equal(hoursAt(1)), "DueAt is the due time found: %v", refs[0].DueAt)
	due, err := s.Due(ctx, hoursAt(5), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"d3", "d4"}, ids(due), "Due leaves the claimed ones out")
	refs, err = c.ClaimDue(ctx, hoursAt(5), hoursAt(10), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"d3", "d4"}, ids(refs), "a second claim takes the rest that is due")
	refs, err = c.ClaimDue(ctx, hoursAt(5), hoursAt(20), 10)
	require.NoError(t, err)
	assert.Empty(t, refs, "nothing unclaimed is due")
	// Claimed ones are due again when their claim ends.
	due, err = s.Due(ctx, hoursAt(15), 10)
	require.NoError(t, err)
	require.Len(t, due, 3, "at 15h: d9, then d3 and d4 claimed until 10h")
	assert.Equal(t, "d9", due[0].ID)
	assert.ElementsMatch(t, []string{"d3", "d4"}, ids(due[1:]))
	assert.True(t, due[1].DueAt.Equal(hoursAt(10)), "a claimed one is due at its claim's end: %v", due[1].DueAt)
	due, err = s.Due(ctx, hoursAt(20), 10)
	require.NoError(t, err)
	require.Len(t, due, 5)
	assert.ElementsMatch(t, []string{"d1", "d2"}, ids(due[3:]), "claimed until 20h, due last")
}

func testClaimDueEndsAtWrite(t *testing.T, s authcapture.Store) {
	c := claimer(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m0", "a", hoursAt(1))
	refs, err := c.ClaimDue(ctx, hoursAt(2), hoursAt(20), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(refs))
	// A capture keeps the hold's due time: the claim ends with it.
	mustWrite(t, s, captured(a, "", 100))
	due, err := s.Due(ctx, hoursAt(2), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(due), "due again at its NextDue after a write")
	assert.True(t, due[0].DueAt.Equal(hoursAt(1)))
}

func testClaimDueChangesNothing(t *testing.T, s authcapture.Store) {
	c := claimer(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m0", "a", hoursAt(1))
	before := snapshot(t, s, "m0", "a")
	_, err := c.ClaimDue(ctx, hoursAt(2), hoursAt(20), 10)
	require.NoError(t, err)
	after := snapshot(t, s, "m0", "a")
	before.Due, after.Due = nil, nil
	assert.Equal(t, before, after, "state, log and events after a claim")
	// A write built on the state before the claim still applies.
	mustWrite(t, s, captured(a, "", 100))
}

func testClaimDueConcurrent(t *testing.T, s authcapture.Store) {
	c := claimer(t, s)
	ctx := testContext(t)
	hours := make([]int, 40)
	for i := range hours {
		hours[i] = i
	}
	dueAtHours(t, s, hours...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				refs, err := c.ClaimDue(ctx, hoursAt(100), hoursAt(1000), 3)
				assert.NoError(t, err)
				if len(refs) == 0 {
					return
				}
				mu.Lock()
				for _, r := range refs {
					seen[r.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A call finding the rest held by another may stop before the end:
	// what is left is claimed now.
	refs, err := c.ClaimDue(ctx, hoursAt(100), hoursAt(1000), 100)
	require.NoError(t, err)
	for _, r := range refs {
		seen[r.ID]++
	}
	assert.Len(t, seen, len(hours), "every due authorization claimed")
	for id, n := range seen {
		assert.Equal(t, 1, n, "%s claimed %d times", id, n)
	}
}
