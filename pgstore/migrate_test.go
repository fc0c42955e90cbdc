package pgstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// shippedMigrations pins the SHA-256 of every migration released. A
// database keeps what a migration did when it was applied, so changing its
// file changes nothing there: the change must be a new migration.
var shippedMigrations = map[string]string{
	"001_init.sql":                "cf679ae2f5283bcf829e6c510fcaf3064b5891d146f5ca938e96b4640b8df1d0",
	"002_first_release_shape.sql": "f92d824455100f0280a5cdf3cc8fee67b4fee3acc884029160472c6e30a0c668",
	"003_provider_refs.sql":       "8e7eaac26a471e46a3e82567f0a239bb99055b6639c4e2f6e0236dd8e3ec2788",
	"004_events_position.sql":     "e81cbb240db9aa62561d7e058f481db8e204d8716a1752cd300d2fd6c70e5e8e",
	"005_prune_index.sql":         "edabac6a7992b22daf56c0a2e109f86d37ebec0b1af9f75f5df2264733acc32b",
	"006_ledger_columns.sql":      "e5943608c99d2a4d96f1406b59573063ce38124209007df23ebb47608e0b56fc",
	"007_closed_at.sql":           "dd64ba034f5f3a4c05c7dc5a6f894696f6fb5fd245259df95e64f44aefe7aa94",
}

func TestShippedMigrationsAreImmutable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		got := hex.EncodeToString(sum[:])
		want, ok := shippedMigrations[name]
		switch {
		case !ok:
			t.Errorf("migration %s (sha256 %s) is not pinned in shippedMigrations: pin it when it ships", name, got)
		case got != want:
			t.Errorf("migration %s changed (sha256 %s, shipped as %s): a shipped migration is immutable, "+
				"databases keep what it did when it was applied; add a new migration instead", name, got, want)
		}
	}
	for name := range shippedMigrations {
		if !seen[name] {
			t.Errorf("shipped migration %s is gone: a shipped migration is immutable; add a new migration instead", name)
		}
	}
}

// rawSchema returns a pool and the name of a schema that does not exist
// yet, dropped when t ends.
func rawSchema(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), databaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	schema := newSchemaName()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		pool.Close()
	})
	return pool, schema
}

// migrateAsFirstRelease does what the first release's Migrate did: the
// migrations table, its lock row, and 001_init as it was then.
func migrateAsFirstRelease(t *testing.T, pool *pgxpool.Pool, schema string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "001_init_8ddfc8f.sql"))
	if err != nil {
		t.Fatal(err)
	}
	q := `"` + schema + `"`
	sql := `CREATE SCHEMA ` + q + `;
CREATE TABLE ` + q + `.schema_migrations (
	version    BIGINT NOT NULL,
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
	CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);
INSERT INTO ` + q + `.schema_migrations (version, name) VALUES (0, 'lock'), (1, 'init');
` + strings.ReplaceAll(string(body), "{{schema}}", q)
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("the first release's migration: %v", err)
	}
}

