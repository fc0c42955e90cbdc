package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5"
)

const (
	// stampChunk bounds the events one stamping statement numbers.
	stampChunk = 10_000
	// stampRounds bounds the stamping statements of one Events call; what
	// is left is stamped by the next call, at higher positions.
	stampRounds = 8
	// eventsRetries bounds the retries of an Events call that lost a
	// serialization conflict.
	eventsRetries = 16
)

// Events implements authcapture.Store. It first stamps positions on the
// committed events that have none, under the lock of the cursor row, then
// reads the merchant's stamped events after the given position; see the
// package documentation for why this never skips an event. A call that
// loses a serialization conflict (under a SERIALIZABLE default even a read
// can) runs again, whole: what it stamped stays stamped.
func (s *Store) Events(ctx context.Context, merchantID string, after int64, limit int) ([]authcapture.Event, error) {
	return s.retryEvents(ctx, "events", s.q.readEvents, []any{merchantID, after, limitArg(limit)})
}

// AllEvents implements authcapture.Store. It stamps and retries as Events
// does, then reads the stamped events of every merchant after the given
// position.
func (s *Store) AllEvents(ctx context.Context, after int64, limit int) ([]authcapture.Event, error) {
	return s.retryEvents(ctx, "all events", s.q.readAllEvents, []any{after, limitArg(limit)})
}

// limitArg is the LIMIT of an events query: limit, or no limit if limit <= 0.
func limitArg(limit int) int64 {
	if limit > 0 {
		return int64(limit)
	}
	return math.MaxInt64
}

// retryEvents runs events again while it loses serialization conflicts, up
// to eventsRetries times.
func (s *Store) retryEvents(ctx context.Context, op, query string, args []any) ([]authcapture.Event, error) {
	for attempt := 0; ; attempt++ {
		events, err := s.events(ctx, op, query, args)
		if err == nil || !errors.Is(err, authcapture.ErrVersionConflict) || attempt >= eventsRetries {
			return events, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("pgstore: %s: %w", op, ctx.Err())
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
}

// events stamps the pending events' positions and runs query, which reads
// stamped events in position order.
func (s *Store) events(ctx context.Context, op, query string, args []any) ([]authcapture.Event, error) {
	if err := s.stamp(ctx); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(ctx, op, err)
	}
	defer rows.Close()
	var out []authcapture.Event
	for rows.Next() {
		var pos int64
		var data []byte
		if err := rows.Scan(&pos, &data); err != nil {
			return nil, translate(ctx, op, err)
		}
		e, err := decodeEvent(pos, data)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, op, err)
	}
	return out, nil
}

// stamp assigns positions to committed events that have none. It only
// takes the cursor lock when there is something to stamp.
func (s *Store) stamp(ctx context.Context) error {
	var pending bool
	if err := s.db.QueryRow(ctx, s.q.pending).Scan(&pending); err != nil {
		return translate(ctx, "events: looking for unpositioned events", err)
	}
	for round := 0; pending && round < stampRounds; round++ {
		n, err := s.stampOnce(ctx)
		if err != nil {
			return err
		}
		pending = n == stampChunk
	}
	return nil
}

// stampOnce runs one stamping transaction: lock the cursor row, number up
// to stampChunk unpositioned events after its last position, advance it.
// The two statements go in one batch. On a pool or a connection the
// transaction is READ COMMITTED, whatever the server's default: the locking
// read then waits for the cursor row instead of failing with a
// serialization error, as stampers and writers under SERIALIZABLE would
// over and over. Under WithTx it is a savepoint of the caller's
// transaction.
func (s *Store) stampOnce(ctx context.Context) (int64, error) {
	var n int64
	run := func(db DBTX) error {
		b := &pgx.Batch{}
		b.Queue(s.q.lockCursor)
		b.Queue(s.q.stamp, int64(stampChunk)).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
		return db.SendBatch(ctx, b).Close()
	}
	var err error
	if b, ok := s.db.(txBeginner); ok && s.tx == nil {
		err = pgx.BeginTxFunc(ctx, b, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error { return run(tx) })
	} else if s.tx == nil {
		err = run(s.db)
	} else {
		err = s.savepoint(ctx, run)
	}
	return n, translate(ctx, "events: stamping positions", err)
}
