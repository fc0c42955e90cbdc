package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/pgstore"
)

// timedStore is a pgstore.Store whose prune calls are timed one by one.
type timedStore struct {
	*pgstore.Store
	calls   int
	longest time.Duration
}

func (s *timedStore) time(start time.Time) {
	s.calls++
	s.longest = max(s.longest, time.Since(start))
}

func (s *timedStore) PruneIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	defer s.time(time.Now())
	return s.Store.PruneIdempotency(ctx, before, limit)
}

func (s *timedStore) PruneEvents(ctx context.Context, before time.Time, keepFrom int64, limit int) (int, error) {
	defer s.time(time.Now())
	return s.Store.PruneEvents(ctx, before, keepFrom, limit)
}

func (s *timedStore) PruneAuthorizations(ctx context.Context, before time.Time, limit int) (int, error) {
	defer s.time(time.Now())
	return s.Store.PruneAuthorizations(ctx, before, limit)
}

// BenchmarkPGPrune measures Service.Prune on PostgreSQL deleting 100,000
// expired idempotency records while 10,000 younger ones stay, in batches
// of the default 1,000 and of the largest, 10,000; and deleting 20,000
// closed authorizations with their logs among 20,000 open ones. Each
// iteration inserts the rows first (untimed, then VACUUM ANALYZE). It
// reports the whole prune (prune-ms), the longest single store call
// (longest-stmt-ms: each call to PruneIdempotency is one statement), the
// calls made and rows deleted per second.
//
//	AUTHCAPTURE_TEST_DATABASE_URL=postgres://... go test -run '^$' -bench PGPrune -benchtime=1x ./pgstore/
func BenchmarkPGPrune(b *testing.B) {
	databaseURL(b)
	for _, batch := range []int{authcapture.DefaultPruneBatch, authcapture.MaxPruneBatch} {
		b.Run(fmt.Sprintf("idempotency=100000/batch=%d", batch), func(b *testing.B) {
			benchPruneIdempotency(b, 100_000, 10_000, batch)
		})
	}
	b.Run(fmt.Sprintf("authorizations=20000/batch=%d", authcapture.DefaultPruneBatch), func(b *testing.B) {
		benchPruneAuthorizations(b, 20_000, authcapture.DefaultPruneBatch)
	})
}

