package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// boundaryContractTests prove the provider-boundary part of the contract:
// the index of provider references (Store.FindByProviderRef) and of
// actions in flight (Store.Unsettled), on the store directly and through
// the Service's RecordOutcome and Unsettled.
var boundaryContractTests = []contractTest{
	{"ProviderRefIsFoundUnderItsMerchantOnly", testProviderRefFound},
	{"ProviderRefOfAnotherAuthorizationFailsTheWholeWrite", testProviderRefOfAnother},
	{"ProviderRefRepeatedOnOneAuthorizationIsIndexedOnce", testProviderRefRepeated},
	{"ProviderRefOfAFailedWriteIsNotIndexed", testProviderRefOfFailedWrite},
	{"UnsettledReturnsOnlyThoseInFlightSinceT", testUnsettledAtOrBefore},
	{"UnsettledIsOldestFirstAcrossMerchantsAndHonoursLimit", testUnsettledOldestFirst},
	{"UnsettledDropsAuthorizationsOnceSettled", testUnsettledDropsSettled},
	{"RecordOutcomeSettlesFindsAndReplays", testRecordOutcomeThroughService},
	{"ConcurrentDeliveriesOfAnUnrecordedOutcomeRecordItOnce", testConcurrentDeliveries},
	{"ServiceListsUnsettledActionsOldestFirst", testServiceUnsettled},
	{"RefundsOfAClosedAuthorizationAreIndexedListedAndSettled", testRefundsOfClosed},
	{"ConcurrentRefundsNeverExceedTheirCaptureNorTheTotal", testConcurrentRefunds},
	{"ARefundWrittenAfterTheLogWasReadIsSeen", testRefundAfterLogRead},
}

// withRef returns w with ref as the provider reference of its entry.
func withRef(w *authcapture.Write, ref string) *authcapture.Write {
	w.Entries[0].ProviderRef = ref
	return w
}

func testProviderRefFound(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	mustWrite(t, s, withRef(captured(a, "k1", 100), "ch_1"))
	id, err := s.FindByProviderRef(ctx, "m1", "ch_1")
	require.NoError(t, err)
	assert.Equal(t, "auth-1", id)
	_, err = s.FindByProviderRef(ctx, "m2", "ch_1")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "another merchant's reference")
	_, err = s.FindByProviderRef(ctx, "m1", "ch_2")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "a reference never written")

	// The same reference under another merchant is that merchant's own.
	b := openAuthorization(t, s, "m2", "auth-9", epoch.Add(validity))
	mustWrite(t, s, withRef(captured(b, "k1", 100), "ch_1"))
	id, err = s.FindByProviderRef(ctx, "m2", "ch_1")
	require.NoError(t, err)
	assert.Equal(t, "auth-9", id)
	id, err = s.FindByProviderRef(ctx, "m1", "ch_1")
	require.NoError(t, err)
	assert.Equal(t, "auth-1", id)
}

func testProviderRefOfAnother(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a1 := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	a2 := openAuthorization(t, s, "m1", "auth-2", epoch.Add(validity))
	mustWrite(t, s, withRef(captured(a1, "k1", 100), "ch_1"))
	before := snapshot(t, s, "m1", "auth-2")
	w := captured(a2, "k2", 100)
	w.Entries[0].ProviderRef = "ch_1"
	err := s.Write(ctx, w)
	assert.ErrorIs(t, err, authcapture.ErrAlreadyExists, "a second authorization claiming a reference")
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-2"), "the refused write changes nothing")
	_, err = s.Idempotency(ctx, "m1", "k2")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "nor records its key")
	id, err := s.FindByProviderRef(ctx, "m1", "ch_1")
	require.NoError(t, err)
	assert.Equal(t, "auth-1", id, "the first claim stands")

	// A write with that reference among others fails as a whole too.
	w = captured(a2, "k3", 100)
	e := w.Entries[0]
	e.Seq++
	e.ProviderRef = "ch_1"
	w.Entries[0].ProviderRef = "ch_new"
	w.Entries = append(w.Entries, e)
	w.Authorization.Entries++
	assert.ErrorIs(t, s.Write(ctx, w), authcapture.ErrAlreadyExists)
	_, err = s.FindByProviderRef(ctx, "m1", "ch_new")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "no reference of a refused write is indexed")
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-2"))
}

