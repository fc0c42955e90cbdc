// Package memstore is the embedded, in-memory authcapture.Store: the
// default for tests, examples and single-process services that keep their
// payments elsewhere. It is safe for concurrent use. Everything lives in the
// process and is lost when it exits.
//
// The store keeps, per merchant, maps of whole copies of what it is given:
// authorizations with their logs, idempotency records by key, and events in
// position order; one more slice lists the events of all merchants in
// position order, for AllEvents. It copies on the way in and on the way
// out, so a caller can never change stored state through a pointer it
// kept, and it returns times in UTC. Authorizations with something due are kept in a heap
// ordered by their next due time (or the end of a ClaimDue claim), so Due and ClaimDue
// cost O(limit log n), and those
// with provider actions in flight in another, ordered by PendingSince, for
// Unsettled. Each merchant's provider references are a map to the
// authorizations that recorded them. A third heap orders the idempotency
// records by CreatedAt, for PruneIdempotency, and a fourth the closed
// authorizations with nothing in flight by the later of ClosedAt and
// RefundableUntil (Authorization.PrunableSince), for
// PruneAuthorizations; PruneEvents cuts the front of the event slices,
// which give their memory back as they shrink.
package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Store = (*Store)(nil)

// Store is an in-memory authcapture.Store. The zero value is not usable;
// call New.
type Store struct {
	mu        sync.RWMutex
	merchants map[string]*merchant
	due       dueHeap              // by NextDue
	unsettled dueHeap              // by PendingSince
	pos       int64                // the position of the last event written
	events    []*authcapture.Event // every merchant's, in position order
	keys      keyHeap              // every idempotency record, by CreatedAt
	closed    dueHeap              // closed with nothing in flight, by PrunableSince
}

// merchant holds one merchant's authorizations, idempotency records and
// events. Records, entries and events are held by pointer, so that the maps
// and slices that list them grow without copying them.
type merchant struct {
	auths  map[string]*record
	keys   map[string]*authcapture.IdempotencyRecord
	events []*authcapture.Event // in position order
	refs   map[string]string    // provider reference -> authorization ID
}

// record is one stored authorization with its log.
type record struct {
	auth      authcapture.Authorization
	log       []*authcapture.Entry // Seq n is at index n-1
	due       int                  // index in Store.due, or -1
	unsettled int                  // index in Store.unsettled, or -1
	closed    int                  // index in Store.closed, or -1
	claimed   time.Time            // ClaimDue's claim ends then; zero if none
}

// New returns an empty store.
func New() *Store {
	return &Store{
		merchants: map[string]*merchant{},
		due:       dueHeap{slot: func(r *record) *int { return &r.due }, time: dueAt},
		unsettled: dueHeap{slot: func(r *record) *int { return &r.unsettled },
			time: func(r *record) time.Time { return r.auth.PendingSince }},
		closed: dueHeap{slot: func(r *record) *int { return &r.closed },
			time: prunableSince},
	}
}

// record returns the authorization id of merchantID, or nil.
func (s *Store) record(merchantID, id string) *record {
	if m := s.merchants[merchantID]; m != nil {
		return m.auths[id]
	}
	return nil
}

func notFound(id string) error {
	return fmt.Errorf("memstore: authorization %q: %w", id, authcapture.ErrNotFound)
}

// Get implements authcapture.Store.
func (s *Store) Get(ctx context.Context, merchantID, id string) (*authcapture.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.record(merchantID, id)
	if r == nil {
		return nil, notFound(id)
	}
	return r.auth.Clone(), nil
}

// Entries implements authcapture.Store.
func (s *Store) Entries(ctx context.Context, merchantID, id string, after int64, limit int) ([]authcapture.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.record(merchantID, id)
	if r == nil {
		return nil, notFound(id)
	}
	after = min(max(after, 0), int64(len(r.log)))
	return copies(r.log[after:], limit), nil
}

// copies returns copies of the first limit values of ps (all of them if
// limit <= 0), or nil if there are none.
func copies[T any](ps []*T, limit int) []T {
	if limit > 0 && len(ps) > limit {
		ps = ps[:limit]
	}
	if len(ps) == 0 {
		return nil
	}
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// Idempotency implements authcapture.Store.
func (s *Store) Idempotency(ctx context.Context, merchantID, key string) (*authcapture.IdempotencyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.merchants[merchantID]; m != nil {
		if rec := m.keys[key]; rec != nil {
			c := *rec
			return &c, nil
		}
	}
	return nil, fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrNotFound)
}

