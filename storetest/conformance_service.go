package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serviceContractTests run the Service on the store: the contract as the
// Service relies on it.
var serviceContractTests = []contractTest{
	{"ServiceCommandsKeepTheInvariants", testServiceKeepsInvariants},
	{"ReplayWithTheSameKeyAppliesOnce", testReplayAppliesOnce},
	{"RejectedCommandLeavesNothing", testRejectedCommandLeavesNothing},
	{"ExpiryIsAppliedOnReadAndLeavesTheDueIndex", testExpiryOnRead},
	{"DueFollowsServiceCommands", testDueFollowsServiceCommands},
	{"MerchantsCannotReachEachOthersAuthorizationsOrKeys", testMerchantIsolationThroughService},
	{"ConcurrentCapturesAndVoidsNeverOverdraw", testConcurrentCapturesAndVoids},
	{"ConcurrentRetriesOfOneCommandApplyOnce", testConcurrentRetriesApplyOnce},
	{"ConcurrentCreatesOfOneIDCreateOne", testConcurrentCreates},
}

// newService returns a Service on s with a fake clock at epoch. Conflicts
// are retried far more than by default: the tests that race many
// goroutines want each command accepted or rejected on its merits.
func newService(t *testing.T, s authcapture.Store, clock authcapture.Clock) *authcapture.Service {
	t.Helper()
	svc, err := authcapture.New(s, &authcapture.Options{Clock: clock, MaxRetries: 10_000,
		Policies: []authcapture.Policy{overcapturing}})
	require.NoError(t, err)
	return svc
}

// overcapturing is the default policy with an overcapture allowance: a
// single final capture of the whole hold may take 15 percent more, at
// most 3.00 USD.
var overcapturing = func() authcapture.Policy {
	p := authcapture.DefaultPolicy
	p.Name, p.OvercapturePercent, p.OvercaptureMax = "storetest-overcapturing", 15, map[authcapture.Currency]string{"USD": "3.00"}
	return p
}()

// usd returns minor cents as a USD amount.
func usd(minor int64) decimal.Decimal { return decimal.New(minor, -2) }

// approve creates and authorizes id of merchant for minor cents through svc.
func approve(t *testing.T, svc *authcapture.Service, merchant, id string, minor int64) *authcapture.Authorization {
	t.Helper()
	return approveUnder(t, svc, "", merchant, id, minor)
}

// approveUnder is approve under the policy named (the default if empty).
func approveUnder(t *testing.T, svc *authcapture.Service, policy, merchant, id string, minor int64) *authcapture.Authorization {
	t.Helper()
	ctx := testContext(t)
	_, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: merchant, ID: id, Currency: "USD", Amount: usd(minor),
		Policy: policy, Metadata: map[string]string{"order": id}, IdempotencyKey: id + "-create"})
	require.NoError(t, err)
	r, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: id, Amount: usd(minor),
		IdempotencyKey: id + "-authorize"})
	require.NoError(t, err)
	return r.Authorization
}