func testProviderRefRepeated(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	a = mustWrite(t, s, withRef(beganCapture(a, "k1", 100), "cap_ref"))
	a = mustWrite(t, s, withRef(confirmed(a, "k2"), "cap_ref"))
	// Two entries of one write with the same reference.
	w := captured(a, "k3", 100)
	e := w.Entries[0]
	e.Seq++
	w.Entries = append(w.Entries, e)
	w.Authorization.Entries++
	w.Entries[0].ProviderRef, w.Entries[1].ProviderRef = "dup", "dup"
	mustWrite(t, s, w)
	for _, ref := range []string{"cap_ref", "dup"} {
		id, err := s.FindByProviderRef(ctx, "m1", ref)
		require.NoError(t, err, ref)
		assert.Equal(t, "auth-1", id, ref)
	}
}

func testProviderRefOfFailedWrite(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	mustWrite(t, s, captured(a, "k1", 100))
	stale := withRef(captured(a, "k2", 100), "ch_stale") // built on the version before
	assert.ErrorIs(t, s.Write(ctx, stale), authcapture.ErrVersionConflict)
	_, err := s.FindByProviderRef(ctx, "m1", "ch_stale")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "a write that lost its version check indexes nothing")
	w := withRef(captured(mustGet(t, s, "m1", "auth-1"), "k1", 100), "ch_key")
	assert.ErrorIs(t, s.Write(ctx, w), authcapture.ErrIdempotencyKeyExists)
	_, err = s.FindByProviderRef(ctx, "m1", "ch_key")
	assert.ErrorIs(t, err, authcapture.ErrNotFound, "a write refused for its key indexes nothing")
}

func mustGet(t *testing.T, s authcapture.Store, merchant, id string) *authcapture.Authorization {
	t.Helper()
	a, err := s.Get(testContext(t), merchant, id)
	require.NoError(t, err)
	return a
}

func unsettledIDs(t *testing.T, s authcapture.Store, at time.Time, limit int) []string {
	t.Helper()
	refs, err := s.Unsettled(testContext(t), at, limit)
	require.NoError(t, err)
	var ids []string
	for i, r := range refs {
		ids = append(ids, r.MerchantID+"/"+r.ID)
		a := mustGet(t, s, r.MerchantID, r.ID)
		assert.True(t, r.DueAt.Equal(a.PendingSince), "DueAt of %s is its PendingSince", r.ID)
		if i > 0 {
			assert.False(t, r.DueAt.Before(refs[i-1].DueAt), "oldest first")
		}
	}
	return ids
}

// pendingAt writes a capture of 100 begun at the given time into the
// authorization id of merchant (opening it first if new).
func pendingAt(t *testing.T, s authcapture.Store, merchant, id string, at time.Time) *authcapture.Authorization {
	t.Helper()
	a, err := s.Get(testContext(t), merchant, id)
	if err != nil {
		a = openAuthorization(t, s, merchant, id, epoch.Add(validity))
	}
	w := beganCapture(a, id+fmt.Sprint(a.Version), 100)
	pc := &w.Authorization.PendingCaptures[len(w.Authorization.PendingCaptures)-1]
	pc.BegunAt = at
	w.Authorization.PendingSince = pendingSince(w.Authorization)
	return mustWrite(t, s, w)
}

func testUnsettledAtOrBefore(t *testing.T, s authcapture.Store) {
	openAuthorization(t, s, "m1", "idle", epoch.Add(validity)) // nothing in flight
	pendingAt(t, s, "m1", "a", epoch.Add(time.Hour))
	pendingAt(t, s, "m1", "b", epoch.Add(2*time.Hour+time.Nanosecond))
	assert.Empty(t, unsettledIDs(t, s, epoch, 10))
	assert.Equal(t, []string{"m1/a"}, unsettledIDs(t, s, epoch.Add(time.Hour), 10), "at t is included")
	assert.Equal(t, []string{"m1/a"}, unsettledIDs(t, s, epoch.Add(2*time.Hour), 10), "a nanosecond later is not")
	assert.Equal(t, []string{"m1/a", "m1/b"}, unsettledIDs(t, s, epoch.Add(3*time.Hour), 10))
}

