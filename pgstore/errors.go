package pgstore

import (
	"context"
	"errors"
	"strings"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Error is a failure of the database, translated: it matches Sentinel (an
// authcapture sentinel such as authcapture.ErrVersionConflict, or nil if no
// sentinel applies) with errors.Is, and the driver's error (such as a
// *pgconn.PgError) with errors.Is and errors.As.
type Error struct {
	Op       string // what the store was doing, such as "write auth_1"
	Sentinel error
	Err      error // the driver's error
}

func (e *Error) Error() string {
	msg := "pgstore: " + e.Op + ": "
	if e.Sentinel != nil {
		msg += e.Sentinel.Error() + ": "
	}
	return msg + e.Err.Error()
}

// Unwrap returns the sentinel, if any, and the driver's error.
func (e *Error) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.Err}
	}
	return []error{e.Sentinel, e.Err}
}

// translate is the one place where database errors become store errors:
//
//   - no rows: authcapture.ErrNotFound
//   - unique violation on an authorization's key, or on a provider
//     reference another authorization holds: authcapture.ErrAlreadyExists
//   - unique violation on an idempotency key: authcapture.ErrIdempotencyKeyExists
//   - any other unique violation (an entry or event already at that seq,
//     which only a concurrent writer can have put there),
//     serialization failure, deadlock: authcapture.ErrVersionConflict
//   - CHECK, NOT NULL and data exceptions (the write breaks an invariant
//     or cannot be stored): authcapture.ErrInvalidArgument
//   - the context ended: the error matches ctx.Err()
//
// Anything else keeps no sentinel: the backend failed, and for a write the
// outcome may be unknown.
func translate(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if _, done := err.(*Error); done {
		return err // translated already
	}
	var sentinel error
	var pg *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		sentinel = authcapture.ErrNotFound
	case errors.As(err, &pg):
		sentinel = pgSentinel(pg)
	}
	if cerr := ctx.Err(); cerr != nil && sentinel == nil && !errors.Is(err, cerr) {
		err = errors.Join(cerr, err)
	}
	return &Error{Op: op, Sentinel: sentinel, Err: err}
}

// pgSentinel returns the sentinel for a PostgreSQL error, by SQLSTATE and
// constraint name, or nil.
func pgSentinel(pg *pgconn.PgError) error {
	switch {
	case pg.Code == "23505": // unique_violation
		switch pg.ConstraintName {
		case "authorizations_pkey", "provider_refs_pkey":
			return authcapture.ErrAlreadyExists
		case "idempotency_keys_pkey":
			return authcapture.ErrIdempotencyKeyExists
		}
		return authcapture.ErrVersionConflict
	case pg.Code == "40001", pg.Code == "40P01": // serialization_failure, deadlock_detected
		return authcapture.ErrVersionConflict
	case pg.Code == "23514", pg.Code == "23502": // check_violation, not_null_violation
		return authcapture.ErrInvalidArgument
	case strings.HasPrefix(pg.Code, "22"): // data exception: a value its column cannot hold
		return authcapture.ErrInvalidArgument
	}
	return nil
}
