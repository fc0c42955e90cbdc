package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/pgstore"
)

// 10,000 expired idempotency records are pruned in batches of 1,000 while
// 1,000 younger ones stay; each statement finds its batch through the
// index on created_at and is short.
func TestPruneIdempotencyInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	cutoff := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	// 10,000 records in the hour before the cutoff, 1,000 in the hour after.
	if _, err := b.pool.Exec(ctx, `INSERT INTO `+b.schema+`.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
SELECT 'm' || (i % 7), 'key-' || i, 'a' || i, $1::timestamptz + (i - 10000) * interval '360 milliseconds', '{}'::json
FROM generate_series(0, 10999) AS i`, cutoff); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `ANALYZE `+b.schema+`.idempotency_keys`); err != nil {
		t.Fatal(err)
	}

	checkPlans(t, b, b.store.PruneStatement("idempotency"), "idempotency_keys_created_at", "idempotency_keys_pkey",
		"timestamptz, bigint", "'2030-01-02', 1000")
	var total, calls int
	var longest time.Duration
	for {
		start := time.Now()
		n, err := b.store.PruneIdempotency(ctx, cutoff, 1000)
		if d := time.Since(start); d > longest {
			longest = d
		}
		if err != nil {
			t.Fatal(err)
		}
		calls++
		total += n
		if n < 1000 {
			break
		}
	}
	t.Logf("pruned %d records in %d statements of up to 1,000; longest statement %v", total, calls, longest)
	if total != 10000 || calls != 11 {
		t.Errorf("pruned %d records in %d statements, want 10000 in 11 (10 full batches and an empty one)", total, calls)
	}
	var left int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM `+b.schema+`.idempotency_keys WHERE created_at >= $1`, cutoff).Scan(&left); err != nil {
		t.Fatal(err)
	}
	var all int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM `+b.schema+`.idempotency_keys`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	if left != 1000 || all != 1000 {
		t.Errorf("%d records left, %d of them at or after the cutoff; want the 1,000 younger ones", all, left)
	}
}

