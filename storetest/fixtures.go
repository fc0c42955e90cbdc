package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/require"
)

// epoch is the time the fixtures start at: in UTC and whole microseconds,
// so that stores keeping microsecond timestamps return exactly what they
// were given.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

const (
	validity = 7 * 24 * time.Hour
	// authorizedMinor is what the fixtures authorize: 100.00 USD.
	authorizedMinor = 10000
)

// created returns the version 1 write of a new authorization of merchant,
// as the Service builds it for a create, recorded under key (none if empty).
func created(merchant, id, key string) *authcapture.Write {
	a := &authcapture.Authorization{
		ID: id, MerchantID: merchant, Reference: "order-" + id,
		Metadata: map[string]string{"order": id, "channel": "web"},
		Currency: "USD", Policy: "default", Phase: authcapture.PhaseCreated,
		Requested: authorizedMinor, CreatedAt: epoch,
	}
	return build(a, key, authcapture.Entry{Kind: authcapture.EntryCreated, Amount: authorizedMinor, Reference: a.Reference},
		authcapture.EventCreated, nil)
}

// authorized returns the write that approves prev in full, with a hold (and
// next due time) lapsing at expires.
func authorized(prev *authcapture.Authorization, key string, expires time.Time) *authcapture.Write {
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryAuthorized, Amount: prev.Requested}, authcapture.EventAuthorized,
		func(a *authcapture.Authorization, at time.Time) {
			a.Phase = authcapture.PhaseApproved
			a.Authorized = a.Requested
			a.AuthorizedAt = at
			a.ExpiresAt = expires
			a.ExpiryRule = "explicit"
			a.NextDue = expires
		})
}

// reauthorized returns the write of a reauthorization: a new hold from the
// provider, under a new provider reference, lapsing at expires, with its
// expiring-soon notice due notice before.
func reauthorized(prev *authcapture.Authorization, key string, expires time.Time, notice time.Duration) *authcapture.Write {
	w := build(prev, key, authcapture.Entry{Kind: authcapture.EntryReauthorized, ProviderRef: "reauth-" + prev.ID},
		authcapture.EventReauthorized, func(a *authcapture.Authorization, at time.Time) {
			a.ExpiresAt = expires
			a.ExpiryRule = "reauthorization: explicit"
			a.Reauthorizations++
			a.ReauthorizedAt = at
			a.ExpiringNoticeAt = expires.Add(-notice)
		})
	w.Events[0].ExpiresAt, w.Events[0].PreviousExpiresAt = expires, prev.ExpiresAt
	return w
}

// captured returns the write of a direct, non-final capture of amount.
func captured(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	id := fmt.Sprintf("cap-%d", prev.Version+1)
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryCapture, CaptureState: authcapture.CaptureSucceeded,
		CaptureID: id, Amount: amount, Reference: "shipment-" + id}, authcapture.EventCaptureSucceeded,
		func(a *authcapture.Authorization, _ time.Time) {
			a.Captured += amount
			a.Captures++
		})
}

// beganCapture returns the write that reserves amount as a pending capture.
func beganCapture(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	id := fmt.Sprintf("cap-%d", prev.Version+1)
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryCapture, CaptureState: authcapture.CapturePending,
		CaptureID: id, Amount: amount}, authcapture.EventCapturePending,
		func(a *authcapture.Authorization, at time.Time) {
			a.Pending += amount
			a.Captures++
			a.PendingCaptures = append(a.PendingCaptures, authcapture.PendingCapture{ID: id, Amount: amount, BegunAt: at})
		})
}

// refunded returns the write of a direct refund of amount against the
// total captured, with the provider's reference for it.
func refunded(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	id := fmt.Sprintf("refund-%d", prev.Version+1)
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryRefund, RefundState: authcapture.ActionSucceeded,
		RefundID: id, Amount: amount, ProviderRef: "re_" + id, Reason: authcapture.ReasonRequestedByCustomer},
		authcapture.EventRefundSucceeded, func(a *authcapture.Authorization, _ time.Time) {
			a.Refunded += amount
			a.Refunds++
		})
}