func testUnsettledOldestFirst(t *testing.T, s authcapture.Store) {
	pendingAt(t, s, "m2", "c", epoch.Add(3*time.Minute))
	pendingAt(t, s, "m1", "a", epoch.Add(5*time.Minute))
	pendingAt(t, s, "m1", "b", epoch.Add(1*time.Minute))
	// A second, older action moves a forward.
	pendingAt(t, s, "m1", "a", epoch.Add(30*time.Second))
	later := epoch.Add(time.Hour)
	assert.Equal(t, []string{"m1/a", "m1/b", "m2/c"}, unsettledIDs(t, s, later, 10))
	assert.Equal(t, []string{"m1/a", "m1/b"}, unsettledIDs(t, s, later, 2))
}

func testUnsettledDropsSettled(t *testing.T, s authcapture.Store) {
	a := pendingAt(t, s, "m1", "a", epoch.Add(time.Minute))
	later := epoch.Add(time.Hour)
	require.Equal(t, []string{"m1/a"}, unsettledIDs(t, s, later, 10))
	a = mustWrite(t, s, confirmed(a, "k-confirm"))
	assert.Zero(t, a.PendingSince)
	assert.Empty(t, unsettledIDs(t, s, later, 10))
	a = mustWrite(t, s, beganVoid(a, "k-void", a.Open()))
	assert.Equal(t, []string{"m1/a"}, unsettledIDs(t, s, later, 10), "a void in flight")
	mustWrite(t, s, confirmedVoid(a, "k-confirm-void"))
	assert.Empty(t, unsettledIDs(t, s, later, 10))
}

func testRecordOutcomeThroughService(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	approve(t, svc, "m1", "auth-1", 10000)
	_, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(4000),
		ProviderRef: "cap_A", IdempotencyKey: "begin"})
	require.NoError(t, err)
	a, err := svc.FindByProviderRef(ctx, "m1", "cap_A")
	require.NoError(t, err)
	assert.Equal(t, "auth-1", a.ID)
	_, err = svc.FindByProviderRef(ctx, "m2", "cap_A")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)

	out := authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "cap_A", Kind: authcapture.OutcomeCapture,
		Outcome: authcapture.OutcomeSucceeded}
	r, err := svc.RecordOutcome(ctx, out)
	require.NoError(t, err)
	assert.Equal(t, authcapture.EffectSettled, r.Effect)
	assert.Equal(t, int64(4000), r.Authorization.Captured)
	again, err := svc.RecordOutcome(ctx, out)
	require.NoError(t, err)
	assert.Equal(t, authcapture.EffectReplayed, again.Effect)
	assert.True(t, again.Replayed)
	assert.Equal(t, r.Entry, again.Entry)

	// A void the host never recorded, then claimed by another authorization.
	r, err = svc.RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "void_B", AuthorizationID: "auth-1",
		Kind: authcapture.OutcomeVoid, Outcome: authcapture.OutcomeSucceeded, Amount: usd(1000)})
	require.NoError(t, err)
	assert.Equal(t, authcapture.EffectRecorded, r.Effect)
	assert.Equal(t, int64(1000), r.Authorization.Voided)
	approve(t, svc, "m1", "auth-2", 10000)
	_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-2", Amount: usd(100),
		ProviderRef: "void_B", IdempotencyKey: "claim"})
	assert.ErrorIs(t, err, authcapture.ErrAlreadyExists)
	assert.Contains(t, err.Error(), "void_B", "the error names the reference")
	checkStored(t, s, "m1", "auth-1")
	b := checkStored(t, s, "m1", "auth-2")
	assert.Zero(t, b.Captured, "the refused capture changed nothing")
}

func testConcurrentDeliveries(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	setup := newService(t, s, clock)
	approve(t, setup, "m1", "auth-1", 10000)
	const deliveries = 16
	svcs := []*authcapture.Service{setup, newService(t, s, clock), newService(t, s, clock)}
	effects := make([]authcapture.OutcomeEffect, deliveries)
	errs := make([]error, deliveries)
	var wg sync.WaitGroup
	for i := range deliveries {
		wg.Go(func() {
			key := ""
			if i%2 == 1 {
				key = fmt.Sprintf("delivery-%d", i) // each delivery its own key: only the state can tell them apart
			}
			r, err := svcs[i%len(svcs)].RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: "auth-1",
				ProviderRef: "cap_crash", Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded,
				Amount: usd(2500), IdempotencyKey: key})
			errs[i] = err
			if err == nil {
				effects[i] = r.Effect
			}
		})
	}
	wg.Wait()
	recorded := 0
	for i := range deliveries {
		require.NoError(t, errs[i], "delivery %d", i)
		if effects[i] == authcapture.EffectRecorded {
			recorded++
		} else {
			assert.Equal(t, authcapture.EffectReplayed, effects[i], "delivery %d", i)
		}
	}
	assert.Equal(t, 1, recorded, "one delivery records the capture")
	a := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, int64(2500), a.Captured, "captured once")
}

