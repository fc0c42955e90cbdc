// Package pgstore is an authcapture.Store on PostgreSQL, through
// github.com/jackc/pgx/v5. It takes the caller's pool (or connection, or
// transaction), keeps its tables in one schema, and can run inside the
// caller's own transaction, so a host can capture a payment and mark its
// order shipped in one commit:
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, _ := pgstore.New(pool, nil) // schema "authcapture"
//	if err := store.Migrate(ctx); err != nil { ... }
//	svc, _ := authcapture.New(store, nil)
//
//	// Later, atomically with the host's own writes:
//	tx, _ := pool.Begin(ctx)
//	txSvc, _ := authcapture.New(store.WithTx(tx), nil)
//	txSvc.Capture(ctx, req)
//	tx.Exec(ctx, "UPDATE orders SET shipped = true WHERE id = $1", orderID)
//	tx.Commit(ctx)
//
// # Tables
//
// Migrate creates, in the schema of Options.Schema: authorizations (one row
// per authorization), entries (the append-only log), events (the outbox),
// event_cursor (one row ordering the event cursor), idempotency_keys,
// provider_refs (the index FindByProviderRef reads) and schema_migrations, which records each migration applied with the SHA-256
// of its file: a shipped migration never changes (a change is a new
// migration), and Migrate refuses, with a *MigrationChangedError, a
// database where one was applied with another text. An authorization row keeps the whole aggregate as JSON
// in its state column, which is what Get decodes: a field added to
// authcapture.Authorization is stored and read back without a schema
// change. The other columns (status, the ledgers as NUMERIC in the
// currency's units, the due time, the begin time of the oldest action in
// flight, the closing time retention reads, the version) are written from
// the same value in the same statement and exist for CHECK constraints and
// queries: every ledger is >= 0, captured + pending + pending void +
// pending decrement + voided + expired <= authorized + overcaptured,
// refunded + pending refund <= captured (migration 006), and authorized
// <= requested. Entries, events and idempotency records likewise
// keep the whole value as JSON beside only their key columns (and, for
// idempotency records, the authorization and created_at).
//
// The JSON columns have type json, which PostgreSQL checks and stores as
// written, without building jsonb's binary form on every write. Each value
// is written by encoding/json, compactly: an object of the fields that are
// not zero (the stored types tag their fields omitzero), under their Go
// names, which reads back into the same value (a field left out is zero).
// Times are RFC 3339 strings with nanoseconds.
// Hosts can query the columns with PostgreSQL's JSON operators, such as
// entry->>'Kind'.
//
// # Writes
//
// Store.Write is one SQL statement: the version-checked UPDATE (or, for
// version 1, the INSERT) of the authorization with the inserts of its
// entries, events and idempotency record as data-modifying common table
// expressions that only insert if the authorization row was written. One
// statement is atomic on its own, so a write costs one round trip, without
// BEGIN or COMMIT (a command whose state the Service does not hold costs
// one more, for Get). The statement only looks up the stored version, to
// tell a conflict from a missing authorization, when its update matched
// nothing. A unique
// violation on the idempotency key aborts the whole statement, so a write
// whose key exists leaves nothing behind. Inside a caller's transaction
// the statement runs under a savepoint, so a rejected write leaves the
// caller's transaction usable.
//
// Store is also an authcapture.Locker: Lock reads the authorization's row
// with SELECT ... FOR UPDATE in a transaction, and the write under the lock
// is the same statement, committed with it. The Service takes such a lock
// only for a command whose write lost a version conflict on a fresh read,
// so contending writers wait on the row instead of failing their version
// checks again; an uncontended command stays at one round trip.
//
// # The event cursor
//
// In PostgreSQL a transaction that took a lower sequence value can commit
// after one that took a higher value, so an outbox ordered by a serial
// column lets a relay that has read position 11 miss position 10 when it
// commits a moment later. pgstore therefore assigns positions when events
// are read, not when they are written. Write inserts events with a NULL
// position, so the capture path takes no extra lock and updates no shared
// counter. Events first stamps positions: in one transaction it locks the single event_cursor row
// (SELECT ... FOR UPDATE), then numbers the committed rows that have no
// position, in insertion order, continuing from the cursor's last
// position, and advances the cursor. Only then does it read the merchant's
// events with Position > after. Because stamping is serialized by the row
// lock, and each stamping statement runs after the previous stamper
// committed, positions are handed out in commit order of the stamping
// transactions, and an event that commits later can only ever get a
// position above every position already visible: a relay that remembers the
// last position it saw misses nothing. Positions increase across all
// merchants of a store; a merchant's positions have gaps. AllEvents stamps
// the same way and reads the events of every merchant, by the index on
// position alone.
//
// This uses only row locks and ordinary SQL (no advisory locks, no
// LISTEN/NOTIFY, no snapshot functions), which CockroachDB and YugabyteDB
// document as supported, though neither has been tried. On a pool or a connection stamping runs at READ
// COMMITTED whatever the server's default; under a SERIALIZABLE default
// Events' reads may still fail with a serialization error, and Events then
// runs again, whole, up to 16 times. Calls to Events
// serialize on the cursor row only while there is something to stamp; an
// idle poll only reads. Stamping inside a caller's transaction (WithTx)
// holds the cursor lock until that transaction ends, so relays should read
// through a Store on the pool.
//
// # Time
//
// PostgreSQL keeps timestamps in microseconds. The times of an
// authorization, its entries, events and idempotency records are read back
// from their JSON state with full nanosecond precision; the TIMESTAMPTZ
// columns beside them are truncated to the microsecond and serve queries.
// The due index keeps the truncated nanoseconds in a separate column, so Due
// compares and returns next due times exactly. Times come back in UTC (or
// in the fixed offset they were written with), without monotonic readings.
//
// # Limits
//
// Rows are deleted only by the Pruner methods: the log, the outbox and
// the idempotency records grow until the host prunes them (idempotency_keys
// has a created_at column, events a position, and authorizations a
// closed_at column for those closed with nothing in flight (the later of
// ClosedAt and RefundableUntil), each indexed
// for that). Each event row
// is written twice, once by Write and once when its position is stamped.
// A text holding U+0000 (which the service rejects in every text it
// stores) is kept escaped as \u0000 and read back exactly, but
// PostgreSQL's ->> operator cannot extract it as text. The SQL sticks to
// what CockroachDB and YugabyteDB document as supported, but the tests run
// on PostgreSQL only.
//
// # Errors
//
// Database errors are translated in one place: unique violations on an
// authorization's key, or on a provider reference another authorization
// of the merchant holds (table provider_refs), become
// authcapture.ErrAlreadyExists, on an
// idempotency key authcapture.ErrIdempotencyKeyExists; serialization
// failures and deadlocks become authcapture.ErrVersionConflict; CHECK and
// other data violations become authcapture.ErrInvalidArgument. The
// driver's error stays reachable with errors.As (a *pgconn.PgError, say).
package pgstore

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ authcapture.Store = (*Store)(nil)

