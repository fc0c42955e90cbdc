package pgstore

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/authcapture/authcapture"
)

// Get implements authcapture.Store.
func (s *Store) Get(ctx context.Context, merchantID, id string) (*authcapture.Authorization, error) {
	var state []byte
	if err := s.db.QueryRow(ctx, s.q.get, merchantID, id).Scan(&state); err != nil {
		return nil, translate(ctx, fmt.Sprintf("authorization %q", id), err)
	}
	return decodeAuthorization(state)
}

// Entries implements authcapture.Store.
func (s *Store) Entries(ctx context.Context, merchantID, id string, after int64, limit int) ([]authcapture.Entry, error) {
	if after < 0 {
		after = 0
	}
	max := int64(math.MaxInt64)
	if limit > 0 {
		max = int64(limit)
	}
	rows, err := s.db.Query(ctx, s.q.entries, merchantID, id, after, max)
	if err != nil {
		return nil, translate(ctx, fmt.Sprintf("entries of %q", id), err)
	}
	defer rows.Close()
	var out []authcapture.Entry
	found := false
	for rows.Next() {
		found = true
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, translate(ctx, fmt.Sprintf("entries of %q", id), err)
		}
		if data == nil {
			continue // the authorization exists and has no entries after
		}
		e, err := decodeEntry(data)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, fmt.Sprintf("entries of %q", id), err)
	}
	if !found {
		return nil, fmt.Errorf("pgstore: authorization %q: %w", id, authcapture.ErrNotFound)
	}
	return out, nil
}

// Idempotency implements authcapture.Store.
func (s *Store) Idempotency(ctx context.Context, merchantID, key string) (*authcapture.IdempotencyRecord, error) {
	var data []byte
	if err := s.db.QueryRow(ctx, s.q.idempotency, merchantID, key).Scan(&data); err != nil {
		return nil, translate(ctx, "idempotency key", err)
	}
	return decodeIdempotency(data)
}

var _ authcapture.DueClaimer = (*Store)(nil)

// Due implements authcapture.Store. It reads the partial index on the next
// due time, earliest first: O(limit log n).
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]authcapture.DueRef, error) {
	return s.refsUpTo(ctx, "due", s.q.due, t, limit)
}

// ClaimDue implements authcapture.DueClaimer. It is one statement that
// reads the first limit due rows through the due index, locking them
// (skipping rows another transaction holds, which a later call finds),
// and moves their next_due to until. A write sets next_due from the state
// it writes, which ends the claim. The claim changes neither the version
// nor the state.
func (s *Store) ClaimDue(ctx context.Context, t, until time.Time, limit int) ([]authcapture.DueRef, error) {
	if limit <= 0 {
		return nil, ctx.Err()
	}
	us, ns := splitTime(t)
	untilUS, untilNS := splitTime(until)
	return s.queryRefs(ctx, "claim due", s.q.claimDue, us, ns, untilUS, untilNS, int64(limit))
}

// FindByProviderRef implements authcapture.Store. It reads the
// provider_refs table by its primary key.
func (s *Store) FindByProviderRef(ctx context.Context, merchantID, ref string) (string, error) {
	var id string
	if err := s.db.QueryRow(ctx, s.q.providerRef, merchantID, ref).Scan(&id); err != nil {
		return "", translate(ctx, fmt.Sprintf("provider reference %q", ref), err)
	}
	return id, nil
}

// Unsettled implements authcapture.Store. It reads the partial index on
// the time the oldest action in flight began, oldest first: O(limit log n).
func (s *Store) Unsettled(ctx context.Context, t time.Time, limit int) ([]authcapture.DueRef, error) {
	return s.refsUpTo(ctx, "unsettled", s.q.unsettled, t, limit)
}

// refsUpTo runs sql, a read of one of the partial time indexes, for the
// first limit authorizations whose time is at or before t.
func (s *Store) refsUpTo(ctx context.Context, what, sql string, t time.Time, limit int) ([]authcapture.DueRef, error) {
	if limit <= 0 {
		return nil, ctx.Err()
	}
	us, ns := splitTime(t)
	return s.queryRefs(ctx, what, sql, us, ns, int64(limit))
}

// queryRefs runs sql with args and returns the rows it reads: merchant,
// ID and a time split as splitTime splits it.
func (s *Store) queryRefs(ctx context.Context, what, sql string, args ...any) ([]authcapture.DueRef, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(ctx, what, err)
	}
	defer rows.Close()
	var out []authcapture.DueRef
	for rows.Next() {
		var r authcapture.DueRef
		var at time.Time
		var atNS int32
		if err := rows.Scan(&r.MerchantID, &r.ID, &at, &atNS); err != nil {
			return nil, translate(ctx, what, err)
		}
		r.DueAt = joinTime(at, atNS)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, what, err)
	}
	return out, nil
}