func testServiceUnsettled(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	approve(t, svc, "m1", "auth-1", 10000)
	approve(t, svc, "m2", "auth-2", 10000)
	_, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(1000),
		ProviderRef: "cap_1", IdempotencyKey: "b1"})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: "m2", ID: "auth-2", Amount: usd(500), IdempotencyKey: "b2"})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	_, err = svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(2000), IdempotencyKey: "b3"})
	require.NoError(t, err)
	clock.Advance(30 * time.Second)

	list, err := svc.Unsettled(ctx, authcapture.UnsettledRequest{OlderThan: time.Minute, Limit: 10})
	require.NoError(t, err)
	var got []string
	for _, u := range list {
		got = append(got, fmt.Sprintf("%s/%s %s %s %d %q %s", u.MerchantID, u.AuthorizationID, u.Kind, u.ActionID, u.Amount,
			u.ProviderRef, u.BegunAt.Sub(epoch)))
	}
	assert.Equal(t, []string{
		`m1/auth-1 capture cap_3 1000 "cap_1" 0s`,
		`m2/auth-2 void void_3 500 "" 1m0s`,
	}, got, "begun at least a minute ago, oldest first; the capture begun 30s ago is not listed")

	list, err = svc.Unsettled(ctx, authcapture.UnsettledRequest{Limit: 1})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "cap_3", list[0].ActionID)

	_, err = svc.RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "cap_1",
		Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeFailed})
	require.NoError(t, err)
	list, err = svc.Unsettled(ctx, authcapture.UnsettledRequest{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "void_3", list[0].ActionID)
	assert.Equal(t, "cap_4", list[1].ActionID)
}

// testRefundsOfClosed: refunds change a closed (captured) authorization's
// refund ledger only; a pending one is in the index of actions in flight
// and its provider reference is found, and its outcome settles it.
func testRefundsOfClosed(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	approve(t, svc, "m1", "auth-1", 10000)
	r, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(10000), IdempotencyKey: "cap"})
	require.NoError(t, err)
	closed := r.Authorization
	require.True(t, closed.Closed())
	_, err = svc.Refund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(2500), CaptureID: r.Entry.CaptureID,
		ProviderRef: "re_1", IdempotencyKey: "refund"})
	require.NoError(t, err)
	clock.Advance(time.Minute)
	b, err := svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(5000),
		ProviderRef: "re_2", IdempotencyKey: "begin-refund"})
	require.NoError(t, err)
	a := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, [4]int64{2500, 5000, 2500, 2}, [4]int64{a.Refunded, a.PendingRefund, a.Refundable(), int64(a.Refunds)})
	assert.Equal(t, closed.Status(), a.Status())
	assert.Equal(t, closed.ClosedAt.UTC(), a.ClosedAt.UTC(), "the hold stays closed")
	assert.Equal(t, []authcapture.PendingRefund{{ID: b.Entry.RefundID, Amount: 5000, ProviderRef: "re_2", BegunAt: epoch.Add(time.Minute)}},
		normRefunds(a.PendingRefunds))
	id, err := s.FindByProviderRef(ctx, "m1", "re_1")
	require.NoError(t, err)
	assert.Equal(t, "auth-1", id)
	list, err := svc.Unsettled(ctx, authcapture.UnsettledRequest{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, authcapture.OutcomeRefund, list[0].Kind)
	assert.Equal(t, b.Entry.RefundID, list[0].ActionID)

	o, err := svc.RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "re_2", Kind: authcapture.OutcomeRefund,
		Outcome: authcapture.OutcomeFailed})
	require.NoError(t, err)
	assert.Equal(t, authcapture.EffectSettled, o.Effect)
	a = checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, [3]int64{2500, 0, 7500}, [3]int64{a.Refunded, a.PendingRefund, a.Refundable()})
	list, err = svc.Unsettled(ctx, authcapture.UnsettledRequest{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, list)
}

