package storetest

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CheckInvariants returns an error describing the first invariant of the
// aggregate (docs/design.md, "Invariants") that a and its whole log
// violate. Tests call it on what a store holds after any run.
func CheckInvariants(a *authcapture.Authorization, log []authcapture.Entry) error {
	return model.Check(a, log)
}

// checkStored reads one authorization, its log and its events from the
// store, checks the invariants (CheckInvariants), and then the events that
// tie them together: Seq without gaps, Events counted, positions increasing,
// and the last event reporting the status and open amount derived now
// (invariant 4). It returns the authorization.
func checkStored(t *testing.T, s authcapture.Store, merchant, id string) *authcapture.Authorization {
	t.Helper()
	ctx := testContext(t)
	a, err := s.Get(ctx, merchant, id)
	require.NoError(t, err)
	entries, err := s.Entries(ctx, merchant, id, 0, 0)
	require.NoError(t, err)
	events := eventsOf(t, s, merchant, id)

	// 1, 2, 3 and 5.
	require.NoError(t, CheckInvariants(a, entries))

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

	// 4.
	if n := len(events); n > 0 {
		assert.Equal(t, a.Status(), events[n-1].Status, "status of %s vs its last event", id)
		assert.Equal(t, a.Open(), events[n-1].Open, "open of %s vs its last event", id)
	}
	return a
}
