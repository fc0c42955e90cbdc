package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgconn"
)

// Write implements authcapture.Store. It is one statement (see the package
// documentation); inside a caller's transaction it runs under a savepoint.
func (s *Store) Write(ctx context.Context, w *authcapture.Write) error {
	if s.tx == nil {
		return s.write(ctx, s.db, w)
	}
	return s.savepoint(ctx, func(db DBTX) error { return s.write(ctx, db, w) })
}

// write runs the statement that applies w on db and tells why it wrote
// nothing, if it did not.
func (s *Store) write(ctx context.Context, db DBTX, w *authcapture.Write) error {
	sql, args, err := s.q.writeStatement(w)
	if err != nil {
		return err
	}
	a := w.Authorization
	var written bool
	var version, entries *int64
	if err := db.QueryRow(ctx, sql, args...).Scan(&written, &version, &entries); err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" && pg.ConstraintName == "provider_refs_pkey" {
			return translate(ctx, fmt.Sprintf("write %s: a provider reference it records is another authorization's (%s)",
				a.ID, pg.Detail), err)
		}
		if errors.As(err, &pg) && pg.Code == "23505" && a.Version == 1 &&
			(pg.ConstraintName == "events_pkey" || pg.ConstraintName == "entries_pkey") {
			// A new authorization under the ID of one pruned whose events
			// are kept: the ID is taken, as for an authorization that exists.
			return fmt.Errorf("pgstore: authorization %q: an authorization pruned under this ID still has events: %w",
				a.ID, authcapture.ErrAlreadyExists)
		}
		return translate(ctx, "write "+a.ID, err)
	}
	switch {
	case written:
		return nil
	case a.Version == 1:
		return fmt.Errorf("pgstore: authorization %q: %w", a.ID, authcapture.ErrAlreadyExists)
	case version == nil:
		return fmt.Errorf("pgstore: authorization %q: %w", a.ID, authcapture.ErrNotFound)
	case *version == a.Version-1 && len(w.Entries) > 0 && *entries != w.Entries[0].Seq-1:
		return fmt.Errorf("pgstore: authorization %q: entry seq %d does not continue the log at %d: %w",
			a.ID, w.Entries[0].Seq, *entries, authcapture.ErrInvalidArgument)
	case *version == a.Version-1:
		// The statement's snapshot saw the expected version, but a
		// concurrent writer committed a newer one while it waited on the
		// row lock.
		return fmt.Errorf("pgstore: authorization %q changed past version %d while this write waited: %w",
			a.ID, *version, authcapture.ErrVersionConflict)
	default:
		return fmt.Errorf("pgstore: authorization %q at version %d, write expects %d: %w",
			a.ID, *version, a.Version-1, authcapture.ErrVersionConflict)
	}
}

// savepoint runs fn on a savepoint of the caller's transaction, released if
// fn succeeds and rolled back if it fails, so that a failed statement
// leaves the transaction usable.
func (s *Store) savepoint(ctx context.Context, fn func(db DBTX) error) error {
	sp, err := s.tx.Begin(ctx)
	if err != nil {
		return translate(ctx, "savepoint", err)
	}
	if err := fn(sp); err != nil {
		_ = rollback(ctx, sp) // the transaction reports its own state to the caller
		return err
	}
	return translate(ctx, "release savepoint", sp.Commit(ctx))
}

// writeStatement checks w and returns the statement that applies it with
// its arguments.
func (q *queries) writeStatement(w *authcapture.Write) (string, []any, error) {
	if err := authcapture.CheckWrite(w); err != nil {
		return "", nil, err
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("pgstore: write: %s: %w", fmt.Sprintf(format, args...), authcapture.ErrInvalidArgument)
	}
	a := w.Authorization
	var refs []string
	for i := range w.Entries {
		if ref := w.Entries[i].ProviderRef; ref != "" && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	sh := writeShape{insert: a.Version == 1, entries: len(w.Entries), events: len(w.Events), idempotency: w.Idempotency != nil,
		refs: len(refs)}
	state, err := encode(a)
	if err != nil {
		return "", nil, invalid("encoding authorization %q: %v", a.ID, err)
	}
	c := a.Currency
	due, dueNS := splitDue(a)
	var pending any // NULL: nothing in flight
	var pendingNS int32
	if !a.PendingSince.IsZero() {
		pending, pendingNS = splitTime(a.PendingSince)
	}
	var closed any // NULL: not for PruneAuthorizations
	if at := a.PrunableSince(); !at.IsZero() {
		closed, _ = splitTime(at) // the later of ClosedAt and RefundableUntil
	}
	args := make([]any, 0, insertParams+entryParams*sh.entries+eventParams*sh.events+idempotencyParams+sh.refs)
	if sh.insert {
		args = append(args, a.MerchantID, a.ID, a.Version, string(a.Status()), string(c),
			numeric(c, a.Requested), numeric(c, a.Authorized), numeric(c, a.Captured),
			numeric(c, a.Pending), numeric(c, a.Voided), numeric(c, a.Expired),
			int64(len(w.Entries)), due, dueNS, a.CreatedAt, state, pending, pendingNS,
			numeric(c, a.PendingVoid), numeric(c, a.PendingDecrement), numeric(c, a.Overcaptured),
			numeric(c, a.Refunded), numeric(c, a.PendingRefund), closed)
	} else {
		var continues any // NULL: no entries, nothing to continue
		if len(w.Entries) > 0 {
			continues = w.Entries[0].Seq - 1
		}
		args = append(args, a.MerchantID, a.ID, a.Version, string(a.Status()),
			numeric(c, a.Requested), numeric(c, a.Authorized), numeric(c, a.Captured),
			numeric(c, a.Pending), numeric(c, a.Voided), numeric(c, a.Expired),
			int64(len(w.Entries)), due, dueNS, state, continues, pending, pendingNS,
			numeric(c, a.PendingVoid), numeric(c, a.PendingDecrement), numeric(c, a.Overcaptured),
			numeric(c, a.Refunded), numeric(c, a.PendingRefund), closed)
	}
	for i := range w.Entries {
		e := &w.Entries[i]
		if e.Amount < 0 {
			return "", nil, invalid("entry %d amount %d is negative", e.Seq, e.Amount)
		}
		data, err := encode(e)
		if err != nil {
			return "", nil, invalid("encoding entry %d: %v", e.Seq, err)
		}
		args = append(args, e.Seq, data)
	}
	for i := range w.Events {
		ev := w.Events[i]
		ev.Position = 0 // assigned when read
		data, err := encode(&ev)
		if err != nil {
			return "", nil, invalid("encoding event %d: %v", ev.Seq, err)
		}
		args = append(args, ev.Seq, data)
	}
	if r := w.Idempotency; r != nil {
		data, err := encode(r)
		if err != nil {
			return "", nil, invalid("encoding idempotency record: %v", err)
		}
		args = append(args, r.Key, r.AuthorizationID, r.CreatedAt, data)
	}
	for _, ref := range refs {
		args = append(args, ref)
	}
	return q.write(sh), args, nil
}