// normRefunds returns refunds with their times in UTC.
func normRefunds(refunds []authcapture.PendingRefund) []authcapture.PendingRefund {
	out := make([]authcapture.PendingRefund, len(refunds))
	for i, r := range refunds {
		r.BegunAt = r.BegunAt.UTC()
		out[i] = r
	}
	return out
}

// testConcurrentRefunds: services on one store race refunds of one
// capture, of another, and of the total: the refunds naming a capture
// never exceed it, nor all of them what was captured.
func testConcurrentRefunds(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	setup := newService(t, s, clock)
	approve(t, setup, "m1", "auth-1", 10000)
	var caps []string
	for i, amount := range []int64{3000, 7000} {
		r, err := setup.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(amount),
			Final: authcapture.Bool(i == 1), IdempotencyKey: fmt.Sprintf("cap-%d", i)})
		require.NoError(t, err)
		caps = append(caps, r.Entry.CaptureID)
	}
	svcs := []*authcapture.Service{setup, newService(t, s, clock), newService(t, s, clock)}
	const refunds = 24
	var wg sync.WaitGroup
	errs := make([]error, refunds)
	for i := range refunds {
		wg.Go(func() {
			req := authcapture.RefundRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(700), IdempotencyKey: fmt.Sprintf("refund-%d", i)}
			if i%3 < 2 {
				req.CaptureID = caps[i%3]
			}
			svc := svcs[i%len(svcs)]
			if i%4 == 0 {
				_, errs[i] = svc.BeginRefund(ctx, req)
			} else {
				_, errs[i] = svc.Refund(ctx, req)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			assert.True(t, errors.Is(err, authcapture.ErrExceedsRefundable) || errors.Is(err, authcapture.ErrActionInFlight),
				"refund %d: %v", i, err)
		}
	}
	a := checkStored(t, s, "m1", "auth-1") // the invariants bound each capture's refunds and the total
	assert.LessOrEqual(t, a.Refunded+a.PendingRefund, a.Captured)
	assert.Equal(t, 10000-(a.Refunded+a.PendingRefund), a.Refundable())
	assert.GreaterOrEqual(t, a.Refunded+a.PendingRefund, int64(9100), "refunds stop only when less than 7.00 is left")
}

// entriesHook is a store that runs hook once, right after the first read
// of the log: another writer acts between a command's read of the log and
// its write.
type entriesHook struct {
	authcapture.Store
	once sync.Once
	hook func()
}

func (h *entriesHook) Entries(ctx context.Context, merchantID, id string, after int64, limit int) ([]authcapture.Entry, error) {
	log, err := h.Store.Entries(ctx, merchantID, id, after, limit)
	h.once.Do(h.hook)
	return log, err
}

// testRefundAfterLogRead: a refund of a capture reads the capture's
// refunds from the log; one written by another service right after that
// read is seen (the write is pinned to the version read, and the refund
// looks again), so the two never take more than the capture did.
func testRefundAfterLogRead(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	setup := newService(t, s, clock)
	approve(t, setup, "m1", "auth-1", 10000)
	r, err := setup.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(3000),
		Final: authcapture.Bool(false), IdempotencyKey: "cap-1"})
	require.NoError(t, err)
	capID := r.Entry.CaptureID
	_, err = setup.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(7000), IdempotencyKey: "cap-2"})
	require.NoError(t, err)
	refund := func(svc *authcapture.Service, key string) error {
		_, err := svc.Refund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(2000), CaptureID: capID,
			IdempotencyKey: key})
		return err
	}
	var other error
	hooked := &entriesHook{Store: s, hook: func() { other = refund(setup, "other") }}
	svc, err := authcapture.New(hooked, &authcapture.Options{Clock: clock})
	require.NoError(t, err)
	err = refund(svc, "mine")
	require.NoError(t, other)
	assert.ErrorIs(t, err, authcapture.ErrExceedsRefundable, "1000 of the capture's 3000 is left")
	a := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, int64(2000), a.Refunded)
}
