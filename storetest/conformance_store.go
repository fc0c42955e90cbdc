package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeContractTests call the Store directly, with writes built by hand the
// way the Service builds them.
var storeContractTests = []contractTest{
	{"GetReturnsWhatWasWritten", testGetReturnsWhatWasWritten},
	{"LogAndOutboxHoldWhatWasWritten", testLogAndOutboxHoldWhatWasWritten},
	{"UnknownIDIsNotFound", testUnknownIDIsNotFound},
	{"AnotherMerchantsAuthorizationIsNotFound", testAnotherMerchantsAuthorizationIsNotFound},
	{"SameIDUnderTwoMerchantsIsTwoAuthorizations", testSameIDUnderTwoMerchants},
	{"VersionOneWriteOfExistingIDIsAlreadyExists", testVersionOneWriteOfExistingID},
	{"UpdateOfMissingAuthorizationIsNotFound", testUpdateOfMissingAuthorization},
	{"StaleVersionIsConflictAndChangesNothing", testStaleVersion},
	{"VersionMustAdvanceByExactlyOne", testVersionMustAdvanceByOne},
	{"MalformedWriteIsInvalidArgumentAndChangesNothing", testMalformedWrite},
	{"OneWriterWinsEachVersion", testOneWriterWinsEachVersion},
	{"ExistingIdempotencyKeyFailsTheWholeWrite", testExistingIdempotencyKey},
	{"IdempotencyRecordRoundTrips", testIdempotencyRecordRoundTrips},
	{"IdempotencyKeysAreScopedByMerchant", testIdempotencyKeysScopedByMerchant},
	{"EventsAreIsolatedByMerchant", testEventsIsolatedByMerchant},
	{"EntriesPageByAfterAndLimit", testEntriesPaging},
	{"EntrySeqContinuesAcrossWrites", testEntrySeqContinues},
	{"EventPositionsIncreaseStrictlyInWriteOrder", testEventPositionsIncrease},
	{"EventCursorPagesWithoutGapsOrRepeats", testEventCursorPaging},
	{"EventCursorMissesNothingUnderConcurrentWrites", testEventCursorConcurrent},
	{"ReturnedAuthorizationSharesNoMemory", testReturnedAuthorizationSharesNoMemory},
	{"StoreRetainsNothingOfAWrite", testStoreRetainsNothingOfAWrite},
	{"ReturnedEntriesEventsAndRecordsShareNoMemory", testReturnedSlicesShareNoMemory},
	{"DueReturnsOnlyThoseDueAtOrBeforeT", testDueAtOrBefore},
	{"DueIsEarliestFirstAcrossMerchants", testDueEarliestFirst},
	{"DueHonoursLimit", testDueLimit},
	{"DueDropsAClosedAuthorization", testDueDropsClosed},
	{"DueDropsAClearedNextDue", testDueDropsCleared},
	{"DueFollowsAMovedNextDue", testDueFollowsMoved},
}

func testGetReturnsWhatWasWritten(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	var states []authcapture.Authorization
	writeEveryField(t, s, "m1", "auth-1", func(w *authcapture.Write) {
		states = append(states, *w.Authorization)
		got, err := s.Get(ctx, "m1", "auth-1")
		require.NoError(t, err)
		require.Equal(t, normAuth(w.Authorization), normAuth(got), "after the write of version %d", w.Authorization.Version)
	})
	assert.Empty(t, neverSet(states), "Authorization fields the fixtures never set")
	last := states[len(states)-1]
	assert.True(t, last.Closed())
	assert.Equal(t, authcapture.StatusCaptured, last.Status())
}

func testLogAndOutboxHoldWhatWasWritten(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	ws := writeEveryField(t, s, "m1", "auth-1", nil)
	var wantEntries []authcapture.Entry
	var wantEvents []authcapture.Event
	for _, w := range ws {
		wantEntries = append(wantEntries, w.Entries...)
		wantEvents = append(wantEvents, w.Events...)
	}
	assert.Empty(t, neverSet(wantEntries), "Entry fields the fixtures never set")
	assert.Empty(t, neverSet(wantEvents, "Position"), "Event fields the fixtures never set")
	entries, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	assert.Equal(t, normEntries(wantEntries), normEntries(entries))
	events := allEvents(t, s, "m1")
	assert.Equal(t, normEvents(wantEvents), normEvents(events))
	for _, ev := range events {
		assert.Positive(t, ev.Position, "the store assigns every event a position")
	}
}