// beganRefund returns the write that reserves amount of capture for a
// two-phase refund.
func beganRefund(prev *authcapture.Authorization, key, capture string, amount int64) *authcapture.Write {
	id := fmt.Sprintf("refund-%d", prev.Version+1)
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryRefund, RefundState: authcapture.ActionPending,
		RefundID: id, CaptureID: capture, Amount: amount}, authcapture.EventRefundPending,
		func(a *authcapture.Authorization, at time.Time) {
			a.PendingRefund += amount
			a.Refunds++
			a.PendingRefunds = append(a.PendingRefunds, authcapture.PendingRefund{ID: id, Amount: amount, CaptureID: capture,
				ProviderRef: "re_" + id, BegunAt: at})
		})
}

// beganVoid returns the write that reserves amount of what is open for a
// two-phase void of everything, with the provider's reference for it.
func beganVoid(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	id := fmt.Sprintf("void-%d", prev.Version+1)
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryVoid, VoidState: authcapture.ActionPending,
		VoidID: id, Amount: amount, ProviderRef: "pv_" + id}, authcapture.EventVoidPending,
		func(a *authcapture.Authorization, at time.Time) {
			a.PendingVoid += amount
			a.PendingVoids = append(a.PendingVoids, authcapture.PendingVoid{ID: id, Amount: amount, All: true,
				ProviderRef: "pv_" + id, Key: "ac1-" + id, BegunAt: at})
		})
}

// confirmedVoid returns the write that confirms the oldest pending void:
// the provider released all it reserved and let go of the hold.
func confirmedVoid(prev *authcapture.Authorization, key string) *authcapture.Write {
	pv := prev.PendingVoids[0]
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryVoid, VoidState: authcapture.ActionSucceeded,
		VoidID: pv.ID, Amount: pv.Amount, ProviderRef: pv.ProviderRef}, authcapture.EventVoided,
		func(a *authcapture.Authorization, at time.Time) {
			a.PendingVoids = a.PendingVoids[1:]
			if len(a.PendingVoids) == 0 {
				a.PendingVoids = nil
			}
			a.PendingVoid -= pv.Amount
			a.Voided += pv.Amount
			a.ReleasedBy = authcapture.CloseVoided
			if a.Closed() {
				a.ClosedAt = at
				a.CloseReason = authcapture.CloseVoided
				a.NextDue = time.Time{}
			}
		})
}

// voided returns the write that voids amount of what is open; voiding all
// of it closes the authorization and clears its due time.
func voided(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryVoid, Amount: amount, Reason: authcapture.ReasonRequestedByCustomer},
		authcapture.EventVoided, func(a *authcapture.Authorization, at time.Time) {
			a.Voided += amount
			if a.Closed() {
				a.ClosedAt = at
				a.CloseReason = authcapture.CloseVoided
				a.NextDue = time.Time{}
			}
		})
}

// build returns the write that moves prev to its next version: mutate
// changes the state, e is the one log entry and typ the one event. For the
// version 1 write, prev is the new authorization itself and mutate is nil.
func build(prev *authcapture.Authorization, key string, e authcapture.Entry, typ authcapture.EventType,
	mutate func(a *authcapture.Authorization, at time.Time)) *authcapture.Write {
	a := prev.Clone()
	if mutate != nil {
		a.Version++
	} else {
		a.Version = 1
	}
	at := epoch.Add(time.Duration(a.Version) * time.Minute)
	if mutate != nil {
		mutate(a, at)
	}
	a.PendingSince = pendingSince(a)
	a.Entries++
	e.Seq, e.Version, e.At, e.IdempotencyKey = a.Entries, a.Version, at, key
	a.Events++
	ev := authcapture.Event{
		MerchantID: a.MerchantID, AuthorizationID: a.ID, Seq: a.Events, Version: a.Version, Type: typ,
		At: at, EntrySeq: e.Seq, Amount: e.Amount, Open: a.Open(), Status: a.Status(),
		CaptureID: e.CaptureID, Reference: e.Reference, Reason: e.Reason,
		RefundID: e.RefundID, VoidID: e.VoidID, ProviderRef: e.ProviderRef, Refunded: a.Refunded, PendingRefund: a.PendingRefund,
	}
	if mutate != nil && a.Closed() && !prev.Closed() {
		ev.CloseReason = a.CloseReason
	}
	w := &authcapture.Write{Authorization: a, Entries: []authcapture.Entry{e}, Events: []authcapture.Event{ev}}
	if key != "" {
		w.Idempotency = &authcapture.IdempotencyRecord{
			MerchantID: a.MerchantID, Key: key, Op: "test_" + string(e.Kind), Fingerprint: fingerprintOf(key),
			AuthorizationID: a.ID, Version: a.Version, EntrySeq: e.Seq, CreatedAt: at,
		}
	}
	return w
}

