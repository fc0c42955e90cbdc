package memstore

import (
	"container/heap"
	"context"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Pruner = (*Store)(nil)

// keyRef names an idempotency record in Store.keys.
type keyRef struct {
	merchant, key string
	at            time.Time // the record's CreatedAt
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
// O(limit log n).
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < limit && len(s.keys) > 0 && s.keys[0].at.Before(before) {
		ref := heap.Pop(&s.keys).(keyRef)
		if m := s.merchants[ref.merchant]; m != nil {
			delete(m.keys, ref.key)
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
