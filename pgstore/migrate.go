package pgstore

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change, from migrations/NNN_name.sql.
type migration struct {
	version  int64
	name     string
	sql      string // with {{schema}} in place of the schema
	checksum string // SHA-256 of the file, in hex
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, path := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("pgstore: migration file %s is not named NNN_name.sql", path)
		}
		body, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		out = append(out, migration{version: v, name: name, sql: string(body), checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("pgstore: two migrations with version %d", out[i].version)
		}
	}
	return out, nil
}

// migrateRetries bounds the retries of a migration step that lost a race
// with another process migrating at the same time.
const migrateRetries = 20

// MigrationChangedError is what Migrate returns when a migration the
// database has applied is not the one of that version this package embeds:
// a shipped migration was changed, where a new migration should have been
// added. Migrate then applies nothing.
type MigrationChangedError struct {
	Version  int64
	Name     string
	Applied  string // the checksum recorded when it was applied (SHA-256, hex)
	Embedded string // the checksum of this package's migration
}

func (e *MigrationChangedError) Error() string {
	return fmt.Sprintf("pgstore: migrate: migration %03d_%s applied to this database (sha256 %s) differs from this release's (sha256 %s): "+
		"a shipped migration must not change; add a new migration instead", e.Version, e.Name, e.Applied, e.Embedded)
}

// Migrate creates the store's schema and tables, or brings them up to the
// version this package embeds. It is idempotent, and safe to run from
// several processes at once: the migrations run in one transaction that
// first locks a row of the schema_migrations table, so one process applies
// them and the others find them applied. Migrations the database has and
// this package does not know (a newer release migrated it) are left alone.
//
// Each migration applied is recorded with its checksum. If one the database
// has applied differs from this package's, Migrate returns a
// *MigrationChangedError naming it and changes nothing. A migration applied
// by a release that recorded no checksum is taken as this package's, and
// its checksum recorded.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	// Create the schema, the migrations table and its lock row. Concurrent
	// CREATE ... IF NOT EXISTS can still collide in the catalogs; the loser
	// retries and finds them there.
	if err := s.retryMigration(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q.bootstrap)
		return err
	}); err != nil {
		return fmt.Errorf("pgstore: migrate: creating schema %s: %w", s.q.schemaName, err)
	}
	return s.retryMigration(ctx, func(tx pgx.Tx) error {
		var lock int64
		if err := tx.QueryRow(ctx, s.q.lockMigrations).Scan(&lock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, s.q.migrationsDone)
		if err != nil {
			return err
		}
		applied := map[int64]*string{} // version -> checksum, nil if none was recorded
		var version int64
		var checksum *string
		if _, err := pgx.ForEachRow(rows, []any{&version, &checksum}, func() error {
			applied[version] = checksum
			return nil
		}); err != nil {
			return err
		}
		for _, m := range ms {
			if sum, ok := applied[m.version]; ok && sum != nil && *sum != m.checksum {
				return &MigrationChangedError{Version: m.version, Name: m.name, Applied: *sum, Embedded: m.checksum}
			}
		}
		for _, m := range ms {
			if sum, ok := applied[m.version]; ok {
				if sum == nil {
					if _, err := tx.Exec(ctx, s.q.recordChecksum, m.version, m.checksum); err != nil {
						return fmt.Errorf("recording the checksum of migration %03d_%s: %w", m.version, m.name, err)
					}
				}
				continue
			}
			// No arguments: the simple protocol, so a file may hold many
			// statements.
			if _, err := tx.Exec(ctx, withSchema(m.sql, s.q.schema)); err != nil {
				return fmt.Errorf("migration %03d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, s.q.recordMigration, m.version, m.name, m.checksum); err != nil {
				return fmt.Errorf("recording migration %03d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	})
}

// retryMigration runs fn in a transaction (a savepoint inside a caller's
// transaction), again if it lost a race with a concurrent migration.
func (s *Store) retryMigration(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.db, fn)
		if err == nil || attempt >= migrateRetries || !migrationRace(err) {
			if _, changed := err.(*MigrationChangedError); err != nil && !changed {
				return fmt.Errorf("pgstore: migrate: %w", err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgstore: migrate: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}

// migrationRace reports whether err is what a migration step gets when a
// concurrent one created the same object or won a serialization conflict.
func migrationRace(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	switch pg.Code {
	case "23505", // unique_violation, in the catalogs
		"42P06", // duplicate_schema
		"42P07", // duplicate_table
		"40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	}
	return false
}

// Migration is one of the store's migrations with the schema filled in,
// for a team that applies migrations with a tool of its own (goose, Atlas,
// Flyway, ...) instead of Migrate.
type Migration struct {
	Version  int64
	Name     string
	Checksum string // SHA-256 of the embedded file, in hex: what Migrate records
	// SQL is the migration as Migrate applies it. It needs the schema to
	// exist (Record creates it).
	SQL string
	// Record creates the schema and its schema_migrations table if they
	// are absent, and records this migration there with its checksum, as
	// Migrate does. Run in the same transaction as SQL, before it, it
	// leaves the schema as Migrate would: Migrate run later finds the
	// migration applied, checks its checksum and applies only newer ones.
	Record string
}

// Migrations returns the store's migrations in version order, with their
// SQL written for schema ("" is DefaultSchema). A schema that is not a
// valid Options.Schema gets an error wrapping authcapture.ErrInvalidArgument.
func Migrations(schema string) ([]Migration, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("pgstore: Migrations: schema %q must be a letter or underscore followed by up to 62 letters, digits or underscores: %w",
			schema, authcapture.ErrInvalidArgument)
	}
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	q := newQueries(schema)
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{
			Version:  m.version,
			Name:     m.name,
			Checksum: m.checksum,
			SQL:      withSchema(m.sql, q.schema),
			Record: q.bootstrap + ";\n" + withSchema(`INSERT INTO {{schema}}.schema_migrations (version, name, checksum) VALUES (`, q.schema) +
				strconv.FormatInt(m.version, 10) + ", " + sqlString(m.name) + ", " + sqlString(m.checksum) + ");\n",
		}
	}
	return out, nil
}

// sqlString returns s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