// pendingSince is when the oldest action in flight of a began, as the
// Service sets Authorization.PendingSince; zero when none is.
func pendingSince(a *authcapture.Authorization) time.Time {
	var t time.Time
	for _, pc := range a.PendingCaptures {
		if t.IsZero() || pc.BegunAt.Before(t) {
			t = pc.BegunAt
		}
	}
	for _, pv := range a.PendingVoids {
		if t.IsZero() || pv.BegunAt.Before(t) {
			t = pv.BegunAt
		}
	}
	for _, pr := range a.PendingRefunds {
		if t.IsZero() || pr.BegunAt.Before(t) {
			t = pr.BegunAt
		}
	}
	if pc := a.PendingAmountChange; pc != nil && (t.IsZero() || pc.BegunAt.Before(t)) {
		t = pc.BegunAt
	}
	return t
}

// changeEvent sets the amount-change fields of w's event from its entry.
func changeEvent(w *authcapture.Write, before, after int64) *authcapture.Write {
	e, ev := w.Entries[0], &w.Events[0]
	ev.ChangeID, ev.ChangeForm, ev.Delta, ev.ProviderRef = e.ChangeID, e.ChangeForm, e.Delta, e.ProviderRef
	ev.PreviousAuthorized, ev.Authorized = before, after
	return w
}

// beganChange returns the write that begins a two-phase amount change of
// delta, asked for as a delta, with the provider's reference for it: a
// decrease reserves its amount.
func beganChange(prev *authcapture.Authorization, key string, delta int64) *authcapture.Write {
	id := fmt.Sprintf("chg-%d", prev.Version+1)
	total := prev.Authorized + delta
	return changeEvent(build(prev, key, authcapture.Entry{Kind: authcapture.EntryAmountChange, ChangeState: authcapture.ActionPending,
		ChangeID: id, ChangeForm: authcapture.AmountChangeDelta, Delta: delta, Total: total, Amount: max(delta, -delta),
		ProviderRef: "pchg_" + id}, authcapture.EventAmountChangePending,
		func(a *authcapture.Authorization, at time.Time) {
			a.AmountChangeAttempts++
			a.PendingDecrement += max(-delta, 0)
			a.PendingAmountChange = &authcapture.PendingAmountChange{ID: id, Form: authcapture.AmountChangeDelta, Delta: delta,
				Total: total, ProviderRef: "pchg_" + id, BegunAt: at}
		}), prev.Authorized, total)
}

// declinedChange returns the write that declines the pending amount
// change: a decrease's reservation returns to open.
func declinedChange(prev *authcapture.Authorization, key string) *authcapture.Write {
	pc := *prev.PendingAmountChange
	return changeEvent(build(prev, key, authcapture.Entry{Kind: authcapture.EntryAmountChange, ChangeState: authcapture.ActionFailed,
		ChangeID: pc.ID, ChangeForm: pc.Form, Delta: pc.Delta, Total: pc.Total, Amount: max(pc.Delta, -pc.Delta),
		ProviderRef: pc.ProviderRef, Reason: "issuer_declined"}, authcapture.EventAmountChangeDeclined,
		func(a *authcapture.Authorization, _ time.Time) {
			a.PendingDecrement -= max(-pc.Delta, 0)
			a.PendingAmountChange = nil
		}), prev.Authorized, pc.Total)
}

