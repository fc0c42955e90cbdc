package memstore

import (
	"container/heap"
	"context"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.DueClaimer = (*Store)(nil)

// dueAt is the time Store.due orders r by: its NextDue, or the end of a
// claim on it (ClaimDue) if later; zero (not in the heap) while nothing is
// due.
func dueAt(r *record) time.Time {
	if r.auth.NextDue.IsZero() || !r.claimed.After(r.auth.NextDue) {
		return r.auth.NextDue
	}
	return r.claimed
}

// ClaimDue implements authcapture.DueClaimer: it finds what Due would
// return and moves each one in the due heap to until. It costs
// O(limit log n).
func (s *Store) ClaimDue(ctx context.Context, t, until time.Time, limit int) ([]authcapture.DueRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := s.due.upTo(t, limit)
	for _, ref := range refs {
		r := s.record(ref.MerchantID, ref.ID)
		r.claimed = until.UTC()
		s.due.set(r)
	}
	return refs, nil
}

// dueHeap is a min-heap (container/heap) of authorizations by a time of
// theirs, earliest first: their next due time (Store.due) or the time
// their oldest action in flight began (Store.unsettled). Each record knows
// its index in each heap, so a write moves it in O(log n).
type dueHeap struct {
	items []dueItem
	// slot returns the field of r that holds its index in this heap.
	slot func(r *record) *int
	// time returns the time r is ordered by; zero keeps it out.
	time func(r *record) time.Time
}

type dueItem struct {
	at time.Time
	r  *record
}

func (h *dueHeap) Len() int           { return len(h.items) }
func (h *dueHeap) Less(i, j int) bool { return h.items[i].at.Before(h.items[j].at) }

func (h *dueHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.slot(h.items[i].r), *h.slot(h.items[j].r) = i, j
}

func (h *dueHeap) Push(x any) {
	it := x.(dueItem)
	*h.slot(it.r) = len(h.items)
	h.items = append(h.items, it)
}

func (h *dueHeap) Pop() any {
	old := h.items
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	h.items = old[:len(old)-1]
	*h.slot(it.r) = -1
	return it
}

// set places r by its time, or takes it out of the heap when that is zero.
func (h *dueHeap) set(r *record) {
	at, i := h.time(r), *h.slot(r)
	switch {
	case at.IsZero() && i >= 0:
		heap.Remove(h, i)
	case at.IsZero():
	case i >= 0:
		h.items[i].at = at
		heap.Fix(h, i)
	default:
		heap.Push(h, dueItem{at: at, r: r})
	}
}

// upTo returns up to limit authorizations due at or before t, earliest
// first. It leaves the heap as it is: it walks it from the root, keeping a
// frontier of the items not yet taken whose parents were, so it costs
// O(limit log limit).
func (h *dueHeap) upTo(t time.Time, limit int) []authcapture.DueRef {
	if limit <= 0 || len(h.items) == 0 {
		return nil
	}
	var out []authcapture.DueRef
	f := &frontier{h: h, idx: []int{0}}
	for f.Len() > 0 && len(out) < limit {
		i := heap.Pop(f).(int)
		if h.items[i].at.After(t) {
			break // every item left in the frontier is due later still
		}
		a := &h.items[i].r.auth
		out = append(out, authcapture.DueRef{MerchantID: a.MerchantID, ID: a.ID, DueAt: h.items[i].at})
		for c := 2*i + 1; c <= 2*i+2 && c < len(h.items); c++ {
			heap.Push(f, c)
		}
	}
	return out
}

// frontier is a min-heap of indexes of a dueHeap, by their due times.
type frontier struct {
	h   *dueHeap
	idx []int
}

func (f *frontier) Len() int           { return len(f.idx) }
func (f *frontier) Less(i, j int) bool { return f.h.Less(f.idx[i], f.idx[j]) }
func (f *frontier) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *frontier) Push(x any)         { f.idx = append(f.idx, x.(int)) }

func (f *frontier) Pop() any {
	i := f.idx[len(f.idx)-1]
	f.idx = f.idx[:len(f.idx)-1]
	return i
}