func testUnknownIDIsNotFound(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	_, err := s.Get(ctx, "m1", "auth-2")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = s.Entries(ctx, "m1", "auth-2", 0, 0)
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = s.Idempotency(ctx, "m1", "no-such-key")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
}

func testAnotherMerchantsAuthorizationIsNotFound(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	_, err := s.Get(ctx, "m2", "auth-1")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "Get")
	_, err = s.Entries(ctx, "m2", "auth-1", 0, 0)
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "Entries")

	// An update that names m2 does not reach m1's authorization.
	w := captured(a, "k-m2", 100)
	w.Authorization.MerchantID = "m2"
	w.Events[0].MerchantID = "m2"
	w.Idempotency.MerchantID = "m2"
	before := snapshot(t, s, "m1", "auth-1")
	assert.ErrorIs(t, s.Write(ctx, w), authcapture.ErrNotFound, "Write of version 3 for m2")
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	evs, err := s.Events(ctx, "m2", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, evs)
	_, err = s.Idempotency(ctx, "m2", "k-m2")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
}

func testSameIDUnderTwoMerchants(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a1 := openAuthorization(t, s, "m1", "order-1", epoch.Add(validity))
	a2 := openAuthorization(t, s, "m2", "order-1", epoch.Add(validity))
	a1 = mustWrite(t, s, captured(a1, "k1", 700))
	for _, want := range []*authcapture.Authorization{a1, a2} {
		got, err := s.Get(ctx, want.MerchantID, want.ID)
		require.NoError(t, err)
		assert.Equal(t, normAuth(want), normAuth(got), "merchant %s", want.MerchantID)
		es, err := s.Entries(ctx, want.MerchantID, want.ID, 0, 0)
		require.NoError(t, err)
		assert.Len(t, es, int(want.Entries), "merchant %s", want.MerchantID)
	}
}

func testVersionOneWriteOfExistingID(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	before := snapshot(t, s, "m1", "auth-1")
	err := s.Write(ctx, created("m1", "auth-1", "k-again"))
	assert.ErrorIs(t, err, authcapture.ErrAlreadyExists)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "a failed write changes nothing")
	_, err = s.Idempotency(ctx, "m1", "k-again")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "a failed write records no key")
}

func testUpdateOfMissingAuthorization(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := created("m1", "auth-1", "").Authorization
	err := s.Write(ctx, authorized(a, "k-auth", epoch.Add(validity)))
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	st := snapshot(t, s, "m1", "auth-1")
	assert.True(t, st.Missing)
	assert.Empty(t, st.Events)
	assert.Empty(t, st.Due)
	_, err = s.Idempotency(ctx, "m1", "k-auth")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
}

func testStaleVersion(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	mustWrite(t, s, captured(a, "k-first", 100))
	before := snapshot(t, s, "m1", "auth-1")
	// Built from the version the first writer also read.
	err := s.Write(ctx, voided(a, "k-stale", a.Open()))
	assert.ErrorIs(t, err, authcapture.ErrVersionConflict)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "a failed write changes nothing")
	_, err = s.Idempotency(ctx, "m1", "k-stale")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "a failed write records no key")
}

func testVersionMustAdvanceByOne(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	before := snapshot(t, s, "m1", "auth-1")
	for _, v := range []int64{a.Version, a.Version + 2} {
		w := captured(a, fmt.Sprintf("k-v%d", v), 100)
		w.Authorization.Version = v
		w.Entries[0].Version, w.Events[0].Version, w.Idempotency.Version = v, v, v
		assert.ErrorIs(t, s.Write(ctx, w), authcapture.ErrVersionConflict, "write of version %d over version %d", v, a.Version)
		assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "a failed write changes nothing")
	}
}