// Service.Prune over pgstore deletes the expired records and the read
// events below the relay's position, and the Service goes on working.
func TestServicePrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	clock := clocktest.New(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Amount: usd("10.00"), Currency: "USD", IdempotencyKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := svc.AllEvents(ctx, 0, 100)
	if err != nil || len(evs) != 3 {
		t.Fatalf("AllEvents: %d events, %v", len(evs), err)
	}
	clock.Advance(authcapture.DefaultEventRetention + time.Hour)
	res, err := svc.Prune(ctx, authcapture.PruneRequest{KeepEventsFrom: evs[1].Position + 1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res != (authcapture.PruneResult{Idempotency: 3, Events: 2}) {
		t.Errorf("Prune = %+v, want 3 records and the 2 events the relay read", res)
	}
	left, err := svc.AllEvents(ctx, 0, 100)
	if err != nil || len(left) != 1 || left[0].Position != evs[2].Position {
		t.Errorf("AllEvents after Prune: %v, %v; want the event the relay has not read", left, err)
	}
}

// PruneAuthorizations finds its batch through the partial index on
// closed_at (migration 007), not by reading the table.
func TestPruneAuthorizationsReadsTheClosedAtIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	cutoff := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	// 20,000 rows, one in ten closed: the closed ones an hour apart
	// around the cutoff.
	if _, err := b.pool.Exec(ctx, `INSERT INTO `+b.schema+`.authorizations (merchant_id, id, version, status, currency,
	requested, authorized, captured, pending, voided, expired, entries, created_at, state, closed_at)
SELECT 'm' || (i % 7), 'a' || i, 2, 'voided', 'USD', 100, 100, 0, 0, 100, 0, 0, $1::timestamptz, '{}'::json,
	CASE WHEN i % 10 = 0 THEN $1::timestamptz + (i - 10000) * interval '1 hour' END
FROM generate_series(0, 19999) AS i`, cutoff); err != nil {
		t.Fatal(err)
	}
	// Two entries each, each with a key and the second with a provider
	// reference.
	for _, sql := range []string{
		`INSERT INTO ` + b.schema + `.entries (merchant_id, authorization_id, seq, entry)
SELECT 'm' || (i % 7), 'a' || i, s, json_build_object('IdempotencyKey', 'k-' || i || '-' || s,
	'ProviderRef', CASE WHEN s = 2 THEN 'ref-' || i END)
FROM generate_series(0, 19999) AS i, generate_series(1, 2) AS s`,
		`INSERT INTO ` + b.schema + `.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
SELECT 'm' || (i % 7), 'k-' || i || '-' || s, 'a' || i, now(), '{}'::json
FROM generate_series(0, 19999) AS i, generate_series(1, 2) AS s`,
		`INSERT INTO ` + b.schema + `.provider_refs (merchant_id, provider_ref, authorization_id)
SELECT 'm' || (i % 7), 'ref-' || i, 'a' || i FROM generate_series(0, 19999) AS i`,
		`ANALYZE ` + b.schema + `.authorizations`,
		`ANALYZE ` + b.schema + `.entries`,
		`ANALYZE ` + b.schema + `.idempotency_keys`,
		`ANALYZE ` + b.schema + `.provider_refs`,
	} {
		if _, err := b.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	checkPlans(t, b, b.store.PruneStatement("authorizations"), "authorizations_closed_at", "authorizations_pkey",
		"timestamptz, bigint", "'2030-01-02', 1000")
	// The logs, references and records, each through its primary key.
	for _, pkey := range []string{"provider_refs_pkey", "idempotency_keys_pkey"} {
		checkPlans(t, b, b.store.PruneStatement("authorization rows"), "entries_pkey", pkey,
			"text[], text[]", "ARRAY['m0', 'm3'], ARRAY['a0', 'a10']")
	}
	var total, calls int
	for {
		n, err := b.store.PruneAuthorizations(ctx, cutoff, 300)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		total += n
		if n < 300 {
			break
		}
	}
	if total != 1000 || calls != 4 {
		t.Errorf("pruned %d authorizations in %d calls of up to 300, want 1000 in 4", total, calls)
	}
	if n := b.count(t, "authorizations", ""); n != 19000 {
		t.Errorf("%d rows left, want 19,000", n)
	}
	if n := b.count(t, "entries", "") + b.count(t, "idempotency_keys", "") + b.count(t, "provider_refs", ""); n != 5*19000 {
		t.Errorf("%d entries, records and references left, want the 95,000 of the 19,000 left", n)
	}
}

// Migration 007 sets closed_at on the authorizations already closed with
// nothing in flight, so that they are pruned like those closed after it:
// by the later of ClosedAt and RefundableUntil.
func TestMigration007IndexesTheAuthorizationsAlreadyClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	closed := mustWrite(t, b.store, newWrite("m1", "closed", "k1"))
	c := closed.Clone()
	c.Voided = c.Authorized
	c.ClosedAt, c.CloseReason, c.NextDue = epoch.Add(time.Hour), authcapture.CloseVoided, time.Time{}
	mustWrite(t, b.store, next(closed, c, "k2", authcapture.Entry{Kind: authcapture.EntryVoid, Amount: c.Voided}, authcapture.EventVoided))
	mustWrite(t, b.store, newWrite("m1", "open", "k3"))
	refundable := mustWrite(t, b.store, newWrite("m1", "refundable", "k4"))
	r := refundable.Clone()
	r.Voided = r.Authorized
	r.ClosedAt, r.CloseReason, r.NextDue = epoch.Add(time.Hour), authcapture.CloseVoided, time.Time{}
	r.RefundableUntil = epoch.Add(3 * time.Hour)
	mustWrite(t, b.store, next(refundable, r, "k5", authcapture.Entry{Kind: authcapture.EntryVoid, Amount: r.Voided}, authcapture.EventVoided))
	// As before migration 007.
	if _, err := b.pool.Exec(ctx, `UPDATE `+b.schema+`.authorizations SET closed_at = NULL`); err != nil {
		t.Fatal(err)
	}
	ms, err := pgstore.Migrations(strings.Trim(b.schema, `"`))
	if err != nil {
		t.Fatal(err)
	}
	var sql string
	for _, m := range ms {
		if m.Version == 7 {
			sql = m.SQL
		}
	}
	if _, err := b.pool.Exec(ctx, sql); err != nil {
		t.Fatalf("migration 007 again: %v", err)
	}
	if n := b.count(t, "authorizations", "closed_at IS NOT NULL"); n != 2 {
		t.Errorf("%d rows with closed_at after migration 007, want the 2 closed", n)
	}
	n, err := b.store.PruneAuthorizations(ctx, epoch.Add(2*time.Hour), 10)
	if err != nil || n != 1 {
		t.Fatalf("PruneAuthorizations = %d, %v; want the closed one", n, err)
	}
	if _, err := b.store.Get(ctx, "m1", "closed"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Get of the pruned one: %v, want ErrNotFound", err)
	}
	if n := b.count(t, "entries", "authorization_id = 'closed'") + b.count(t, "idempotency_keys", "authorization_id = 'closed'"); n != 0 {
		t.Errorf("%d entries and records of the pruned one left", n)
	}
	if _, err := b.store.Get(ctx, "m1", "refundable"); err != nil {
		t.Errorf("Get of the one refundable until after the cutoff: %v, want it kept", err)
	}
	if n, err := b.store.PruneAuthorizations(ctx, epoch.Add(4*time.Hour), 10); err != nil || n != 1 {
		t.Errorf("PruneAuthorizations after its refund window = %d, %v; want it deleted", n, err)
	}
}

// Service.Prune over pgstore deletes an authorization closed for longer
// than the AuthorizationRetention with its rows in every table but the
// outbox.
func TestServicePruneAuthorizations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	clock := clocktest.New(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(b.store, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2"} {
		if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Amount: usd("10.00"), Currency: "USD", IdempotencyKey: "c-" + id}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: usd("10.00"), IdempotencyKey: "a-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a1", All: true, ProviderRef: "ch_1", IdempotencyKey: "cap-a1"}); err != nil {
		t.Fatal(err)
	}
	events := b.count(t, "events", "")
	// Longer than every preset's RefundWindow.
	clock.Advance(201 * 24 * time.Hour)
	res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: 200 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// a2 is open (and expired by now once read): it stays.
	if res.Authorizations != 1 {
		t.Errorf("Prune = %+v, want the closed authorization", res)
	}
	for table, where := range map[string]string{"authorizations": "id = 'a1'", "entries": "authorization_id = 'a1'",
		"idempotency_keys": "authorization_id = 'a1'", "provider_refs": "authorization_id = 'a1'"} {
		if n := b.count(t, table, where); n != 0 {
			t.Errorf("%d rows of a1 left in %s", n, table)
		}
	}
	// The Service's cache still held a1: a command finds it gone.
	if _, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "a1", All: true, IdempotencyKey: "v-a1"}); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("a void of the pruned authorization: %v, want ErrNotFound", err)
	}
	if _, err := svc.Get(ctx, "m1", "a1"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("Get of the pruned authorization: %v, want ErrNotFound", err)
	}
	if n := b.count(t, "authorizations", "id = 'a2'"); n != 1 {
		t.Errorf("the open authorization: %d rows, want 1", n)
	}
	if n := b.count(t, "events", ""); n != events {
		t.Errorf("%d events left, want all %d: they follow their own retention", n, events)
	}
	// Its ID is not used again while its events are kept: a create under
	// it is refused as an authorization that exists, not retried as a
	// version conflict.
	_, err = svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "a1", Amount: usd("10.00"), Currency: "USD",
		IdempotencyKey: "c-a1-again"})
	if !errors.Is(err, authcapture.ErrAlreadyExists) {
		t.Errorf("a create under the pruned authorization's ID: %v, want ErrAlreadyExists", err)
	}
}

