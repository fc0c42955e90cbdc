package memstore

import (
	"container/heap"
	"context"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Pruner = (*Store)(nil)

// keyRef names an idempotency record in Store.keys. PruneAuthorizations
// deletes records without taking them out of the heap, so a ref whose
// record is no longer the one stored under its key is skipped when it
// comes up.
type keyRef struct {
	rec *authcapture.IdempotencyRecord
	at  time.Time // the record's CreatedAt
}

// keyHeap orders idempotency records by CreatedAt, oldest first.
type keyHeap []keyRef

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(keyRef)) }
func (h *keyHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	old[n] = keyRef{}
	*h = shrink(old[:n])
	return x
}

// PruneIdempotency implements authcapture.Pruner. It costs
// O(limit log n), plus O(log n) for each record PruneAuthorizations
// deleted that it passes.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < limit && len(s.keys) > 0 && s.keys[0].at.Before(before) {
		ref := heap.Pop(&s.keys).(keyRef)
		if m := s.merchants[ref.rec.MerchantID]; m != nil && m.keys[ref.rec.Key] == ref.rec {
			delete(m.keys, ref.rec.Key)
			n++
		}
	}
	return n, nil
}

// PruneEvents implements authcapture.Pruner. It costs O(limit) plus a copy
// of the events kept.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, keepFrom int64, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	perMerchant := map[string]int{}
	for n < len(s.events) && n < limit {
		ev := s.events[n]
		if ev.Position >= keepFrom || !ev.At.Before(before) {
			break
		}
		perMerchant[ev.MerchantID]++
		n++
	}
	if n == 0 {
		return 0, nil
	}
	s.events = dropFront(s.events, n)
	for id, k := range perMerchant {
		m := s.merchants[id]
		m.events = dropFront(m.events, k)
	}
	return n, nil
}

// prunableSince is the time Store.closed orders r by: the later of its
// ClosedAt and RefundableUntil while it is closed with no provider action
// in flight, else zero (not in the heap).
func prunableSince(r *record) time.Time { return r.auth.PrunableSince() }

// PruneAuthorizations implements authcapture.Pruner. It costs
// O(limit log n) plus the length of the logs deleted.
func (s *Store) PruneAuthorizations(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < limit && s.closed.Len() > 0 && s.closed.items[0].at.Before(before) {
		r := s.closed.items[0].r
		heap.Remove(&s.closed, 0)
		// A closed authorization is neither due nor in flight; these
		// only keep the heaps right whatever a write stored.
		if r.due >= 0 {
			heap.Remove(&s.due, r.due)
		}
		if r.unsettled >= 0 {
			heap.Remove(&s.unsettled, r.unsettled)
		}
		a := &r.auth
		m := s.merchants[a.MerchantID]
		for _, e := range r.log {
			if e.ProviderRef != "" && m.refs[e.ProviderRef] == a.ID {
				delete(m.refs, e.ProviderRef)
			}
			if rec := m.keys[e.IdempotencyKey]; rec != nil && rec.AuthorizationID == a.ID {
				delete(m.keys, e.IdempotencyKey)
			}
		}
		delete(m.auths, a.ID)
		n++
	}
	s.closed.items = shrink(s.closed.items)
	return n, nil
}

// dropFront returns s without its first n elements, in the same backing
// array unless shrink gives it a smaller one; the elements left behind are
// cleared, so that what they pointed to can be collected.
func dropFront[T any](s []*T, n int) []*T {
	k := copy(s, s[n:])
	clear(s[k:])
	return shrink(s[:k])
}

// shrink returns s in a smaller backing array if it uses under a quarter of
// a large one, so that a slice that grew and was pruned gives memory back.
func shrink[S ~[]E, E any](s S) S {
	if cap(s) < 1024 || len(s) >= cap(s)/4 {
		return s
	}
	out := make(S, len(s), 2*len(s))
	copy(out, s)
	return out
}
