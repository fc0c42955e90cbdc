package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// databaseURLEnv names the environment variable with the URL of the
// PostgreSQL database the tests use. Each test works in a schema of its own,
// created for it and dropped after it.
const databaseURLEnv = "AUTHCAPTURE_TEST_DATABASE_URL"

// databaseURL returns the test database's URL, or skips tb.
func databaseURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(databaseURLEnv)
	if url == "" {
		tb.Skipf("set %s to a PostgreSQL URL (such as postgres://root@127.0.0.1:5432/test) to run the PostgreSQL tests", databaseURLEnv)
	}
	return url
}

// bundle is what a test works with: a pool, a store on a fresh schema with
// its tables migrated, and the schema's quoted name for SQL of its own.
type bundle struct {
	pool   *pgxpool.Pool
	store  *pgstore.Store
	schema string // quoted, for SQL
}

// setup returns a bundle on a new schema, dropped when tb ends. maxConns
// sizes the pool (0: pgxpool's default).
func setup(tb testing.TB, maxConns int32) *bundle {
	tb.Helper()
	return setupMode(tb, maxConns, pgx.QueryExecModeCacheStatement)
}

// setupMode is setup with a pool whose connections run queries in mode.
func setupMode(tb testing.TB, maxConns int32, mode pgx.QueryExecMode) *bundle {
	tb.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(databaseURL(tb))
	if err != nil {
		tb.Fatalf("parsing %s: %v", databaseURLEnv, err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.DefaultQueryExecMode = mode
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("connecting: %v", err)
	}
	schema := newSchemaName()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
		pool.Close()
	})
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return &bundle{pool: pool, store: store, schema: `"` + schema + `"`}
}

// newSchemaName returns a schema name no other test run uses.
func newSchemaName() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "pgstore_test_" + hex.EncodeToString(b[:])
}

// epoch is where the test clocks start. It has nanoseconds, which
// PostgreSQL's timestamps cannot keep, to prove the store keeps them.
var epoch = time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)

// newWrite returns the version 1 write of a new authorization of merchant:
// created and approved for 100.00 USD in one step, with a hold lapsing at
// epoch + 7 days, its first log entry, its first event and, if key is not
// empty, an idempotency record.
func newWrite(merchant, id, key string) *authcapture.Write {
	a := &authcapture.Authorization{
		ID: id, MerchantID: merchant, Reference: "order-" + id,
		Metadata: map[string]string{"order": id, "note": "ünïcode ✓"},
		Currency: "USD", Policy: "default", Phase: authcapture.PhaseApproved,
		Requested: 10000, Authorized: 10000,
		CreatedAt: epoch, AuthorizedAt: epoch,
		ExpiresAt: epoch.Add(7 * 24 * time.Hour), ExpiryRule: "explicit",
		NextDue: epoch.Add(7 * 24 * time.Hour),
	}
	return next(nil, a, key, authcapture.Entry{Kind: authcapture.EntryAuthorized, Amount: 10000}, authcapture.EventAuthorized)
}

// next returns the write that moves prev (nil for a new authorization a)
// to a, which the caller has changed, with one entry and one event.
func next(prev, a *authcapture.Authorization, key string, e authcapture.Entry, typ authcapture.EventType) *authcapture.Write {
	if prev != nil {
		a.Version = prev.Version + 1
	} else {
		a.Version = 1
	}
	at := epoch.Add(time.Duration(a.Version) * time.Minute)
	a.Entries++
	e.Seq, e.Version, e.At, e.IdempotencyKey = a.Entries, a.Version, at, key
	a.Events++
	ev := authcapture.Event{MerchantID: a.MerchantID, AuthorizationID: a.ID, Seq: a.Events, Version: a.Version,
		Type: typ, At: at, EntrySeq: e.Seq, Amount: e.Amount, Open: a.Open(), Status: a.Status()}
	w := &authcapture.Write{Authorization: a, Entries: []authcapture.Entry{e}, Events: []authcapture.Event{ev}}
	if key != "" {
		w.Idempotency = &authcapture.IdempotencyRecord{MerchantID: a.MerchantID, Key: key, Op: string(e.Kind),
			Fingerprint: 0xfedcba9876543210, AuthorizationID: a.ID, Version: a.Version, EntrySeq: e.Seq, CreatedAt: at}
	}
	return w
}

// captureWrite returns the write of a direct capture of amount from prev.
func captureWrite(prev *authcapture.Authorization, key string, amount int64) *authcapture.Write {
	a := prev.Clone()
	a.Captured += amount
	a.Captures++
	return next(prev, a, key, authcapture.Entry{Kind: authcapture.EntryCapture, CaptureState: authcapture.CaptureSucceeded,
		CaptureID: key, Amount: amount}, authcapture.EventCaptureSucceeded)
}

// mustWrite writes w and returns its authorization, failing tb on error.
func mustWrite(tb testing.TB, s authcapture.Store, w *authcapture.Write) *authcapture.Authorization {
	tb.Helper()
	if err := s.Write(context.Background(), w); err != nil {
		tb.Fatalf("write %s v%d: %v", w.Authorization.ID, w.Authorization.Version, err)
	}
	return w.Authorization.Clone()
}

// count returns the number of rows of table in the bundle's schema that
// match where (SQL, with args).
func (b *bundle) count(tb testing.TB, table, where string, args ...any) int {
	tb.Helper()
	var n int
	sql := "SELECT count(*) FROM " + b.schema + "." + table
	if where != "" {
		sql += " WHERE " + where
	}
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// reset empties the bundle's tables.
func (b *bundle) reset(tb testing.TB) {
	tb.Helper()
	_, err := b.pool.Exec(context.Background(), "TRUNCATE "+b.schema+".authorizations, "+b.schema+".entries, "+
		b.schema+".events, "+b.schema+".idempotency_keys; UPDATE "+b.schema+".event_cursor SET last_position = 0")
	if err != nil {
		tb.Fatalf("emptying the tables: %v", err)
	}
}
