package memstore

import (
	"container/heap"
	"time"

	"github.com/authcapture/authcapture"
)

// dueHeap is a binary min-heap of records by next due time. Each record
// knows its index, so a write moves it in O(log n).
type dueHeap []*record

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	return h[i].a.NextDue.Before(h[j].a.NextDue)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *dueHeap) Push(x any) {
	r := x.(*record)
	r.heapIdx = len(*h)
	*h = append(*h, r)
}
func (h *dueHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.heapIdx = -1
	return r
}

// set places r by its (already stored) due time, or takes it out of the
// heap when nothing is due.
func (h *dueHeap) set(r *record, due time.Time) {
	switch {
	case due.IsZero() && r.heapIdx >= 0:
		heap.Remove(h, r.heapIdx)
	case due.IsZero():
	case r.heapIdx >= 0:
		heap.Fix(h, r.heapIdx)
	default:
		heap.Push(h, r)
	}
}

// upTo returns up to limit records due at or before t, earliest first,
// walking the heap from the root with a frontier heap: O(limit log limit).
func (h dueHeap) upTo(t time.Time, limit int) []authcapture.DueRef {
	if limit <= 0 || len(h) == 0 {
		return nil
	}
	var out []authcapture.DueRef
	frontier := indexHeap{h: h, idx: []int{0}}
	for len(frontier.idx) > 0 && len(out) < limit {
		i := heap.Pop(&frontier).(int)
		r := h[i]
		if r.a.NextDue.After(t) {
			break
		}
		out = append(out, authcapture.DueRef{MerchantID: r.a.MerchantID, ID: r.a.ID, DueAt: r.a.NextDue})
		for _, c := range [2]int{2*i + 1, 2*i + 2} {
			if c < len(h) {
				heap.Push(&frontier, c)
			}
		}
	}
	return out
}

// indexHeap orders indexes of a dueHeap by their due time.
type indexHeap struct {
	h   dueHeap
	idx []int
}

func (f indexHeap) Len() int           { return len(f.idx) }
func (f indexHeap) Less(i, j int) bool { return f.h.Less(f.idx[i], f.idx[j]) }
func (f indexHeap) Swap(i, j int)      { f.idx[i], f.idx[j] = f.idx[j], f.idx[i] }
func (f *indexHeap) Push(x any)        { f.idx = append(f.idx, x.(int)) }
func (f *indexHeap) Pop() any {
	n := len(f.idx) - 1
	x := f.idx[n]
	f.idx = f.idx[:n]
	return x
}
