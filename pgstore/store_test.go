package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestNewRejectsABadSchemaName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"1abc", "a-b", `a"b`, "a b", "a;drop", string(make([]byte, 64))} {
		_, err := pgstore.New(fakeDB{}, &pgstore.Options{Schema: name})
		if !errors.Is(err, authcapture.ErrInvalidArgument) {
			t.Errorf("schema %q: got %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := pgstore.New(nil, nil); !errors.Is(err, authcapture.ErrInvalidArgument) {
		t.Errorf("nil db: got %v, want ErrInvalidArgument", err)
	}
	s, err := pgstore.New(fakeDB{}, nil)
	if err != nil || s.Schema() != pgstore.DefaultSchema {
		t.Errorf("default schema: got %v, %v", s, err)
	}
}

// fakeDB satisfies DBTX for tests that never reach the database.
type fakeDB struct{ pgstore.DBTX }

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	var before []int64
	rows, _ := b.pool.Query(ctx, "SELECT version FROM "+b.schema+".schema_migrations ORDER BY version")
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		before = append(before, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(before) < 2 || before[0] != 0 || before[1] != 1 {
		t.Fatalf("schema_migrations after Migrate: %v, want the lock row 0 and version 1", before)
	}
	mustWrite(t, b.store, newWrite("m1", "a1", "k1"))
	if err := b.store.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n := b.count(t, "schema_migrations", ""); n != len(before) {
		t.Errorf("schema_migrations has %d rows after a second Migrate, want %d", n, len(before))
	}
	if _, err := b.store.Get(ctx, "m1", "a1"); err != nil {
		t.Errorf("Get after a second Migrate: %v", err)
	}
}

func TestMigrateConcurrentlyAppliesEachVersionOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	ctx := context.Background()
	schema := newSchemaName()
	t.Cleanup(func() { b.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := pgstore.New(b.pool, &pgstore.Options{Schema: schema})
			if err == nil {
				err = s.Migrate(ctx)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM "`+schema+`".schema_migrations WHERE version = 1`).Scan(&n); err != nil || n != 1 {
		t.Errorf("version 1 recorded %d times (%v), want once", n, err)
	}
}

func TestGetReturnsWhatWasWrittenExactly(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	w := newWrite("m1", "a1", "k1")
	a := w.Authorization
	a.Pending = 1250
	a.Captures = 1
	a.PendingCaptures = []authcapture.PendingCapture{{ID: "cap_1", Amount: 1250, Final: true}}
	a.ExpiredAt = time.Time{}
	a.ClosedAt = time.Time{}
	a.AuthorizedAt = epoch.Add(time.Nanosecond) // not a whole microsecond
	want := mustWrite(t, b.store, w)

	got, err := b.store.Get(ctx, "m1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, want)
	}
	if !got.AuthorizedAt.Equal(epoch.Add(time.Nanosecond)) {
		t.Errorf("AuthorizedAt %s lost its nanoseconds", got.AuthorizedAt)
	}
	// The result shares nothing with the store: changing it changes nothing.
	got.Metadata["order"] = "changed"
	got.PendingCaptures[0].Amount = 1
	again, _ := b.store.Get(ctx, "m1", "a1")
	if !reflect.DeepEqual(again, want) {
		t.Errorf("Get after changing an earlier result: %+v", again)
	}
}

func TestAuthorizationWithoutMetadataReadsBackNil(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	w := newWrite("m1", "a1", "")
	w.Authorization.Metadata = map[string]string{}
	mustWrite(t, b.store, w)
	got, err := b.store.Get(context.Background(), "m1", "a1")
	if err != nil || got.Metadata != nil {
		t.Errorf("Get: metadata %#v, %v; want nil", got.Metadata, err)
	}
}

func TestLedgerColumnsHoldExactAmountsInCurrencyUnits(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	for _, tc := range []struct {
		currency  authcapture.Currency
		requested int64
		captured  int64
		want      [2]string // requested, captured
	}{
		{"USD", 10000, 450, [2]string{"100.00", "4.50"}},
		{"JPY", 123456, 1, [2]string{"123456", "1"}},
		{"BHD", 1005, 5, [2]string{"1.005", "0.005"}},
		{"USD", authcapture.MaxMinorUnits, authcapture.MaxMinorUnits - 1, [2]string{"9999999999999.99", "9999999999999.98"}},
	} {
		id := fmt.Sprintf("a-%s-%d", tc.currency, tc.requested)
		w := newWrite("m1", id, "")
		a := w.Authorization
		a.Currency, a.Requested, a.Authorized, a.Captured = tc.currency, tc.requested, tc.requested, tc.captured
		mustWrite(t, b.store, w)
		var requested, authorized, captured, voided string
		err := b.pool.QueryRow(ctx, "SELECT requested::text, authorized::text, captured::text, voided::text FROM "+
			b.schema+".authorizations WHERE merchant_id = 'm1' AND id = $1", id).Scan(&requested, &authorized, &captured, &voided)
		if err != nil {
			t.Fatal(err)
		}
		zero := tc.currency.Format(0)
		if requested != tc.want[0] || authorized != tc.want[0] || captured != tc.want[1] || voided != zero {
			t.Errorf("%s: columns %s %s %s %s, want %s %s %s %s", tc.currency, requested, authorized, captured, voided,
				tc.want[0], tc.want[0], tc.want[1], zero)
		}
		if captured != tc.currency.Format(tc.captured) {
			t.Errorf("%s: captured %s, Format gives %s", tc.currency, captured, tc.currency.Format(tc.captured))
		}
		// And back to minor units through the currency.
		back, err := authcapture.ParseAmount(captured, tc.currency)
		if err != nil || back != tc.captured {
			t.Errorf("%s: %s parses back to %d (%v), want %d", tc.currency, captured, back, err, tc.captured)
		}
	}
}

func TestStatusColumnIsTheDerivedStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	a := mustWrite(t, b.store, newWrite("m1", "a1", ""))
	a = mustWrite(t, b.store, captureWrite(a, "c1", 100))
	var status string
	if err := b.pool.QueryRow(context.Background(), "SELECT status FROM "+b.schema+".authorizations WHERE id = 'a1'").Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != string(authcapture.StatusPartiallyCaptured) || status != string(a.Status()) {
		t.Errorf("status column %q, want %q", status, a.Status())
	}
}

func TestWriteChecksTheVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	v1 := mustWrite(t, b.store, newWrite("m1", "a1", "k1"))

	if err := b.store.Write(ctx, newWrite("m1", "a1", "k-again")); !errors.Is(err, authcapture.ErrAlreadyExists) {
		t.Errorf("second version 1 write: %v, want ErrAlreadyExists", err)
	}
	v2 := mustWrite(t, b.store, captureWrite(v1, "c1", 100))
	if err := b.store.Write(ctx, captureWrite(v1, "c2", 200)); !errors.Is(err, authcapture.ErrVersionConflict) {
		t.Errorf("write from a stale version: %v, want ErrVersionConflict", err)
	}
	ghost := v1.Clone()
	ghost.ID = "ghost"
	w := captureWrite(ghost, "c3", 100)
	for i := range w.Events {
		w.Events[i].AuthorizationID = "ghost"
	}
	if err := b.store.Write(ctx, w); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("update of a missing authorization: %v, want ErrNotFound", err)
	}
	got, _ := b.store.Get(ctx, "m1", "a1")
	if got.Version != v2.Version || got.Captured != 100 {
		t.Errorf("after rejected writes: version %d captured %d, want %d and 100", got.Version, got.Captured, v2.Version)
	}
	for table, want := range map[string]int{"entries": 2, "events": 2, "idempotency_keys": 2} {
		if n := b.count(t, table, ""); n != want {
			t.Errorf("%s has %d rows after rejected writes, want %d", table, n, want)
		}
	}
	if _, err := b.store.Idempotency(ctx, "m1", "c2"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("key of a rejected write: %v, want ErrNotFound", err)
	}
}

func TestWriteWithARecordedKeyLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	v1 := mustWrite(t, b.store, newWrite("m1", "a1", "k1"))
	v2 := mustWrite(t, b.store, captureWrite(v1, "c1", 100))

	err := b.store.Write(ctx, captureWrite(v2, "c1", 300))
	if !errors.Is(err, authcapture.ErrIdempotencyKeyExists) {
		t.Fatalf("write with a recorded key: %v, want ErrIdempotencyKeyExists", err)
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "23505" {
		t.Errorf("the driver's error is not reachable: %v", err)
	}
	// A new authorization under a recorded key is not created either.
	if err := b.store.Write(ctx, newWrite("m1", "a2", "k1")); !errors.Is(err, authcapture.ErrIdempotencyKeyExists) {
		t.Errorf("create with a recorded key: %v, want ErrIdempotencyKeyExists", err)
	}
	if _, err := b.store.Get(ctx, "m1", "a2"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("authorization of a rejected create: %v, want ErrNotFound", err)
	}
	got, _ := b.store.Get(ctx, "m1", "a1")
	if got.Version != 2 || got.Captured != 100 {
		t.Errorf("after the rejected write: version %d captured %d, want 2 and 100", got.Version, got.Captured)
	}
	for table, want := range map[string]int{"entries": 2, "events": 2, "idempotency_keys": 2} {
		if n := b.count(t, table, ""); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
	rec, err := b.store.Idempotency(ctx, "m1", "c1")
	if err != nil || !reflect.DeepEqual(rec, captureWrite(v1, "c1", 100).Idempotency) {
		t.Errorf("Idempotency: %+v, %v; want the original record", rec, err)
	}
}

func TestWriteRejectsALogThatDoesNotContinue(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	v1 := mustWrite(t, b.store, newWrite("m1", "a1", ""))
	w := captureWrite(v1, "c1", 100)
	w.Entries[0].Seq = 3 // a gap
	if err := b.store.Write(ctx, w); !errors.Is(err, authcapture.ErrInvalidArgument) {
		t.Errorf("entry after a gap: %v, want ErrInvalidArgument", err)
	}
	w = captureWrite(v1, "c1", 100)
	w.Entries[0].Seq = 1 // already in the log
	if err := b.store.Write(ctx, w); !errors.Is(err, authcapture.ErrInvalidArgument) {
		t.Errorf("entry seq already in the log: %v, want ErrInvalidArgument", err)
	}
	if n := b.count(t, "entries", ""); n != 1 {
		t.Errorf("entries has %d rows, want 1", n)
	}
}

// Every ledger is >= 0, the ledgers taken from the authorized amount never
// exceed it, and it never exceeds the requested amount.
func TestCheckConstraintsBackTheInvariants(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	v1 := mustWrite(t, b.store, newWrite("m1", "a1", ""))
	const (
		nonnegative = "authorizations_ledgers_nonnegative"
		within      = "authorizations_ledgers_within_authorized"
		requested   = "authorizations_authorized_within_requested"
		newer       = "authorizations_new_ledgers_nonnegative"
		refunds     = "authorizations_refunds_within_captured"
	)
	for _, tc := range []struct {
		name        string
		constraints []string // the ones it breaks: PostgreSQL reports one
		change      func(a *authcapture.Authorization)
	}{
		{"captured over authorized", []string{within}, func(a *authcapture.Authorization) { a.Captured = a.Authorized + 1 }},
		{"ledgers together over authorized", []string{within}, func(a *authcapture.Authorization) { a.Pending, a.Voided, a.Expired = 1, 1, a.Authorized-2 }},
		{"authorized over requested", []string{requested}, func(a *authcapture.Authorization) { a.Authorized = a.Requested + 1 }},
		{"negative requested", []string{nonnegative, requested}, func(a *authcapture.Authorization) { a.Requested = -1 }},
		{"negative authorized", []string{nonnegative, within}, func(a *authcapture.Authorization) { a.Authorized = -1 }},
		{"negative captured", []string{nonnegative}, func(a *authcapture.Authorization) { a.Captured = -1 }},
		{"negative pending", []string{nonnegative}, func(a *authcapture.Authorization) { a.Pending = -1 }},
		{"negative voided", []string{nonnegative}, func(a *authcapture.Authorization) { a.Voided = -1 }},
		{"negative expired", []string{nonnegative}, func(a *authcapture.Authorization) { a.Expired = -1 }},
		{"pending void over authorized", []string{within}, func(a *authcapture.Authorization) { a.PendingVoid = a.Authorized }},
		{"pending decrement over authorized", []string{within}, func(a *authcapture.Authorization) { a.PendingDecrement = a.Authorized }},
		{"captured over authorized and overcaptured", []string{within}, func(a *authcapture.Authorization) {
			a.Overcaptured = 5
			a.Captured = a.Authorized + 6
		}},
		{"refunds over captured", []string{refunds}, func(a *authcapture.Authorization) { a.Refunded, a.PendingRefund = a.Captured, 1 }},
		{"negative pending void", []string{newer}, func(a *authcapture.Authorization) { a.PendingVoid = -1 }},
		{"negative pending decrement", []string{newer}, func(a *authcapture.Authorization) { a.PendingDecrement = -1 }},
		{"negative overcaptured", []string{newer, within}, func(a *authcapture.Authorization) { a.Overcaptured = -1 }},
		{"negative refunded", []string{newer}, func(a *authcapture.Authorization) { a.Refunded = -1 }},
		{"negative pending refund", []string{newer}, func(a *authcapture.Authorization) { a.PendingRefund = -1 }},
	} {
		w := captureWrite(v1, "", 1)
		tc.change(w.Authorization)
		err := b.store.Write(ctx, w)
		var pg *pgconn.PgError
		if !errors.Is(err, authcapture.ErrInvalidArgument) || !errors.As(err, &pg) || !slices.Contains(tc.constraints, pg.ConstraintName) {
			t.Errorf("%s: got %v, want ErrInvalidArgument from %v", tc.name, err, tc.constraints)
		}
	}
	// At the bounds the write is accepted.
	w := captureWrite(v1, "", 1)
	a := w.Authorization
	a.Captured, a.Pending, a.Voided, a.Expired = a.Authorized-3, 1, 1, 1
	a.Overcaptured, a.PendingVoid, a.PendingDecrement = 2, 1, 1 // an overcapture makes room for them
	a.Refunded, a.PendingRefund = a.Captured-1, 1
	mustWrite(t, b.store, w)
	got, _ := b.store.Get(ctx, "m1", "a1")
	if got.Version != 2 {
		t.Errorf("version %d after rejected writes and one accepted, want 2", got.Version)
	}
}

func TestMerchantsAreIsolated(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	a1 := mustWrite(t, b.store, newWrite("m1", "same", "key"))
	a2 := mustWrite(t, b.store, newWrite("m2", "same", "key")) // same ID and key, other merchant
	mustWrite(t, b.store, captureWrite(a1, "c1", 100))
	mustWrite(t, b.store, newWrite("m1", "only-m1", "k-only"))

	got2, err := b.store.Get(ctx, "m2", "same")
	if err != nil || got2.Captured != 0 || got2.Version != a2.Version {
		t.Errorf("m2's authorization: %+v, %v", got2, err)
	}
	if _, err := b.store.Get(ctx, "m2", "only-m1"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Get of another merchant's authorization: %v, want ErrNotFound", err)
	}
	if _, err := b.store.Entries(ctx, "m2", "only-m1", 0, 0); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Entries of another merchant's authorization: %v, want ErrNotFound", err)
	}
	if _, err := b.store.Idempotency(ctx, "m2", "k-only"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Idempotency of another merchant's key: %v, want ErrNotFound", err)
	}
	// An update naming m2 cannot touch m1's authorization.
	onlyM1, _ := b.store.Get(ctx, "m1", "only-m1")
	w := captureWrite(onlyM1, "c9", 1)
	w.Authorization.MerchantID = "m2"
	for i := range w.Events {
		w.Events[i].MerchantID = "m2"
	}
	w.Idempotency.MerchantID = "m2"
	if err := b.store.Write(ctx, w); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("write of m2 to m1's authorization: %v, want ErrNotFound", err)
	}
	evs, err := b.store.Events(ctx, "m2", 0, 100)
	if err != nil || len(evs) != 1 || evs[0].MerchantID != "m2" {
		t.Errorf("m2's events: %+v, %v; want its one event", evs, err)
	}
	evs, _ = b.store.Events(ctx, "m1", 0, 100)
	if len(evs) != 3 {
		t.Errorf("m1 has %d events, want 3", len(evs))
	}
	for _, e := range evs {
		if e.MerchantID != "m1" {
			t.Errorf("m1's events include %+v", e)
		}
	}
}

func TestWriteRejectsRecordsOfAnotherMerchant(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	w := newWrite("m1", "a1", "k1")
	w.Idempotency.MerchantID = "m2"
	if err := b.store.Write(context.Background(), w); !errors.Is(err, authcapture.ErrInvalidArgument) {
		t.Errorf("idempotency record of another merchant: %v, want ErrInvalidArgument", err)
	}
	w = newWrite("m1", "a1", "k1")
	w.Events[0].MerchantID = "m2"
	if err := b.store.Write(context.Background(), w); !errors.Is(err, authcapture.ErrInvalidArgument) {
		t.Errorf("event of another merchant: %v, want ErrInvalidArgument", err)
	}
	if n := b.count(t, "authorizations", ""); n != 0 {
		t.Errorf("%d authorizations after rejected writes", n)
	}
}

func TestEntriesPage(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	a := mustWrite(t, b.store, newWrite("m1", "a1", ""))
	for i := range 9 {
		a = mustWrite(t, b.store, captureWrite(a, fmt.Sprintf("c%d", i), 10))
	}
	// A write with three entries at once.
	w := captureWrite(a, "multi", 10)
	for i := range 2 {
		w.Authorization.Entries++
		w.Entries = append(w.Entries, authcapture.Entry{Seq: w.Authorization.Entries, Version: w.Authorization.Version,
			Kind: authcapture.EntryVoid, Amount: int64(i + 1), At: epoch, Reason: authcapture.ReasonRequestedByCustomer})
		w.Authorization.Voided += int64(i + 1)
	}
	mustWrite(t, b.store, w)

	all, err := b.store.Entries(ctx, "m1", "a1", 0, 0)
	if err != nil || len(all) != 13 {
		t.Fatalf("all entries: %d, %v; want 13", len(all), err)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	if !reflect.DeepEqual(all[12], w.Entries[2]) {
		t.Errorf("last entry %+v, want %+v", all[12], w.Entries[2])
	}
	var paged []authcapture.Entry
	for after := int64(0); ; {
		page, err := b.store.Entries(ctx, "m1", "a1", after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 5 {
			t.Fatalf("page of %d entries with limit 5", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if !reflect.DeepEqual(paged, all) {
		t.Errorf("paging returned %d entries, different from all", len(paged))
	}
	one, err := b.store.Entries(ctx, "m1", "a1", 6, 1)
	if err != nil || len(one) != 1 || one[0].Seq != 7 {
		t.Errorf("Entries(after 6, limit 1): %+v, %v", one, err)
	}
	none, err := b.store.Entries(ctx, "m1", "a1", 13, 0)
	if err != nil || len(none) != 0 {
		t.Errorf("Entries after the last: %+v, %v; want none", none, err)
	}
	if _, err := b.store.Entries(ctx, "m1", "missing", 0, 0); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Entries of a missing authorization: %v, want ErrNotFound", err)
	}
}

func TestDueReturnsTheEarliestFirstUpToLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	base := epoch.Truncate(time.Microsecond)
	dues := map[string]time.Time{
		"a-3": base.Add(3 * time.Second),
		"a-1": base.Add(1 * time.Second),
		"a-2": base.Add(2 * time.Second),
		// Two in the same microsecond, apart by nanoseconds.
		"a-4b": base.Add(4*time.Second + 700),
		"a-4a": base.Add(4*time.Second + 300),
		"a-5":  base.Add(5 * time.Second),
	}
	for id, due := range dues {
		w := newWrite("m1", id, "")
		w.Authorization.NextDue = due
		mustWrite(t, b.store, w)
	}
	closed := newWrite("m2", "closed", "")
	closed.Authorization.NextDue = time.Time{}
	mustWrite(t, b.store, closed)

	ids := func(refs []authcapture.DueRef) []string {
		var out []string
		for _, r := range refs {
			out = append(out, r.ID)
			if !r.DueAt.Equal(dues[r.ID]) || r.MerchantID != "m1" {
				t.Errorf("ref %+v, want due at %s", r, dues[r.ID])
			}
		}
		return out
	}
	for _, tc := range []struct {
		t     time.Time
		limit int
		want  []string
	}{
		{base, 10, nil},
		{base.Add(2 * time.Second), 10, []string{"a-1", "a-2"}},
		{base.Add(10 * time.Second), 3, []string{"a-1", "a-2", "a-3"}},
		{base.Add(4*time.Second + 299), 10, []string{"a-1", "a-2", "a-3"}},
		{base.Add(4*time.Second + 300), 10, []string{"a-1", "a-2", "a-3", "a-4a"}},
		{base.Add(4*time.Second + 999), 10, []string{"a-1", "a-2", "a-3", "a-4a", "a-4b"}},
		{base.Add(time.Hour), 100, []string{"a-1", "a-2", "a-3", "a-4a", "a-4b", "a-5"}},
		{base.Add(time.Hour), 0, nil},
	} {
		refs, err := b.store.Due(ctx, tc.t, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(refs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Due(%s, %d) = %v, want %v", tc.t.Sub(base), tc.limit, got, tc.want)
		}
	}
	// Closing one takes it out of the index.
	a1, _ := b.store.Get(ctx, "m1", "a-1")
	w := captureWrite(a1, "", 10)
	w.Authorization.NextDue = time.Time{}
	mustWrite(t, b.store, w)
	refs, _ := b.store.Due(ctx, base.Add(2*time.Second), 10)
	if got := ids(refs); !reflect.DeepEqual(got, []string{"a-2"}) {
		t.Errorf("Due after clearing a-1: %v, want [a-2]", got)
	}
}

func TestDueReadsThePartialIndex(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN SELECT merchant_id, id, next_due, next_due_ns FROM `+b.schema+`.authorizations
WHERE next_due IS NOT NULL AND (next_due, next_due_ns) <= ($1, $2) ORDER BY next_due, next_due_ns LIMIT $3`,
		epoch, int32(0), int64(10))
	if err != nil {
		t.Fatal(err)
	}
	plan := ""
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan += line + "\n"
	}
	if !containsAll(plan, "authorizations_next_due", "Index") || containsAll(plan, "Sort") {
		t.Errorf("the due query does not read the due index in order:\n%s", plan)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestCanceledContextIsReported(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.store.Get(ctx, "m1", "a1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v", err)
	}
	if err := b.store.Write(ctx, newWrite("m1", "a1", "")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a canceled context: %v", err)
	}
	if _, err := b.store.Events(ctx, "m1", 0, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("Events with a canceled context: %v", err)
	}
}

// Every field of Authorization, including any added after this store was
// written, survives a write and a read: the state column holds them all.
func TestEveryAuthorizationFieldRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	w := newWrite("m1", "a1", "")
	a := w.Authorization
	fillNonZero(t, reflect.ValueOf(a).Elem(), "Authorization")
	a.ID, a.MerchantID, a.Version, a.Currency = "a1", "m1", 1, "USD"
	a.Entries = int64(len(w.Entries)) // the write's entries are the whole log
	a.Requested, a.Authorized, a.Captured, a.Pending, a.Voided, a.Expired = 100, 90, 10, 20, 30, 5
	a.PendingVoid, a.PendingDecrement, a.Overcaptured, a.Refunded, a.PendingRefund = 4, 3, 2, 6, 1
	got := mustWrite(t, b.store, w)
	read, err := b.store.Get(context.Background(), "m1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, got) {
		t.Errorf("Get:\n got %+v\nwant %+v", read, got)
	}
}

// fillNonZero sets every exported field reachable from v to a value other
// than its zero value.
func fillNonZero(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(epoch.Add(time.Duration(len(path)) * time.Nanosecond)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillNonZero(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.String:
		v.SetString("x" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(len(path)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillNonZero(t, k, path+"[key]")
		fillNonZero(t, e, path+"[value]")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillNonZero(t, s.Index(0), path+"[0]")
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillNonZero(t, p.Elem(), path)
		v.Set(p)
	default:
		t.Fatalf("%s: fillNonZero does not know %s; teach it", path, v.Kind())
	}
}

// Under WithTx a lock is a savepoint of the caller's transaction: its
// write commits or rolls back with that transaction, and a released lock
// leaves the transaction usable.
func TestLockInsideTheCallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t, 4)
	ctx := context.Background()
	a := mustWrite(t, b.store, newWrite("m1", "a1", ""))
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, commit := range []bool{false, true} {
		tx, err := b.pool.Begin(ctx)
		must("begin", err)
		store := b.store.WithTx(tx)
		_, lock, err := store.Lock(ctx, "m1", "a1")
		must("lock", err)
		must("release", lock.Release(ctx))
		_, err = tx.Exec(ctx, "SELECT 1")
		must("a statement after the release", err)

		got, lock, err := store.Lock(ctx, "m1", "a1")
		must("lock again", err)
		w := captureWrite(got, fmt.Sprintf("k-%v", commit), 100)
		must("locked write", lock.Write(ctx, w))
		if commit {
			must("commit", tx.Commit(ctx))
			a = w.Authorization
		} else {
			must("rollback", tx.Rollback(ctx))
		}
		stored, err := b.store.Get(ctx, "m1", "a1")
		must("get", err)
		if stored.Version != a.Version || stored.Captured != a.Captured {
			t.Errorf("commit %v: stored version %d captured %d, want %d and %d",
				commit, stored.Version, stored.Captured, a.Version, a.Captured)
		}
	}
}