func testMalformedWrite(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	mustWrite(t, s, created("m2", "auth-2", "k-other")) // so merchant m2 exists
	cases := map[string]func(w *authcapture.Write){
		"no authorization":                func(w *authcapture.Write) { w.Authorization = nil },
		"version zero":                    func(w *authcapture.Write) { w.Authorization.Version = 0 },
		"entry seq with a gap":            func(w *authcapture.Write) { w.Entries[0].Seq++ },
		"entries short of Entries":        func(w *authcapture.Write) { w.Authorization.Entries++ },
		"event of another merchant":       func(w *authcapture.Write) { w.Events[0].MerchantID = "m2" },
		"event of another authorization":  func(w *authcapture.Write) { w.Events[0].AuthorizationID = "auth-2" },
		"record of another merchant":      func(w *authcapture.Write) { w.Idempotency.MerchantID = "m2" },
		"record of another authorization": func(w *authcapture.Write) { w.Idempotency.AuthorizationID = "auth-2" },
		"record without a key":            func(w *authcapture.Write) { w.Idempotency.Key = "" },
		"new authorization not at entry 1": func(w *authcapture.Write) {
			*w = *created("m1", "auth-3", "k-new")
			w.Entries[0].Seq, w.Authorization.Entries = 2, 2
		},
	}
	for name, mangle := range cases {
		before := snapshot(t, s, "m1", "auth-1")
		w := captured(a, "k-bad", 100)
		mangle(w)
		assert.ErrorIs(t, s.Write(ctx, w), authcapture.ErrInvalidArgument, name)
		assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "%s: a refused write changes nothing", name)
		for _, m := range []string{"m1", "m2"} {
			_, err := s.Idempotency(ctx, m, "k-bad")
			assert.ErrorIs(t, err, authcapture.ErrNotFound, "%s: a refused write records no key", name)
		}
		assert.True(t, snapshot(t, s, "m1", "auth-3").Missing, name)
	}
}

func testOneWriterWinsEachVersion(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	const writers = 16
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.Write(ctx, captured(a, fmt.Sprintf("k-%d", i), int64(10+i)))
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "writers %d and %d both wrote version %d", winner, i, a.Version+1)
			winner = i
			continue
		}
		require.ErrorIs(t, err, authcapture.ErrVersionConflict, "writer %d", i)
	}
	require.NotEqual(t, -1, winner, "no writer won")
	got, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, a.Version+1, got.Version)
	assert.Equal(t, int64(10+winner), got.Captured)
	es, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	assert.Len(t, es, int(a.Entries)+1)
	assert.Len(t, allEvents(t, s, "m1"), int(a.Events)+1)
	for i := range writers {
		_, err := s.Idempotency(ctx, "m1", fmt.Sprintf("k-%d", i))
		if i == winner {
			assert.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, authcapture.ErrNotFound, "the key of losing writer %d", i)
		}
	}
}

func testExistingIdempotencyKey(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a1 := mustWrite(t, s, created("m1", "auth-1", ""))
	a1 = mustWrite(t, s, authorized(a1, "k-taken", epoch.Add(validity)))
	a2 := openAuthorization(t, s, "m1", "auth-2", epoch.Add(validity+time.Hour))
	rec, err := s.Idempotency(ctx, "m1", "k-taken")
	require.NoError(t, err)

	cases := []struct {
		name string
		id   string
		w    *authcapture.Write
	}{
		{"OnCreate", "auth-3", created("m1", "auth-3", "k-taken")},
		{"OnUpdateOfTheSameAuthorization", "auth-1", captured(a1, "k-taken", 100)},
		{"OnUpdateOfAnotherAuthorization", "auth-2", voided(a2, "k-taken", a2.Open())},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s, "m1", tc.id)
			err := s.Write(ctx, tc.w)
			require.ErrorIs(t, err, authcapture.ErrIdempotencyKeyExists)
			assert.Equal(t, before, snapshot(t, s, "m1", tc.id), "no state, entries, events or due time are left behind")
			got, err := s.Idempotency(ctx, "m1", "k-taken")
			require.NoError(t, err)
			assert.Equal(t, normRecord(rec), normRecord(got), "the recorded key is untouched")
		})
	}
}

func testIdempotencyRecordRoundTrips(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	var recs []authcapture.IdempotencyRecord
	for _, w := range writeEveryField(t, s, "m1", "auth-1", nil) {
		if w.Idempotency == nil {
			continue
		}
		recs = append(recs, *w.Idempotency)
		got, err := s.Idempotency(ctx, "m1", w.Idempotency.Key)
		require.NoError(t, err)
		assert.Equal(t, normRecord(w.Idempotency), normRecord(got))
	}
	assert.Empty(t, neverSet(recs), "IdempotencyRecord fields the fixtures never set")
}

