package pgstore

import (
	"context"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Pruner = (*Store)(nil)

// PruneIdempotency implements authcapture.Pruner. It is one statement that
// finds the oldest records through the index on created_at (migration
// 005) and deletes them by primary key; it locks only the rows it deletes.
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
