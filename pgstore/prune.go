package pgstore

import (
	"context"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
)

var _ authcapture.Pruner = (*Store)(nil)

// PruneIdempotency implements authcapture.Pruner. It is one statement that
// finds the oldest records through the index on created_at (migration
// 005) and deletes them by primary key, so a batch costs O(limit log n);
// it locks only the rows it deletes.
// created_at keeps microseconds, so a record less than a microsecond
// older than before may stay.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.db.Exec(ctx, s.q.pruneIdempotency, before.Truncate(time.Microsecond), int64(limit))
	if err != nil {
		return 0, translate(ctx, "prune idempotency records", err)
	}
	return int(tag.RowsAffected()), nil
}

// PruneEvents implements authcapture.Pruner. It is one statement that reads
// the first limit stamped events below keepFrom through the position index
// and deletes, by position, those before the first one too young to go.
// Events not yet stamped have no position and are never deleted; stamping
// goes on from the cursor row, so positions are never handed out again.
// An event's At is read from its JSON to the microsecond, so an event less
// than a microsecond older than before may stay.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keepFrom int64, limit int) (int, error) {
	tag, err := s.db.Exec(ctx, s.q.pruneEvents, before.Truncate(time.Microsecond), keepFrom, int64(limit))
	if err != nil {
		return 0, translate(ctx, "prune events", err)
	}
	return int(tag.RowsAffected()), nil
}

// PruneAuthorizations implements authcapture.Pruner. It runs a short
// transaction (a savepoint of the caller's, under WithTx) of two
// statements. The first finds up to limit authorization rows through the
// index on closed_at (migration 007), oldest first, skipping rows another
// transaction has locked (they go in a later call), deletes them by
// primary key and returns their keys. The second, whose snapshot sees every write those rows had when
// they were locked, deletes their logs through the log's primary key, and
// the provider references and idempotency records their entries name
// through theirs. A writer that waited on one of the rows then finds it
// gone and writes nothing (authcapture.ErrNotFound). On a pool or a
// connection the transaction is READ COMMITTED, whatever the server's
// default. closed_at keeps microseconds, so an authorization closed less
// than a microsecond before before may stay.
func (s *Store) PruneAuthorizations(ctx context.Context, before time.Time, limit int) (n int, err error) {
	var tx pgx.Tx
	if b, ok := s.db.(txBeginner); ok && s.tx == nil {
		tx, err = b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	} else {
		tx, err = s.db.Begin(ctx)
	}
	if err != nil {
		return 0, translate(ctx, "prune authorizations", err)
	}
	defer func() {
		if err != nil {
			_ = rollback(ctx, tx)
			n = 0
		}
	}()
	rows, err := tx.Query(ctx, s.q.pruneAuthorizations, before.Truncate(time.Microsecond), int64(limit))
	if err != nil {
		return 0, translate(ctx, "prune authorizations", err)
	}
	var merchants, ids []string
	var merchant, id string
	if _, err := pgx.ForEachRow(rows, []any{&merchant, &id}, func() error {
		merchants, ids = append(merchants, merchant), append(ids, id)
		return nil
	}); err != nil {
		return 0, translate(ctx, "prune authorizations", err)
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, s.q.pruneAuthorizationRows, merchants, ids); err != nil {
			return 0, translate(ctx, "prune the logs of authorizations", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, translate(ctx, "prune authorizations: commit", err)
	}
	return len(ids), nil
}