func testIdempotencyKeysScopedByMerchant(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	mustWrite(t, s, created("m1", "auth-1", "shared-key"))
	mustWrite(t, s, created("m2", "auth-2", "shared-key"))
	for m, id := range map[string]string{"m1": "auth-1", "m2": "auth-2"} {
		rec, err := s.Idempotency(ctx, m, "shared-key")
		require.NoError(t, err)
		assert.Equal(t, m, rec.MerchantID)
		assert.Equal(t, id, rec.AuthorizationID)
	}
	_, err := s.Idempotency(ctx, "m3", "shared-key")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
}

func testEventsIsolatedByMerchant(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	want := map[string]int{}
	for _, ref := range []struct{ m, id string }{{"m1", "a"}, {"m2", "b"}, {"m1", "c"}, {"m2", "d"}, {"m2", "e"}} {
		ws := writeLifecycle(t, s, ref.m, ref.id)
		want[ref.m] += len(ws)
	}
	for m, n := range want {
		evs := allEvents(t, s, m)
		assert.Len(t, evs, n, "merchant %s", m)
		for _, ev := range evs {
			assert.Equal(t, m, ev.MerchantID)
		}
	}
	evs, err := s.Events(ctx, "m3", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

func testEntriesPaging(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	writeLifecycle(t, s, "m1", "auth-1") // entries 1..5
	cases := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 0, []int64{1, 2, 3, 4, 5}},
		{0, -1, []int64{1, 2, 3, 4, 5}},
		{0, 2, []int64{1, 2}},
		{2, 2, []int64{3, 4}},
		{4, 2, []int64{5}},
		{3, 0, []int64{4, 5}},
		{0, 5, []int64{1, 2, 3, 4, 5}},
		{0, 100, []int64{1, 2, 3, 4, 5}},
		{5, 0, nil},
		{99, 3, nil},
	}
	for _, tc := range cases {
		es, err := s.Entries(ctx, "m1", "auth-1", tc.after, tc.limit)
		require.NoError(t, err)
		var seqs []int64
		for _, e := range es {
			seqs = append(seqs, e.Seq)
		}
		assert.Equal(t, tc.want, seqs, "Entries(after=%d, limit=%d)", tc.after, tc.limit)
	}
}

func testEntrySeqContinues(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	a = mustWrite(t, s, captured(a, "k1", 100))
	a = mustWrite(t, s, finalCaptured(a, "k2", 200)) // two entries in one write
	es, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	require.Len(t, es, int(a.Entries))
	wantVersions := []int64{1, 2, 3, 4, 4}
	for i, e := range es {
		assert.Equal(t, int64(i+1), e.Seq, "entry %d", i)
		assert.Equal(t, wantVersions[i], e.Version, "entry %d", i)
	}
	assert.Equal(t, authcapture.EntryVoid, es[4].Kind)
	assert.Equal(t, int64(authorizedMinor-300), es[4].Amount)
}

func testEventPositionsIncrease(t *testing.T, s authcapture.Store) {
	// Writes alternate between two merchants; one of them carries two
	// events. Positions increase across the whole store in write order.
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	b := openAuthorization(t, s, "m2", "auth-2", epoch.Add(validity))
	a = mustWrite(t, s, captured(a, "", 100))
	b = mustWrite(t, s, captured(b, "", 100))
	mustWrite(t, s, finalCaptured(a, "", 100))
	mustWrite(t, s, voided(b, "", 300))

	byMerchant := map[string][]authcapture.Event{"m1": allEvents(t, s, "m1"), "m2": allEvents(t, s, "m2")}
	for m, evs := range byMerchant {
		for i := 1; i < len(evs); i++ {
			assert.Greater(t, evs[i].Position, evs[i-1].Position, "merchant %s, event %d", m, i)
		}
		for i, ev := range evs {
			assert.Equal(t, int64(i+1), ev.Seq, "merchant %s: Seq counts the authorization's events without gaps", m)
		}
	}
	// The order the events were written in: 2 each for the opens, then
	// one each, then two for the final capture, then one.
	m1, m2 := byMerchant["m1"], byMerchant["m2"]
	require.Len(t, m1, 5)
	require.Len(t, m2, 4)
	order := []authcapture.Event{m1[0], m1[1], m2[0], m2[1], m1[2], m2[2], m1[3], m1[4], m2[3]}
	for i := 1; i < len(order); i++ {
		assert.Greater(t, order[i].Position, order[i-1].Position,
			"event %d (%s of %s) was written after event %d (%s of %s)", i, order[i].Type, order[i].MerchantID,
			i-1, order[i-1].Type, order[i-1].MerchantID)
	}
}