func testServiceKeepsInvariants(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	const m, id = "m1", "auth-1"
	var prev *authcapture.Authorization
	var captureIDs []string
	steps := []struct {
		name string
		do   func() (*authcapture.Result, error)
	}{
		{"create", func() (*authcapture.Result, error) {
			return svc.Create(ctx, authcapture.CreateRequest{MerchantID: m, ID: id, Currency: "USD", Amount: usd(10000),
				Reference: "order-1", Metadata: map[string]string{"k": "v"}, IdempotencyKey: "k-create"})
		}},
		{"mark pending", func() (*authcapture.Result, error) {
			return svc.MarkPending(ctx, authcapture.MarkPendingRequest{MerchantID: m, ID: id, IdempotencyKey: "k-pending"})
		}},
		{"authorize", func() (*authcapture.Result, error) {
			return svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: m, ID: id, Amount: usd(10000), IdempotencyKey: "k-auth"})
		}},
		{"capture", func() (*authcapture.Result, error) {
			return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: usd(1000), Final: authcapture.Bool(false),
				Reference: "shipment-1", IdempotencyKey: "k-capture"})
		}},
		{"begin capture", func() (*authcapture.Result, error) {
			return svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: usd(2000), Final: authcapture.Bool(false),
				IdempotencyKey: "k-begin-1"})
		}},
		{"begin another capture", func() (*authcapture.Result, error) {
			return svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: usd(1500), Final: authcapture.Bool(false),
				IdempotencyKey: "k-begin-2"})
		}},
		{"confirm the first", func() (*authcapture.Result, error) {
			return svc.ConfirmCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: m, ID: id, CaptureID: captureIDs[0], IdempotencyKey: "k-confirm"})
		}},
		{"fail the second", func() (*authcapture.Result, error) {
			return svc.FailCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: m, ID: id, CaptureID: captureIDs[1], Reason: "card_declined", IdempotencyKey: "k-fail"})
		}},
		{"void part", func() (*authcapture.Result, error) {
			return svc.Void(ctx, authcapture.VoidRequest{MerchantID: m, ID: id, Amount: usd(500), IdempotencyKey: "k-void"})
		}},
		{"final capture", func() (*authcapture.Result, error) {
			clock.Advance(time.Hour)
			return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: usd(3000), Final: authcapture.Bool(true), IdempotencyKey: "k-final"})
		}},
	}
	for _, step := range steps {
		r, err := step.do()
		require.NoError(t, err, step.name)
		require.False(t, r.Replayed, step.name)
		if r.Entry.Kind == authcapture.EntryCapture && r.Entry.CaptureState == authcapture.CapturePending {
			captureIDs = append(captureIDs, r.Entry.CaptureID)
		}
		a := checkStored(t, s, m, id)
		assert.Equal(t, normAuth(r.Authorization), normAuth(a), "%s: the result is what was stored", step.name)
		if prev != nil {
			assert.Equal(t, prev.Version+1, a.Version, "%s: one version per command", step.name)
			assert.NoError(t, model.CheckStep(prev, a), step.name)
		}
		prev = a
	}
	assert.Equal(t, authcapture.StatusCaptured, prev.Status())
	assert.Equal(t, int64(1000+2000+3000), prev.Captured)
	assert.Equal(t, int64(500+3500), prev.Voided, "the partial void and the remainder of the final capture")
	log, err := svc.Log(ctx, m, id)
	require.NoError(t, err)
	assert.Len(t, log, int(prev.Entries))
}

func testReplayAppliesOnce(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	svc := newService(t, s, clocktest.New(epoch))
	approve(t, svc, "m1", "auth-1", 10000)
	req := authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(700), Final: authcapture.Bool(false), IdempotencyKey: "k1"}
	first, err := svc.Capture(ctx, req)
	require.NoError(t, err)
	before := snapshot(t, s, "m1", "auth-1")
	again, err := svc.Capture(ctx, req)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, normEntries([]authcapture.Entry{first.Entry}), normEntries([]authcapture.Entry{again.Entry}))
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "a replay writes nothing")

	req.Amount = usd(800)
	_, err = svc.Capture(ctx, req)
	assert.ErrorIs(t, err, authcapture.ErrIdempotencyMismatch)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "a mismatch writes nothing")
	a := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, int64(700), a.Captured)
}

func testRejectedCommandLeavesNothing(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	svc := newService(t, s, clocktest.New(epoch))
	approve(t, svc, "m1", "auth-1", 10000)
	before := snapshot(t, s, "m1", "auth-1")
	rejected := []struct {
		name string
		want error
		do   func() error
	}{
		{"capture more than is open", authcapture.ErrExceedsCapturable, func() error {
			_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(10001), IdempotencyKey: "k-rejected"})
			return err
		}},
		{"void in another currency", authcapture.ErrCurrencyMismatch, func() error {
			_, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "auth-1", All: true, Currency: "EUR", IdempotencyKey: "k-rejected"})
			return err
		}},
		{"authorize again", authcapture.ErrInvalidStatus, func() error {
			_, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(100), IdempotencyKey: "k-rejected"})
			return err
		}},
	}
	for _, r := range rejected {
		assert.ErrorIs(t, r.do(), r.want, r.name)
		assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"), "%s: no amount, version, entry, event or due change", r.name)
		_, err := s.Idempotency(ctx, "m1", "k-rejected")
		assert.ErrorIs(t, err, authcapture.ErrNotFound, "%s: no idempotency record", r.name)
	}
	// The key of a rejected command stays free.
	res, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(100), IdempotencyKey: "k-rejected"})
	require.NoError(t, err)
	assert.False(t, res.Replayed)
	checkStored(t, s, "m1", "auth-1")
}

