package memstore

import (
	"container/heap"
	"time"

	"github.com/authcapture/authcapture"
)

// dueHeap is a min-heap (container/heap) of the authorizations with a
// next due time, earliest first. Each record knows its index, so a write
// moves it in O(log n).
type dueHeap []dueItem

type dueItem struct {
	at time.Time // the record's NextDue
	r  *record
}

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }

func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].r.due, h[j].r.due = i, j
}

func (h *dueHeap) Push(x any) {
	it := x.(dueItem)
	it.r.due = len(*h)
	*h = append(*h, it)
}

func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	it.r.due = -1
	return it
}

// set places r by its NextDue, or takes it out of the heap when nothing is
// due.
func (h *dueHeap) set(r *record) {
	at := r.auth.NextDue
	switch {
	case at.IsZero() && r.due >= 0:
		heap.Remove(h, r.due)
	case at.IsZero():
	case r.due >= 0:
		(*h)[r.due].at = at
		heap.Fix(h, r.due)
	default:
		heap.Push(h, dueItem{at: at, r: r})
	}
}

// upTo returns up to limit authorizations due at or before t, earliest
// first. It leaves the heap as it is: it walks it from the root, keeping a
// frontier of the items not yet taken whose parents were, so it costs
// O(limit log limit).
func (h dueHeap) upTo(t time.Time, limit int) []authcapture.DueRef {
	if limit <= 0 || len(h) == 0 {
		return nil
	}
	var out []authcapture.DueRef
	f := &frontier{h: h, idx: []int{0}}
	for f.Len() > 0 && len(out) < limit {
		i := heap.Pop(f).(int)
		if h[i].at.After(t) {
			break // every item left in the frontier is due later still
		}
		a := &h[i].r.auth
		out = append(out, authcapture.DueRef{MerchantID: a.MerchantID, ID: a.ID, DueAt: h[i].at})
		for c := 2*i + 1; c <= 2*i+2 && c < len(h); c++ {
			heap.Push(f, c)
		}
	}
	return out
}

// frontier is a min-heap of indexes of a dueHeap, by their due times.
type frontier struct {
	h   dueHeap
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