func testEventCursorPaging(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	for _, id := range []string{"a", "b", "c"} {
		writeLifecycle(t, s, "m1", id)
		writeLifecycle(t, s, "m2", id) // interleaved positions of another merchant
	}
	all, err := s.Events(ctx, "m1", 0, 1000)
	require.NoError(t, err)
	require.Len(t, all, 15)
	for _, limit := range []int{1, 2, 4, 7, 15, 100} {
		var got []authcapture.Event
		var after int64
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100, "paging does not end")
			page, err := s.Events(ctx, "m1", after, limit)
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
	rest, err := s.Events(ctx, "m1", all[6].Position, 1000)
	require.NoError(t, err)
	assert.Equal(t, all[7:], rest)
}

func testEventCursorConcurrent(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	seen := relayDuringWrites(t, s, func(int) string { return "m1" }, func(after int64) ([]authcapture.Event, error) {
		return s.Events(ctx, "m1", after, 5)
	})
	all := allEvents(t, s, "m1")
	require.Len(t, all, relayWriters*(2+relayWritesEach))
	var missed []int64
	seenAt := map[int64]bool{}
	for _, ev := range seen {
		seenAt[ev.Position] = true
	}
	for _, ev := range all {
		if !seenAt[ev.Position] {
			missed = append(missed, ev.Position)
		}
	}
	assert.Empty(t, missed, "positions a relay polling during the writes never saw")
	assert.Equal(t, all, seen, "the relay saw every event once, in order")
}

// The load of relayDuringWrites: writers, each writing an authorization
// and then relayWritesEach more versions of it.
const relayWriters, relayWritesEach = 8, 6