func testExpiryOnRead(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	a := approve(t, svc, "m1", "auth-1", 10000)
	_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(2500), Final: authcapture.Bool(false), IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"m1/auth-1"}, dueIDs(t, s, a.ExpiresAt, 10))

	clock.Set(a.ExpiresAt.Add(-time.Nanosecond))
	got, err := svc.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, authcapture.StatusPartiallyCaptured, got.Status(), "not expired before ExpiresAt")

	clock.Set(a.ExpiresAt)
	got, err = svc.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, authcapture.StatusCaptured, got.Status(), "expired at ExpiresAt, the capture stays")
	assert.Equal(t, authcapture.CloseExpired, got.CloseReason)
	assert.Equal(t, int64(7500), got.Expired)
	assert.Equal(t, a.Version+2, got.Version)
	stored := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, normAuth(got), normAuth(stored), "the expiry was written")
	es, err := s.Entries(ctx, "m1", "auth-1", stored.Entries-1, 1)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, authcapture.EntryExpiry, es[0].Kind)
	evs := eventsOf(t, s, "m1", "auth-1")
	assert.Equal(t, authcapture.EventExpired, evs[len(evs)-1].Type)
	assert.Empty(t, dueIDs(t, s, a.ExpiresAt.Add(time.Hour), 10), "an expired authorization is not due")

	before := snapshot(t, s, "m1", "auth-1")
	_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(1), IdempotencyKey: "k2"})
	assert.ErrorIs(t, err, authcapture.ErrExpired)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
}

func testDueFollowsServiceCommands(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, s, clock)
	a := approve(t, svc, "m1", "auth-1", 10000)
	clock.Advance(time.Minute)
	b := approve(t, svc, "m2", "auth-2", 10000)
	refs, err := s.Due(ctx, b.ExpiresAt, 10)
	require.NoError(t, err)
	assert.Equal(t, []authcapture.DueRef{
		{MerchantID: "m1", ID: "auth-1", DueAt: a.ExpiresAt},
		{MerchantID: "m2", ID: "auth-2", DueAt: b.ExpiresAt},
	}, normDue(refs))
	_, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(100), IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"m1/auth-1", "m2/auth-2"}, dueIDs(t, s, b.ExpiresAt, 10), "a partial void keeps it due")
	_, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "auth-1", All: true, IdempotencyKey: "k2"})
	require.NoError(t, err)
	assert.Equal(t, []string{"m2/auth-2"}, dueIDs(t, s, b.ExpiresAt, 10), "a full void closes it")
}

func testMerchantIsolationThroughService(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	svc := newService(t, s, clocktest.New(epoch))
	approve(t, svc, "m1", "auth-1", 10000)
	before := snapshot(t, s, "m1", "auth-1")
	_, err := svc.Get(ctx, "m2", "auth-1")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = svc.Log(ctx, "m2", "auth-1")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m2", ID: "auth-1", Amount: usd(100), IdempotencyKey: "auth-1-create"})
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m2", ID: "auth-1", All: true, IdempotencyKey: "k-void"})
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	evs, err := svc.Events(ctx, "m2", 0, 100)
	require.NoError(t, err)
	assert.Empty(t, evs)

	// m2 uses m1's keys for its own authorization: they are m2's own.
	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m2", ID: "auth-1", Currency: "USD", Amount: usd(500), IdempotencyKey: "auth-1-create"})
	require.NoError(t, err)
	assert.False(t, r.Replayed)
	assert.Equal(t, "m2", r.Authorization.MerchantID)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	rec, err := s.Idempotency(ctx, "m1", "auth-1-create")
	require.NoError(t, err)
	assert.Equal(t, "m1", rec.MerchantID)
}

