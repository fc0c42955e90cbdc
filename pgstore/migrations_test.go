package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/authcapture/authcapture/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migrations returns each embedded file with the quoted schema in place of
// its placeholder, and the checksum pinned when it shipped.
func TestMigrationsAreTheEmbeddedFiles(t *testing.T) {
	ms, err := pgstore.Migrations("my_schema")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(files) {
		t.Fatalf("Migrations returned %d migrations, want one per file of migrations/ (%d)", len(ms), len(files))
	}
	for i, m := range ms {
		base := filepath.Base(files[i])
		body, err := os.ReadFile(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%03d_%s.sql", m.Version, m.Name); got != base {
			t.Errorf("migration %d is %s, want %s", i, got, base)
		}
		if m.Checksum != shippedMigrations[base] {
			t.Errorf("%s: checksum %s, want the pinned %s", base, m.Checksum, shippedMigrations[base])
		}
		if want := strings.ReplaceAll(string(body), "{{schema}}", `"my_schema"`); m.SQL != want {
			t.Errorf("%s: SQL is not the file with the schema filled in:\n%s", base, m.SQL)
		}
		if strings.Contains(m.SQL+m.Record, "{{schema}}") {
			t.Errorf("%s: a schema placeholder is left", base)
		}
	}
	def, err := pgstore.Migrations("")
	if err != nil || len(def) != len(ms) || !strings.Contains(def[0].SQL, `"`+pgstore.DefaultSchema+`".`) {
		t.Errorf(`Migrations(""): %d migrations, %v; want them for the schema %q`, len(def), err, pgstore.DefaultSchema)
	}
}

func TestMigrationsRejectABadSchema(t *testing.T) {
	for _, schema := range []string{`a"b`, "1abc", "a b", strings.Repeat("a", 64)} {
		if ms, err := pgstore.Migrations(schema); !errors.Is(err, authcapture.ErrInvalidArgument) || ms != nil {
			t.Errorf("Migrations(%q) = %d migrations, %v; want ErrInvalidArgument", schema, len(ms), err)
		}
	}
}

// applyByHand applies migrations in versions to schema as a team's own tool
// would: each one's Record and SQL in one transaction, and nothing else.
func applyByHand(t *testing.T, pool *pgxpool.Pool, schema string, versions ...int64) {
	t.Helper()
	ctx := context.Background()
	ms, err := pgstore.Migrations(schema)
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[int64]pgstore.Migration{}
	for _, m := range ms {
		byVersion[m.Version] = m
	}
	for _, v := range versions {
		m, ok := byVersion[v]
		if !ok {
			t.Fatalf("no migration %d", v)
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, m.Record+m.SQL)
			return err
		}); err != nil {
			t.Fatalf("applying migration %d by hand: %v", v, err)
		}
	}
}

// handMigratedStore returns a store on a new schema whose migrations were
// all applied by hand, with no call to Migrate.
func handMigratedStore(t *testing.T) (*pgxpool.Pool, *pgstore.Store) {
	t.Helper()
	pool, schema := rawSchema(t)
	ms, err := pgstore.Migrations(schema)
	if err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, m := range ms {
		all = append(all, m.Version)
	}
	applyByHand(t, pool, schema, all...)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return pool, store
}

// The migrations applied by hand leave the schema Migrate makes, recorded
// as Migrate records it: Migrate then finds nothing to do, and a capture
// lifecycle runs on it.
func TestMigrationsAppliedByHand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, store := handMigratedStore(t)
	fresh := setup(t, 0)
	if got, want := schemaShape(t, pool, store.Schema()), schemaShape(t, pool, fresh.store.Schema()); !reflect.DeepEqual(got, want) {
		t.Errorf("schema migrated by hand:\n%s\nwant the shape Migrate makes:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := checksums(t, pool, store.Schema()); !reflect.DeepEqual(got, wantChecksums()) {
		t.Errorf("checksums recorded: %v, want %v", got, wantChecksums())
	}
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after the migrations were applied by hand: %v", err)
	}
	if got := checksums(t, pool, store.Schema()); !reflect.DeepEqual(got, wantChecksums()) {
		t.Errorf("checksums after Migrate: %v, want %v", got, wantChecksums())
	}
	captureLifecycle(t, store)
}

// Migrate takes over from a schema whose first migrations were applied by
// hand, and applies the rest.
func TestMigrateAfterSomeMigrationsAppliedByHand(t *testing.T) {
	t.Parallel()
	pool, schema := rawSchema(t)
	applyByHand(t, pool, schema, 1, 2)
	store, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	fresh := setup(t, 0)
	if got, want := schemaShape(t, pool, schema), schemaShape(t, pool, fresh.store.Schema()); !reflect.DeepEqual(got, want) {
		t.Errorf("schema:\n%s\nwant the shape Migrate makes:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := checksums(t, pool, schema); !reflect.DeepEqual(got, wantChecksums()) {
		t.Errorf("checksums recorded: %v, want %v", got, wantChecksums())
	}
}

func TestConformanceOnMigrationsAppliedByHand(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) authcapture.Store {
		_, store := handMigratedStore(t)
		return store
	})
}