// relayDuringWrites has relayWriters goroutines write authorizations (of
// the merchant merchantOf(i) names) while a relay polls read with the
// last position it saw, five events at a time, until the writers are done
// and nothing more comes. It returns the events the relay saw, in order.
func relayDuringWrites(t *testing.T, s authcapture.Store, merchantOf func(i int) string,
	read func(after int64) ([]authcapture.Event, error)) []authcapture.Event {
	t.Helper()
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, relayWriters)
	done := make(chan struct{})
	for i := range relayWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := created(merchantOf(i), fmt.Sprintf("auth-%d", i), "")
			for k := 0; ; k++ {
				if err := s.Write(ctx, w); err != nil {
					errs <- err
					return
				}
				a := w.Authorization.Clone()
				switch {
				case k == 0:
					w = authorized(a, "", epoch.Add(validity))
				case k <= relayWritesEach:
					w = captured(a, "", 10)
				default:
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var seen []authcapture.Event
	var after int64
	poll := func() int {
		page, err := read(after)
		require.NoError(t, err)
		seen = append(seen, page...)
		if len(page) > 0 {
			after = page[len(page)-1].Position
		}
		return len(page)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			if poll() == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	for poll() > 0 {
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return seen
}

func testReturnedAuthorizationSharesNoMemory(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	ws := writeLifecycle(t, s, "m1", "auth-1") // metadata and a pending capture
	want := normAuth(ws[len(ws)-1].Authorization)
	got, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	require.NotEmpty(t, got.Metadata)
	require.NotEmpty(t, got.PendingCaptures)
	got.Metadata["order"] = "changed"
	got.Metadata["added"] = "x"
	got.PendingCaptures[0].Amount = 1
	got.PendingCaptures = append(got.PendingCaptures, authcapture.PendingCapture{ID: "added"})
	got.Captured = 0
	again, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, want, normAuth(again))
}

func testStoreRetainsNothingOfAWrite(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	w1 := created("m1", "auth-1", "k1")
	a := mustWrite(t, s, w1)
	w1.Authorization.Metadata["order"] = "changed after the write"
	w1.Authorization.Metadata["added"] = "x"
	w1.Entries[0].Amount = 1
	got, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	require.Equal(t, normAuth(a), normAuth(got), "the metadata map of a create")
	a = mustWrite(t, s, authorized(a, "", epoch.Add(validity)))
	w := beganCapture(a, "k3", 2500)
	a = mustWrite(t, s, w)
	wantEntries, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	wantEvents := allEvents(t, s, "m1")
	wantRecord := normRecord(w.Idempotency)

	w.Authorization.Metadata["order"] = "changed after the write"
	w.Authorization.PendingCaptures[0].Amount = 1
	w.Authorization.PendingCaptures[0].ID = "changed"
	w.Authorization.Pending = 1
	w.Entries[0].Amount = 1
	w.Entries[0].CaptureID = "changed"
	w.Events[0].Amount = 1
	w.Events[0].Type = authcapture.EventVoided
	w.Idempotency.AuthorizationID = "changed"
	w.Idempotency.EntrySeq = 99

	got, err = s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, normAuth(a), normAuth(got))
	gotEntries, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	assert.Equal(t, normEntries(wantEntries), normEntries(gotEntries))
	assert.Equal(t, wantEvents, allEvents(t, s, "m1"))
	rec, err := s.Idempotency(ctx, "m1", "k3")
	require.NoError(t, err)
	assert.Equal(t, wantRecord, normRecord(rec))
}

func testReturnedSlicesShareNoMemory(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	writeLifecycle(t, s, "m1", "auth-1")
	es, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	wantEntries := normEntries(es)
	evs := allEvents(t, s, "m1")
	wantEvents := slices.Clone(evs)
	rec, err := s.Idempotency(ctx, "m1", "auth-1-capture")
	require.NoError(t, err)
	wantRecord := *rec

	for i := range es {
		es[i].Amount = -1
		es[i].Kind = "changed"
	}
	for i := range evs {
		evs[i].Amount = -1
		evs[i].Position = -1
	}
	rec.Version = -1
	rec.AuthorizationID = "changed"

	es, err = s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	assert.Equal(t, wantEntries, normEntries(es))
	assert.Equal(t, wantEvents, allEvents(t, s, "m1"))
	rec, err = s.Idempotency(ctx, "m1", "auth-1-capture")
	require.NoError(t, err)
	assert.Equal(t, wantRecord, *rec)
}

// dueIDs returns the IDs Due returns, after checking that each DueAt is the
// authorization's NextDue and that they come earliest first.
func dueIDs(t *testing.T, s authcapture.Store, at time.Time, limit int) []string {
	t.Helper()
	ctx := testContext(t)
	refs, err := s.Due(ctx, at, limit)
	require.NoError(t, err)
	var ids []string
	for i, r := range refs {
		ids = append(ids, r.MerchantID+"/"+r.ID)
		assert.False(t, r.DueAt.After(at), "%s is due at %s, after %s", r.ID, r.DueAt, at)
		if i > 0 {
			assert.False(t, r.DueAt.Before(refs[i-1].DueAt), "Due is earliest first")
		}
		a, err := s.Get(ctx, r.MerchantID, r.ID)
		if assert.NoError(t, err) {
			assert.True(t, a.NextDue.Equal(r.DueAt), "DueAt of %s is %s, its NextDue %s", r.ID, r.DueAt, a.NextDue)
			assert.False(t, a.Closed(), "%s is closed", r.ID)
		}
	}
	return ids
}

func testDueAtOrBefore(t *testing.T, s authcapture.Store) {
	openAuthorization(t, s, "m1", "a", epoch.Add(time.Hour))
	openAuthorization(t, s, "m1", "b", epoch.Add(2*time.Hour))
	openAuthorization(t, s, "m1", "c", epoch.Add(3*time.Hour))
	mustWrite(t, s, created("m1", "not-approved", "")) // nothing due
	assert.Empty(t, dueIDs(t, s, epoch, 10))
	assert.Equal(t, []string{"m1/a"}, dueIDs(t, s, epoch.Add(2*time.Hour-time.Microsecond), 10))
	assert.Equal(t, []string{"m1/a", "m1/b"}, dueIDs(t, s, epoch.Add(2*time.Hour), 10), "due exactly at t is due")
	assert.Equal(t, []string{"m1/a", "m1/b", "m1/c"}, dueIDs(t, s, epoch.Add(24*time.Hour), 10))
}

func testDueEarliestFirst(t *testing.T, s authcapture.Store) {
	hours := []int{5, 2, 6, 1, 4, 3}
	for i, h := range hours {
		m := []string{"m1", "m2"}[i%2]
		openAuthorization(t, s, m, fmt.Sprintf("h%d", h), epoch.Add(time.Duration(h)*time.Hour))
	}
	ctx := testContext(t)
	refs, err := s.Due(ctx, epoch.Add(24*time.Hour), 100)
	require.NoError(t, err)
	want := []authcapture.DueRef{
		{MerchantID: "m2", ID: "h1", DueAt: epoch.Add(1 * time.Hour)},
		{MerchantID: "m2", ID: "h2", DueAt: epoch.Add(2 * time.Hour)},
		{MerchantID: "m2", ID: "h3", DueAt: epoch.Add(3 * time.Hour)},
		{MerchantID: "m1", ID: "h4", DueAt: epoch.Add(4 * time.Hour)},
		{MerchantID: "m1", ID: "h5", DueAt: epoch.Add(5 * time.Hour)},
		{MerchantID: "m1", ID: "h6", DueAt: epoch.Add(6 * time.Hour)},
	}
	assert.Equal(t, want, normDue(refs))
}

func testDueLimit(t *testing.T, s authcapture.Store) {
	for h := 5; h >= 1; h-- {
		openAuthorization(t, s, "m1", fmt.Sprintf("h%d", h), epoch.Add(time.Duration(h)*time.Hour))
	}
	far := epoch.Add(24 * time.Hour)
	assert.Equal(t, []string{"m1/h1"}, dueIDs(t, s, far, 1))
	assert.Equal(t, []string{"m1/h1", "m1/h2", "m1/h3"}, dueIDs(t, s, far, 3))
	assert.Len(t, dueIDs(t, s, far, 5), 5)
	assert.Len(t, dueIDs(t, s, far, 50), 5)
	assert.Equal(t, []string{"m1/h1", "m1/h2"}, dueIDs(t, s, epoch.Add(2*time.Hour), 3), "the limit is not filled with what is not due")
}

func testDueDropsClosed(t *testing.T, s authcapture.Store) {
	a := openAuthorization(t, s, "m1", "a", epoch.Add(time.Hour))
	openAuthorization(t, s, "m1", "b", epoch.Add(2*time.Hour))
	c := openAuthorization(t, s, "m1", "c", epoch.Add(3*time.Hour))
	far := epoch.Add(24 * time.Hour)
	require.Equal(t, []string{"m1/a", "m1/b", "m1/c"}, dueIDs(t, s, far, 10))
	mustWrite(t, s, voided(a, "", a.Open()))
	assert.Equal(t, []string{"m1/b", "m1/c"}, dueIDs(t, s, far, 10), "voided in full")
	mustWrite(t, s, finalCaptured(c, "", 100))
	assert.Equal(t, []string{"m1/b"}, dueIDs(t, s, far, 10), "closed by a final capture")
}

func testDueDropsCleared(t *testing.T, s authcapture.Store) {
	a := openAuthorization(t, s, "m1", "a", epoch.Add(time.Hour))
	openAuthorization(t, s, "m1", "b", epoch.Add(2*time.Hour))
	a = mustWrite(t, s, beganCapture(a, "", 100))
	far := epoch.Add(24 * time.Hour)
	require.Equal(t, []string{"m1/a", "m1/b"}, dueIDs(t, s, far, 10), "a partial change keeps the due time")
	a = mustWrite(t, s, expired(a)) // still open: the capture is pending
	require.False(t, a.Closed())
	require.True(t, a.NextDue.IsZero())
	assert.Equal(t, []string{"m1/b"}, dueIDs(t, s, far, 10))
}

func testDueFollowsMoved(t *testing.T, s authcapture.Store) {
	a := openAuthorization(t, s, "m1", "a", epoch.Add(time.Hour))
	openAuthorization(t, s, "m1", "b", epoch.Add(2*time.Hour))
	w := captured(a, "", 100)
	w.Authorization.NextDue = epoch.Add(3 * time.Hour)
	a = mustWrite(t, s, w)
	far := epoch.Add(24 * time.Hour)
	assert.Equal(t, []string{"m1/b", "m1/a"}, dueIDs(t, s, far, 10), "moved later")
	assert.Equal(t, []string{"m1/b"}, dueIDs(t, s, epoch.Add(2*time.Hour), 10))
	w = captured(a, "", 100)
	w.Authorization.NextDue = epoch.Add(30 * time.Minute)
	mustWrite(t, s, w)
	assert.Equal(t, []string{"m1/a", "m1/b"}, dueIDs(t, s, far, 10), "moved earlier")
	assert.Equal(t, []string{"m1/a"}, dueIDs(t, s, epoch.Add(30*time.Minute), 10))
}