// testConcurrentCapturesAndVoids races 64 goroutines, spread over several
// Services sharing the store, capturing and voiding one authorization with
// distinct keys.
func testConcurrentCapturesAndVoids(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svcs := make([]*authcapture.Service, 4)
	for i := range svcs {
		svcs[i] = newService(t, s, clock)
	}
	const authorizedAmount = 10000
	a := approve(t, svcs[0], "m1", "auth-1", authorizedAmount)

	const racers = 64
	type outcome struct {
		void bool
		res  *authcapture.Result
		err  error
	}
	out := make([]outcome, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 64))
			amount := usd(1 + rng.Int64N(400))
			svc := svcs[i%len(svcs)]
			key := fmt.Sprintf("racer-%d", i)
			<-start
			if i%4 == 3 {
				out[i].void = true
				out[i].res, out[i].err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "auth-1", Amount: amount, IdempotencyKey: key})
				return
			}
			out[i].res, out[i].err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: amount,
				Final: authcapture.Bool(false), IdempotencyKey: key})
		}()
	}
	close(start)
	wg.Wait()

	var captured, voided int64
	accepted := 0
	rejected := map[error]int{}
	for i, o := range out {
		if o.err != nil {
			var reason error
			for _, s := range []error{authcapture.ErrExceedsCapturable, authcapture.ErrInvalidStatus, authcapture.ErrVersionConflict} {
				if errors.Is(o.err, s) {
					reason = s
				}
			}
			assert.NotNil(t, reason, "racer %d: unexpected error %v", i, o.err)
			rejected[reason]++
			continue
		}
		accepted++
		assert.False(t, o.res.Replayed, "racer %d", i)
		assert.Equal(t, fmt.Sprintf("racer-%d", i), o.res.Entry.IdempotencyKey)
		if o.void {
			assert.Equal(t, authcapture.EntryVoid, o.res.Entry.Kind)
			voided += o.res.Entry.Amount
		} else {
			assert.Equal(t, authcapture.EntryCapture, o.res.Entry.Kind)
			assert.Equal(t, authcapture.CaptureSucceeded, o.res.Entry.CaptureState)
			captured += o.res.Entry.Amount
		}
	}
	t.Logf("%d accepted (captured %d, voided %d of %d); rejected: %v", accepted, captured, voided, authorizedAmount, rejected)
	require.Positive(t, accepted)
	assert.LessOrEqual(t, captured+voided, int64(authorizedAmount), "accepted captures and voids exceed the authorization")
	final := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, captured, final.Captured, "captured ledger vs accepted captures")
	assert.Equal(t, voided, final.Voided, "voided ledger vs accepted voids")
	assert.Zero(t, final.Pending)
	assert.Zero(t, final.Expired)
	assert.Equal(t, a.Version+int64(accepted), final.Version, "one version per accepted command")

	// Each accepted command is in the log once, under its key.
	entries, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	byKey := map[string]int{}
	for _, e := range entries {
		byKey[e.IdempotencyKey]++
	}
	for i, o := range out {
		key := fmt.Sprintf("racer-%d", i)
		if o.err == nil {
			assert.Equal(t, 1, byKey[key], "entries of %s", key)
			rec, err := s.Idempotency(ctx, "m1", key)
			if assert.NoError(t, err, key) {
				assert.Equal(t, o.res.Entry.Seq, rec.EntrySeq)
			}
		} else {
			assert.Zero(t, byKey[key], "entries of rejected %s", key)
		}
	}
}

func testConcurrentRetriesApplyOnce(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svcs := []*authcapture.Service{newService(t, s, clock), newService(t, s, clock)}
	approve(t, svcs[0], "m1", "auth-1", 10000)
	const retries = 16
	res := make([]*authcapture.Result, retries)
	errs := make([]error, retries)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range retries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i], errs[i] = svcs[i%2].Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "auth-1", Amount: usd(1234),
				Final: authcapture.Bool(false), IdempotencyKey: "same-key"})
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i := range retries {
		require.NoError(t, errs[i], "retry %d", i)
		if !res[i].Replayed {
			applied++
		}
		assert.Equal(t, normEntries([]authcapture.Entry{res[0].Entry}), normEntries([]authcapture.Entry{res[i].Entry}), "retry %d", i)
	}
	assert.Equal(t, 1, applied, "exactly one retry applies the capture")
	a := checkStored(t, s, "m1", "auth-1")
	assert.Equal(t, int64(1234), a.Captured)
}

func testConcurrentCreates(t *testing.T, s authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svcs := []*authcapture.Service{newService(t, s, clock), newService(t, s, clock)}
	const creators = 16
	errs := make([]error, creators)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = svcs[i%2].Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "order-1", Currency: "USD",
				Amount: usd(int64(100 + i)), IdempotencyKey: fmt.Sprintf("create-%d", i)})
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "creators %d and %d both created order-1", winner, i)
			winner = i
			continue
		}
		require.ErrorIs(t, err, authcapture.ErrAlreadyExists, "creator %d", i)
	}
	require.NotEqual(t, -1, winner)
	a := checkStored(t, s, "m1", "order-1")
	assert.Equal(t, int64(100+winner), a.Requested)
	assert.Equal(t, int64(1), a.Version)
	assert.Len(t, allEvents(t, s, "m1"), 1)
}