// checkPlans checks the plans PostgreSQL makes for sql, a batch statement
// whose parameters have the SQL types types, run with the SQL literals
// args: planned for those values, as a one-off statement is, and planned
// for any values, as a prepared statement may be after a few runs. Each
// must find its batch through the index index, read once, and its rows
// through the primary key pkey, and read no table whole.
func checkPlans(t *testing.T, b *bundle, sql, index, pkey, types, args string) {
	t.Helper()
	ctx := context.Background()
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "PREPARE batch ("+types+") AS "+sql); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, "DEALLOCATE batch; RESET plan_cache_mode") //nolint:errcheck // the connection is released either way
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, "EXPLAIN EXECUTE batch("+args+")")
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		// The index is read once, for the batch: a second read of it (a
		// hash join on what it finds) costs every row it finds.
		if strings.Count(plan, "using "+index) != 1 || !strings.Contains(plan, "using "+pkey) || strings.Contains(plan, "Seq Scan") ||
			strings.Contains(plan, "Bitmap") {
			t.Errorf("%s: the batch is not read through %s and its rows through %s:\n%s", mode, index, pkey, plan)
		}
	}
}

// Two pruners at once share the closed authorizations between them
// without waiting on each other's rows or deleting one twice, while a
// writer captures from open ones.
func TestPruneAuthorizationsConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 8)
	const closed = 2000
	at := epoch.Add(-time.Hour)
	for _, sql := range []string{
		`INSERT INTO ` + b.schema + `.authorizations (merchant_id, id, version, status, currency,
	requested, authorized, captured, pending, voided, expired, entries, created_at, state, closed_at)
SELECT 'm1', 'c' || i, 2, 'voided', 'USD', 100, 100, 0, 0, 100, 0, 2, $1::timestamptz, '{}'::json,
	$1::timestamptz + i * interval '1 millisecond'
FROM generate_series(1, $2::int) AS i`,
		`INSERT INTO ` + b.schema + `.entries (merchant_id, authorization_id, seq, entry)
SELECT 'm1', 'c' || i, s, json_build_object('Seq', s, 'IdempotencyKey', 'k-' || i || '-' || s)
FROM generate_series(1, $2::int) AS i, generate_series(1, 2) AS s WHERE $1::timestamptz IS NOT NULL`,
		`INSERT INTO ` + b.schema + `.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
SELECT 'm1', 'k-' || i || '-' || s, 'c' || i, $1::timestamptz, '{}'::json
FROM generate_series(1, $2::int) AS i, generate_series(1, 2) AS s`,
	} {
		if _, err := b.pool.Exec(ctx, sql, at, closed); err != nil {
			t.Fatal(err)
		}
	}
	open := mustWrite(t, b.store, newWrite("m1", "open", ""))

	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 3)
	for p := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := b.store.PruneAuthorizations(ctx, epoch, 50)
				counts[p] += n
				if err != nil || n == 0 {
					errs[p] = err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			w := captureWrite(open, fmt.Sprintf("cap-%d", i), 1)
			if err := b.store.Write(ctx, w); err != nil {
				errs[2] = err
				return
			}
			open = w.Authorization
		}
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if counts[0]+counts[1] != closed {
		t.Errorf("the pruners deleted %d and %d, want %d in all", counts[0], counts[1], closed)
	}
	t.Logf("the pruners deleted %d and %d", counts[0], counts[1])
	if n := b.count(t, "authorizations", "") + b.count(t, "entries", "authorization_id <> 'open'") +
		b.count(t, "idempotency_keys", "authorization_id <> 'open'"); n != 1 {
		t.Errorf("%d rows left, want the open authorization's", n)
	}
	if got, err := b.store.Get(ctx, "m1", "open"); err != nil || got.Captured != 50 {
		t.Errorf("the open authorization: %+v, %v; want 50 captured", got, err)
	}
}