// DBTX is what a Store runs its statements on: *pgxpool.Pool, *pgx.Conn
// and pgx.Tx all satisfy it. A Store is safe for concurrent use when its
// DBTX is (a pool is; a single connection or transaction is not).
type DBTX interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Options configure a Store. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the tables; every
	// statement names it. It must be an unquoted identifier: a letter or
	// underscore, then letters, digits or underscores, at most 63 bytes.
	// Default: "authcapture".
	Schema string
}

// DefaultSchema is the schema of a Store whose Options name none.
const DefaultSchema = "authcapture"

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Store is an authcapture.Store on PostgreSQL. Create it with New and
// create its tables with Migrate.
type Store struct {
	db DBTX
	// tx is the caller's transaction when db is one: writes then run
	// under a savepoint of it.
	tx pgx.Tx
	q  *queries
}

// New returns a Store that runs its statements on db. If db is a pgx.Tx the
// store works inside that transaction, as WithTx does. New does not touch
// the database; call Migrate to create or upgrade the schema.
func New(db DBTX, opts *Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("pgstore: New: db is nil: %w", authcapture.ErrInvalidArgument)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaName.MatchString(o.Schema) {
		return nil, fmt.Errorf("pgstore: New: schema %q must be a letter or underscore followed by up to 62 letters, digits or underscores: %w",
			o.Schema, authcapture.ErrInvalidArgument)
	}
	s := &Store{db: db, q: newQueries(o.Schema)}
	if tx, ok := db.(pgx.Tx); ok {
		s.tx = tx
	}
	return s, nil
}

// WithTx returns a Store on the same schema whose statements run inside
// tx, the caller's transaction: what it writes commits or rolls back with
// tx. Each write runs under a savepoint, so a rejected write (a version
// conflict, an existing idempotency key) leaves tx usable. The returned
// Store must not be used after tx ends, nor from several goroutines at once.
//
// Inside a REPEATABLE READ or SERIALIZABLE transaction a version conflict
// cannot be resolved by retrying within the transaction: the service's
// retries see the same snapshot and give up with
// authcapture.ErrVersionConflict, and the caller retries its transaction.
func (s *Store) WithTx(tx pgx.Tx) *Store {
	return &Store{db: tx, tx: tx, q: s.q}
}

// Schema returns the name of the store's schema.
func (s *Store) Schema() string { return s.q.schemaName }

// queries holds the store's SQL with the schema filled in.
type queries struct {
	schemaName string
	schema     string // quoted

	get, getForUpdate, entries, idempotency               string
	due, unsettled, providerRef                           string
	pending, lockCursor, stamp, readEvents, readAllEvents string
	bootstrap, lockMigrations, migrationsDone             string
	recordMigration, recordChecksum                       string
	pruneIdempotency, pruneEvents                         string
	pruneAuthorizations, pruneAuthorizationRows           string
	claimDue                                              string

	writes sync.Map // writeShape -> string
}