// benchPruneAuthorizations measures Service.Prune deleting closed
// authorizations, each with a log of 4 entries, 4 idempotency records and
// a provider reference, among as many open ones. A store call is a
// transaction of two statements here.
func benchPruneAuthorizations(b *testing.B, closed, batch int) {
	ctx := context.Background()
	bb := setup(b, 0)
	now := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	const retention = 200 * 24 * time.Hour // longer than every preset's RefundWindow
	closedAt := now.Add(-retention - time.Hour)
	store := &timedStore{Store: bb.store}
	svc, err := authcapture.New(store, &authcapture.Options{Clock: clocktest.New(now)})
	if err != nil {
		b.Fatal(err)
	}
	var total, longest time.Duration
	var calls int
	for range b.N {
		b.StopTimer()
		bb.reset(b)
		if _, err := bb.pool.Exec(ctx, `TRUNCATE `+bb.schema+`.provider_refs`); err != nil {
			b.Fatal(err)
		}
		// Even i: closed an hour past the retention, 0.1s apart; odd
		// i: open.
		for _, sql := range []string{
			`INSERT INTO ` + bb.schema + `.authorizations (merchant_id, id, version, status, currency,
	requested, authorized, captured, pending, voided, expired, entries, created_at, state, closed_at)
SELECT 'm' || (i % 7), 'a' || i, 4, CASE WHEN i % 2 = 0 THEN 'captured' ELSE 'partially_captured' END, 'USD',
	1000, 1000, 100, 0, CASE WHEN i % 2 = 0 THEN 900 ELSE 0 END, 0, 4, $1::timestamptz,
	json_build_object('ID', 'a' || i, 'MerchantID', 'm' || (i % 7), 'Currency', 'USD', 'Policy', 'default'),
	CASE WHEN i % 2 = 0 THEN $1::timestamptz + i * interval '50 milliseconds' END
FROM generate_series(0, 2 * $2::int - 1) AS i`,
			`INSERT INTO ` + bb.schema + `.entries (merchant_id, authorization_id, seq, entry)
SELECT 'm' || (i % 7), 'a' || i, s, json_build_object('Seq', s, 'Version', s, 'Kind', 'capture', 'Amount', 100,
	'At', $1::timestamptz, 'IdempotencyKey', 'k-' || i || '-' || s, 'ProviderRef', CASE WHEN s = 3 THEN 'ref-' || i END)
FROM generate_series(0, 2 * $2::int - 1) AS i, generate_series(1, 4) AS s`,
			`INSERT INTO ` + bb.schema + `.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
SELECT 'm' || (i % 7), 'k-' || i || '-' || s, 'a' || i, $1::timestamptz + interval '100 days', '{}'::json
FROM generate_series(0, 2 * $2::int - 1) AS i, generate_series(1, 4) AS s`,
			`INSERT INTO ` + bb.schema + `.provider_refs (merchant_id, provider_ref, authorization_id)
SELECT 'm' || (i % 7), 'ref-' || i, 'a' || i FROM generate_series(0, 2 * $2::int - 1) AS i
WHERE $1::timestamptz IS NOT NULL`,
		} {
			if _, err := bb.pool.Exec(ctx, sql, closedAt, closed); err != nil {
				b.Fatal(err)
			}
		}
		for _, table := range []string{"authorizations", "entries", "idempotency_keys", "provider_refs"} {
			if _, err := bb.pool.Exec(ctx, `VACUUM ANALYZE `+bb.schema+`.`+table); err != nil {
				b.Fatal(err)
			}
		}
		store.calls, store.longest = 0, 0
		b.StartTimer()
		start := time.Now()
		// The records are younger than their retention: only those of
		// the authorizations deleted go, with them.
		res, err := svc.Prune(ctx, authcapture.PruneRequest{IdempotencyRetention: retention, AuthorizationRetention: retention,
			Batch: batch})
		total += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Authorizations != closed || res.Idempotency != 0 {
			b.Fatalf("Prune = %+v, want %d authorizations", res, closed)
		}
		if n := bb.count(b, "entries", "") + bb.count(b, "idempotency_keys", ""); n != 8*closed {
			b.Fatalf("%d entries and records left, want the %d of the open authorizations", n, 8*closed)
		}
		longest = max(longest, store.longest)
		calls += store.calls
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "prune-ms")
	b.ReportMetric(float64(longest.Microseconds())/1000, "longest-call-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "calls")
	b.ReportMetric(float64(closed)*float64(b.N)/total.Seconds(), "authorizations/s")
}

func benchPruneIdempotency(b *testing.B, expired, young, batch int) {
	ctx := context.Background()
	bb := setup(b, 0)
	now := time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC)
	cutoff := now.Add(-authcapture.DefaultIdempotencyRetention)
	store := &timedStore{Store: bb.store}
	svc, err := authcapture.New(store, &authcapture.Options{Clock: clocktest.New(now)})
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var longest time.Duration
	var calls int
	for range b.N {
		b.StopTimer()
		bb.reset(b)
		// The expired records in the hour before the cutoff, the young
		// ones in the hour after, as the Service writes them.
		if _, err := bb.pool.Exec(ctx, `INSERT INTO `+bb.schema+`.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
SELECT 'm' || (i % 7), 'key-' || i, 'a' || (i / 4), t,
	json_build_object('MerchantID', 'm' || (i % 7), 'Key', 'key-' || i, 'Op', 'capture', 'Fingerprint', 1234567890123456789,
		'AuthorizationID', 'a' || (i / 4), 'Version', 3, 'EntrySeq', 3, 'CreatedAt', t)
FROM generate_series(0, $2::int + $3::int - 1) AS i,
	LATERAL (SELECT $1::timestamptz + (i - $2::int) * (interval '1 hour' / $2::int)) AS c(t)`, cutoff, expired, young); err != nil {
			b.Fatal(err)
		}
		if _, err := bb.pool.Exec(ctx, `VACUUM ANALYZE `+bb.schema+`.idempotency_keys`); err != nil {
			b.Fatal(err)
		}
		store.calls, store.longest = 0, 0
		b.StartTimer()
		start := time.Now()
		res, err := svc.Prune(ctx, authcapture.PruneRequest{Batch: batch})
		total += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Idempotency != expired {
			b.Fatalf("Prune deleted %d records, want %d", res.Idempotency, expired)
		}
		if n := bb.count(b, "idempotency_keys", ""); n != young {
			b.Fatalf("%d records left, want the %d younger ones", n, young)
		}
		longest = max(longest, store.longest)
		calls += store.calls
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "prune-ms")
	b.ReportMetric(float64(longest.Microseconds())/1000, "longest-stmt-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "calls")
	b.ReportMetric(float64(expired)*float64(b.N)/total.Seconds(), "records/s")
}