// ClaimDue finds its batch through the due index and claims each row by
// its primary key, however the statement is planned.
func TestClaimDueReadsTheDueIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	at := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	// 20,000 rows, one in ten due, an hour apart around at.
	if _, err := b.pool.Exec(ctx, `INSERT INTO `+b.schema+`.authorizations (merchant_id, id, version, status, currency,
	requested, authorized, captured, pending, voided, expired, entries, created_at, state, next_due)
SELECT 'm' || (i % 7), 'a' || i, 2, 'authorized', 'USD', 100, 100, 0, 0, 0, 0, 0, $1::timestamptz, '{}'::json,
	CASE WHEN i % 10 = 0 THEN $1::timestamptz + (i - 10000) * interval '1 hour' END
FROM generate_series(0, 19999) AS i`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `ANALYZE `+b.schema+`.authorizations`); err != nil {
		t.Fatal(err)
	}
	checkPlans(t, b, b.store.PruneStatement("claim due"), "authorizations_next_due", "authorizations_pkey",
		"timestamptz, integer, timestamptz, integer, bigint", "'2030-01-02', 0, '2030-02-02', 0, 500")
	refs, err := b.store.ClaimDue(ctx, at, at.Add(24*time.Hour), 300)
	if err != nil || len(refs) != 300 {
		t.Fatalf("ClaimDue = %d refs, %v; want 300", len(refs), err)
	}
	if n := b.count(t, "authorizations", "next_due = $1", at.Add(24*time.Hour)); n != 300 {
		t.Errorf("%d rows claimed, want 300", n)
	}
}