// schemaShape describes the tables of a schema: columns, constraints,
// indexes and storage options, each as one line.
func schemaShape(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT format('column %s.%s %s %s default %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
	CASE WHEN a.attnotnull THEN 'not null' ELSE 'null' END, coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'schema_migrations'
UNION ALL
SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname <> 'schema_migrations'
UNION ALL
SELECT format('index %s', replace(indexdef, $1, 'SCHEMA')) FROM pg_indexes
WHERE schemaname = $1 AND tablename <> 'schema_migrations'
UNION ALL
SELECT format('options %s %s', c.relname, c.reloptions)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind = 'r'
ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// The sequence of events.id is named after the schema.
	for i := range shape {
		shape[i] = strings.ReplaceAll(shape[i], schema, "SCHEMA")
	}
	return shape
}

// checksums returns the checksums schema_migrations records, by version.
func checksums(t *testing.T, pool *pgxpool.Pool, schema string) map[int64]string {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT version, coalesce(checksum, '') FROM "`+schema+`".schema_migrations WHERE version > 0`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	var v int64
	var sum string
	if _, err := pgx.ForEachRow(rows, []any{&v, &sum}, func() error { out[v] = sum; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantChecksums are the checksums of the shipped migrations, by version.
func wantChecksums() map[int64]string {
	return map[int64]string{1: shippedMigrations["001_init.sql"], 2: shippedMigrations["002_first_release_shape.sql"],
		3: shippedMigrations["003_provider_refs.sql"], 4: shippedMigrations["004_events_position.sql"],
		5: shippedMigrations["005_prune_index.sql"], 6: shippedMigrations["006_ledger_columns.sql"],
		7: shippedMigrations["007_closed_at.sql"]}
}

// A schema the first release migrated, with an authorization it stored,
// is brought up to the current shape by Migrate; the stored authorization
// reads back and a whole capture lifecycle runs on it.
func TestMigrateUpgradesTheFirstReleasesSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := rawSchema(t)
	migrateAsFirstRelease(t, pool, schema)

	// A row as the first release wrote it: the state as jsonb.
	old := &authcapture.Authorization{ID: "old-1", MerchantID: "m1", Reference: "ü <&>", Currency: "USD",
		Policy: "default", Phase: authcapture.PhaseApproved, Requested: 10000, Authorized: 10000,
		CreatedAt: epoch, AuthorizedAt: epoch, ExpiresAt: epoch.Add(24 * time.Hour), Version: 2}
	state, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO "`+schema+`".authorizations (merchant_id, id, version, status, currency,
		requested, authorized, captured, pending, voided, expired, entries, created_at, state)
		VALUES ('m1', 'old-1', 2, 'authorized', 'USD', 100, 100, 0, 0, 0, 0, 0, $1, $2::jsonb)`, epoch, string(state)); err != nil {
		t.Fatal(err)
	}

	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on the first release's schema: %v", err)
	}
	if got := checksums(t, pool, schema); !reflect.DeepEqual(got, wantChecksums()) {
		t.Errorf("checksums recorded: %v, want %v", got, wantChecksums())
	}
	fresh := setup(t, 0)
	if got, want := schemaShape(t, pool, schema), schemaShape(t, pool, fresh.store.Schema()); !reflect.DeepEqual(got, want) {
		t.Errorf("upgraded schema:\n%s\nwant the shape of a new one:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got, err := store.Get(ctx, "m1", "old-1")
	if err != nil || !reflect.DeepEqual(got, old) {
		t.Errorf("the first release's row reads back as %+v, %v; want %+v", got, err, old)
	}
	captureLifecycle(t, store)
	if err := store.Migrate(ctx); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

// A schema migrated by a release that recorded no checksums (the current
// 001_init, without 002) is accepted: Migrate applies what is missing and
// records every checksum, and the schema keeps its shape.
func TestMigrateAcceptsASchemaWithoutChecksums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	want := schemaShape(t, b.pool, b.store.Schema())
	if _, err := b.pool.Exec(ctx, `ALTER TABLE `+b.schema+`.schema_migrations DROP COLUMN checksum;
		DELETE FROM `+b.schema+`.schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a schema without checksums: %v", err)
	}
	if got := checksums(t, b.pool, b.store.Schema()); !reflect.DeepEqual(got, wantChecksums()) {
		t.Errorf("checksums recorded: %v, want %v", got, wantChecksums())
	}
	if got := schemaShape(t, b.pool, b.store.Schema()); !reflect.DeepEqual(got, want) {
		t.Errorf("schema after 002:\n%s\nwant it unchanged:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	captureLifecycle(t, b.store)
}

// A migration applied with another text than this release's stops Migrate
// with an error naming it, before anything is applied.
func TestMigrateRefusesAChangedMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 0)
	if _, err := b.pool.Exec(ctx, `UPDATE `+b.schema+`.schema_migrations SET checksum = 'edited' WHERE version = 1;
		DELETE FROM `+b.schema+`.schema_migrations WHERE version > 1`); err != nil {
		t.Fatal(err)
	}
	err := b.store.Migrate(ctx)
	var changed *pgstore.MigrationChangedError
	if !errors.As(err, &changed) || changed.Version != 1 || changed.Name != "init" || changed.Applied != "edited" ||
		changed.Embedded != shippedMigrations["001_init.sql"] {
		t.Fatalf("Migrate with an edited 001: %v, want a *MigrationChangedError for version 1", err)
	}
	if !strings.Contains(err.Error(), "001_init") || !strings.Contains(err.Error(), "add a new migration instead") {
		t.Errorf("error message: %v", err)
	}
	if got := checksums(t, b.pool, b.store.Schema()); len(got) != 1 {
		t.Errorf("Migrate applied something after refusing: %v", got)
	}
}
