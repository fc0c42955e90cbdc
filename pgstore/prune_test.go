package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
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

	var plan []string
	rows, err := b.pool.Query(ctx, `EXPLAIN SELECT merchant_id, key FROM `+b.schema+`.idempotency_keys
WHERE created_at < $1 ORDER BY created_at LIMIT 1000`, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "idempotency_keys_created_at") {
		t.Errorf("the batch is not read through the index on created_at:\n%s", strings.Join(plan, "\n"))
	}

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