// changedAmount returns the write of a direct, approved amount change to
// total, asked for as the new total: an increase raises Requested with it.
func changedAmount(prev *authcapture.Authorization, key string, total int64) *authcapture.Write {
	id := fmt.Sprintf("chg-%d", prev.Version+1)
	delta := total - prev.Authorized
	return changeEvent(build(prev, key, authcapture.Entry{Kind: authcapture.EntryAmountChange, ChangeState: authcapture.ActionSucceeded,
		ChangeID: id, ChangeForm: authcapture.AmountChangeTotal, Delta: delta, Total: total, Amount: max(delta, -delta)},
		authcapture.EventAmountChanged,
		func(a *authcapture.Authorization, _ time.Time) {
			a.AmountChangeAttempts++
			a.AmountChanges++
			a.Authorized = total
			a.Requested = max(a.Requested, total)
		}), prev.Authorized, total)
}

func fingerprintOf(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mustWrite writes w and returns a private copy of the state it wrote.
func mustWrite(t *testing.T, s authcapture.Store, w *authcapture.Write) *authcapture.Authorization {
	t.Helper()
	require.NoError(t, s.Write(testContext(t), w), "write of %s/%s version %d",
		w.Authorization.MerchantID, w.Authorization.ID, w.Authorization.Version)
	return w.Authorization.Clone()
}

// openAuthorization writes a new authorization of merchant, approved in
// full with its hold lapsing at expires, and returns the stored state.
func openAuthorization(t *testing.T, s authcapture.Store, merchant, id string, expires time.Time) *authcapture.Authorization {
	t.Helper()
	a := mustWrite(t, s, created(merchant, id, ""))
	return mustWrite(t, s, authorized(a, "", expires))
}

// normAuth returns a copy of a that compares equal to any other copy of
// the same stored state: times in UTC without monotonic readings, empty
// maps and slices as nil.
func normAuth(a *authcapture.Authorization) authcapture.Authorization {
	c := *a.Clone()
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if len(c.PendingCaptures) == 0 {
		c.PendingCaptures = nil
	}
	utcTimes(&c)
	return c
}

// utcTimes sets every time.Time field of the struct p points to to the
// same instant in UTC, which also drops monotonic clock readings.
func utcTimes(p any) {
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		}
	}
}

// neverSet returns the names of the exported fields of T that are zero in
// every one of vs, but for those in except. A round trip of values that
// leave a field zero proves nothing about whether a store keeps it.
func neverSet[T any](vs []T, except ...string) []string {
	var out []string
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || slices.Contains(except, f.Name) {
			continue
		}
		set := false
		for _, v := range vs {
			if !reflect.ValueOf(v).Field(i).IsZero() {
				set = true
				break
			}
		}
		if !set {
			out = append(out, f.Name)
		}
	}
	return out
}