// Write implements authcapture.Store.
func (s *Store) Write(ctx context.Context, w *authcapture.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// CheckWrite also ensures that the events and the idempotency record
	// belong to the authorization's merchant, and that the entries run
	// without gaps.
	if err := authcapture.CheckWrite(w); err != nil {
		return err
	}
	in := w.Authorization
	s.mu.Lock()
	defer s.mu.Unlock()

	// Check everything first: a failed write changes nothing.
	m := s.merchants[in.MerchantID]
	r := s.record(in.MerchantID, in.ID)
	switch {
	case in.Version == 1 && r != nil:
		return fmt.Errorf("memstore: authorization %q: %w", in.ID, authcapture.ErrAlreadyExists)
	case in.Version != 1 && r == nil:
		return notFound(in.ID)
	case in.Version != 1 && r.auth.Version != in.Version-1:
		return fmt.Errorf("memstore: authorization %q at version %d, write expects %d: %w",
			in.ID, r.auth.Version, in.Version-1, authcapture.ErrVersionConflict)
	}
	if len(w.Entries) > 0 {
		var have int64
		if r != nil {
			have = int64(len(r.log))
		}
		if seq := w.Entries[0].Seq; seq != have+1 {
			return fmt.Errorf("memstore: entry seq %d does not continue the log at %d: %w", seq, have, authcapture.ErrInvalidArgument)
		}
	}
	if w.Idempotency != nil && m != nil {
		if m.keys[w.Idempotency.Key] != nil {
			return fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrIdempotencyKeyExists)
		}
	}
	if m != nil {
		for i := range w.Entries {
			ref := w.Entries[i].ProviderRef
			if id, ok := m.refs[ref]; ok && ref != "" && id != in.ID {
				return fmt.Errorf("memstore: authorization %q: provider reference %q is already authorization %q's: %w",
					in.ID, ref, id, authcapture.ErrAlreadyExists)
			}
		}
	}

	// Checked; from here on nothing fails.
	if m == nil {
		m = &merchant{auths: map[string]*record{}, keys: map[string]*authcapture.IdempotencyRecord{}, refs: map[string]string{}}
		s.merchants[in.MerchantID] = m
	}
	if r == nil {
		r = &record{due: -1, unsettled: -1, closed: -1}
		m.auths[in.ID] = r
	}
	r.auth = *in.Clone()
	r.claimed = time.Time{}
	utcAuth(&r.auth)
	for _, e := range w.Entries {
		e.At = e.At.UTC()
		r.log = append(r.log, &e)
		if e.ProviderRef != "" {
			m.refs[e.ProviderRef] = in.ID
		}
	}
	if w.Idempotency != nil {
		rec := *w.Idempotency
		rec.CreatedAt = rec.CreatedAt.UTC()
		m.keys[rec.Key] = &rec
		heap.Push(&s.keys, keyRef{rec: &rec, at: rec.CreatedAt})
	}
	for _, ev := range w.Events {
		s.pos++
		ev.Position = s.pos
		ev.At, ev.ExpiresAt, ev.PreviousExpiresAt = ev.At.UTC(), ev.ExpiresAt.UTC(), ev.PreviousExpiresAt.UTC()
		m.events = append(m.events, &ev)
		s.events = append(s.events, &ev)
	}
	s.due.set(r)
	s.unsettled.set(r)
	s.closed.set(r)
	return nil
}

// utcAuth sets every time of a to the same instant in UTC.
func utcAuth(a *authcapture.Authorization) {
	for _, t := range []*time.Time{&a.CaptureAt, &a.CancelAt, &a.CreatedAt, &a.AuthorizedAt,
		&a.ExpiresAt, &a.ExpiredAt, &a.ClosedAt, &a.NextDue, &a.PendingSince, &a.ReauthorizedAt, &a.ExpiringNoticeAt, &a.RefundableUntil} {
		*t = t.UTC()
	}
	for i := range a.PendingCaptures {
		a.PendingCaptures[i].BegunAt = a.PendingCaptures[i].BegunAt.UTC()
	}
	for i := range a.PendingVoids {
		a.PendingVoids[i].BegunAt = a.PendingVoids[i].BegunAt.UTC()
	}
	for i := range a.PendingRefunds {
		a.PendingRefunds[i].BegunAt = a.PendingRefunds[i].BegunAt.UTC()
	}
	if c := a.PendingAmountChange; c != nil {
		c.BegunAt = c.BegunAt.UTC()
	}
}

// Events implements authcapture.Store.
func (s *Store) Events(ctx context.Context, merchantID string, after int64, limit int) ([]authcapture.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.merchants[merchantID]
	if m == nil {
		return nil, nil
	}
	i := sort.Search(len(m.events), func(i int) bool { return m.events[i].Position > after })
	return copies(m.events[i:], limit), nil
}

// AllEvents implements authcapture.Store.
func (s *Store) AllEvents(ctx context.Context, after int64, limit int) ([]authcapture.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].Position > after })
	return copies(s.events[i:], limit), nil
}

// Due implements authcapture.Store.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]authcapture.DueRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.due.upTo(t, limit), nil
}

// FindByProviderRef implements authcapture.Store.
func (s *Store) FindByProviderRef(ctx context.Context, merchantID, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.merchants[merchantID]; m != nil {
		if id, ok := m.refs[ref]; ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("memstore: provider reference %q: %w", ref, authcapture.ErrNotFound)
}

// Unsettled implements authcapture.Store.
func (s *Store) Unsettled(ctx context.Context, t time.Time, limit int) ([]authcapture.DueRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.unsettled.upTo(t, limit), nil
}

// Len returns the number of authorizations stored.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, m := range s.merchants {
		n += len(m.auths)
	}
	return n
}