func normEntries(es []authcapture.Entry) []authcapture.Entry {
	out := slices.Clone(es)
	for i := range out {
		utcTimes(&out[i])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// normEvents is like normEntries; it also zeroes positions, which the
// store assigns and tests check on their own.
func normEvents(evs []authcapture.Event) []authcapture.Event {
	out := slices.Clone(evs)
	for i := range out {
		utcTimes(&out[i])
		out[i].Position = 0
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func normRecord(r *authcapture.IdempotencyRecord) authcapture.IdempotencyRecord {
	c := *r
	utcTimes(&c)
	return c
}

func normDue(refs []authcapture.DueRef) []authcapture.DueRef {
	out := slices.Clone(refs)
	for i := range out {
		utcTimes(&out[i])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// allEvents returns every event of merchant, paging through the cursor.
func allEvents(t *testing.T, s authcapture.Store, merchant string) []authcapture.Event {
	t.Helper()
	var out []authcapture.Event
	var after int64
	for {
		page, err := s.Events(testContext(t), merchant, after, 1000)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

// eventsOf returns the events of one authorization, in position order.
func eventsOf(t *testing.T, s authcapture.Store, merchant, id string) []authcapture.Event {
	t.Helper()
	var out []authcapture.Event
	for _, ev := range allEvents(t, s, merchant) {
		if ev.AuthorizationID == id {
			out = append(out, ev)
		}
	}
	return out
}

// stored is everything a store holds about one authorization and its
// merchant, for checking that a failed write changed nothing.
type stored struct {
	Auth    *authcapture.Authorization
	Missing bool
	Entries []authcapture.Entry
	Events  []authcapture.Event
	Due     []authcapture.DueRef
}

func snapshot(t *testing.T, s authcapture.Store, merchant, id string) stored {
	t.Helper()
	ctx := testContext(t)
	var st stored
	a, err := s.Get(ctx, merchant, id)
	if err != nil {
		require.ErrorIs(t, err, authcapture.ErrNotFound)
		st.Missing = true
	} else {
		n := normAuth(a)
		st.Auth = &n
		es, err := s.Entries(ctx, merchant, id, 0, 0)
		require.NoError(t, err)
		st.Entries = normEntries(es)
	}
	evs := allEvents(t, s, merchant)
	st.Events = slices.Clone(evs) // positions included: nothing may be appended
	for i := range st.Events {
		utcTimes(&st.Events[i])
	}
	due, err := s.Due(ctx, epoch.Add(100*365*24*time.Hour), 1000)
	require.NoError(t, err)
	st.Due = normDue(due)
	return st
}

// finalCaptured returns the write of a final direct capture of amount: a
// capture entry and a void entry for the remainder, with an event each. It
// closes the authorization unless a capture is pending.
func finalCaptured(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	w := captured(prev, key, amount)
	a := w.Authorization
	rest := a.Open()
	a.Voided += rest
	if a.Closed() { // unless a capture is still pending
		a.ClosedAt = w.Entries[0].At
		a.CloseReason = authcapture.CloseFinalCapture
		a.NextDue = time.Time{}
	}
	w.Entries[0].Final = true
	a.Entries++
	w.Entries = append(w.Entries, authcapture.Entry{Seq: a.Entries, Version: a.Version, Kind: authcapture.EntryVoid,
		Amount: rest, At: w.Entries[0].At, IdempotencyKey: key, Reason: authcapture.ReasonFinalCapture})
	a.Events++
	w.Events = append(w.Events, authcapture.Event{MerchantID: a.MerchantID, AuthorizationID: a.ID, Seq: a.Events,
		Version: a.Version, Type: authcapture.EventVoided, At: w.Entries[0].At, EntrySeq: a.Entries, Amount: rest})
	for i := range w.Events {
		w.Events[i].Open, w.Events[i].Status = a.Open(), a.Status()
	}
	return w
}

// expired returns the write that applies the hold's expiry: the open
// remainder moves to expired and nothing is due any more. With a capture
// pending the authorization stays open.
func expired(prev *authcapture.Authorization) *authcapture.Write {
	return build(prev, "", authcapture.Entry{Kind: authcapture.EntryExpiry, Amount: prev.Open(), Reason: authcapture.ReasonExpired},
		authcapture.EventExpired, func(a *authcapture.Authorization, at time.Time) {
			a.Expired += a.Open()
			a.ExpiredAt = at
			a.NextDue = time.Time{}
			if a.Closed() {
				a.ClosedAt = at
				a.CloseReason = authcapture.CloseExpired
			}
		})
}

// writeLifecycle writes a realistic history of one authorization (create,
// authorize, begin a capture, capture, void part), each write under its own
// idempotency key, and returns the writes.
func writeLifecycle(t *testing.T, s authcapture.Store, merchant, id string) []*authcapture.Write {
	t.Helper()
	ws := []*authcapture.Write{created(merchant, id, id+"-create")}
	a := mustWrite(t, s, ws[0])
	next := func(w *authcapture.Write) {
		ws = append(ws, w)
		a = mustWrite(t, s, w)
	}
	next(authorized(a, id+"-authorize", epoch.Add(validity)))
	next(beganCapture(a, id+"-begin", 2500))
	next(captured(a, id+"-capture", 1000))
	next(voided(a, id+"-void", 500))
	return ws
}

// confirmed returns the write that confirms the oldest pending capture:
// its amount moves from pending to captured, which closes the
// authorization if nothing else is open or pending.
func confirmed(prev *authcapture.Authorization, key string) *authcapture.Write {
	pc := prev.PendingCaptures[0]
	return build(prev, key, authcapture.Entry{Kind: authcapture.EntryCapture, CaptureState: authcapture.CaptureSucceeded,
		CaptureID: pc.ID, Final: pc.Final, Amount: pc.Amount}, authcapture.EventCaptureSucceeded,
		func(a *authcapture.Authorization, at time.Time) {
			a.PendingCaptures = a.PendingCaptures[1:]
			a.Pending -= pc.Amount
			a.Captured += pc.Amount
			if a.Closed() {
				a.ClosedAt = at
				a.CloseReason = authcapture.CloseFinalCapture
				if a.HoldExpired() {
					a.CloseReason = authcapture.CloseExpired
				}
				a.NextDue = time.Time{}
			}
		})
}

// writeEveryField writes a history of one authorization that, between its
// writes, sets every field of the authorization, its entries, events and
// idempotency records: create, authorize an estimated hold with
// schedules, reauthorize, capture (after a failed scheduled attempt),
// refund part of it and begin a refund of more, begin a decrease of the
// hold and decline it, raise the hold, void part, begin a final capture, begin and
// confirm a two-phase void of part of the rest (which lets go of the hold),
// expire with the capture pending, confirm it. It calls after (if not nil) after each
// write, and returns the writes.
func writeEveryField(t *testing.T, s authcapture.Store, merchant, id string, after func(w *authcapture.Write)) []*authcapture.Write {
	t.Helper()
	var ws []*authcapture.Write
	var a *authcapture.Authorization
	next := func(w *authcapture.Write) {
		ws = append(ws, w)
		a = mustWrite(t, s, w)
		if after != nil {
			after(w)
		}
	}
	next(created(merchant, id, id+"-create"))
	w := authorized(a, id+"-authorize", epoch.Add(validity))
	sch := w.Authorization
	sch.CaptureMode, sch.CaptureDelay = authcapture.CaptureDelayed, 5*time.Minute
	sch.CancelMode, sch.CancelDelay = authcapture.CancelDelayed, time.Hour
	sch.ExpiryAction = authcapture.ExpiryRelease
	sch.CaptureAt, sch.CancelAt = sch.AuthorizedAt.Add(sch.CaptureDelay), sch.AuthorizedAt.Add(sch.CancelDelay)
	sch.NextDue = sch.CaptureAt
	sch.AuthorizationType = authcapture.AuthorizationEstimated
	next(w)
	next(reauthorized(a, id+"-reauthorize", a.ExpiresAt.Add(24*time.Hour), 48*time.Hour))
	w = captured(a, id+"-capture", 1000)
	w.Authorization.CaptureFailures = 1
	w.Authorization.CaptureAt, w.Authorization.CancelAt = time.Time{}, time.Time{}
	w.Authorization.NextDue = w.Authorization.ExpiresAt
	w.Authorization.RefundableUntil = w.Entries[0].At.Add(30 * 24 * time.Hour) // a policy with a 30-day RefundWindow
	next(w)
	next(refunded(a, id+"-refund", 300))
	next(beganRefund(a, id+"-begin-refund", w.Entries[0].CaptureID, 100))
	next(beganChange(a, id+"-begin-change", -200)) // a decrease of the hold in flight
	next(declinedChange(a, id+"-decline-change"))
	next(changedAmount(a, id+"-change", a.Authorized+500)) // an approved increase
	next(voided(a, id+"-void", 500))
	w = beganCapture(a, id+"-begin", 2500)
	w.Authorization.PendingCaptures[0].Final = true
	w.Authorization.PendingCaptures[0].ProviderRef = "pc_" + w.Authorization.PendingCaptures[0].ID
	w.Entries[0].Final = true
	w.Authorization.Overcaptured = 100 // the final capture takes beyond the hold
	w.Authorization.PendingCaptures[0].Amount += 100
	w.Authorization.Pending += 100
	w.Entries[0].Amount += 100
	next(w)
	next(beganVoid(a, id+"-begin-void", 1000))
	next(confirmedVoid(a, id+"-confirm-void"))
	next(expired(a))
	next(confirmed(a, id+"-confirm"))
	return ws
}
