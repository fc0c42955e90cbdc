package memstore

import (
	"math"
	"time"

	"github.com/authcapture/authcapture"
)

// dueHeap is a 4-ary min-heap of records by next due time. Each record
// knows its index, so a write moves it in O(log n). The heap holds the due
// time itself, so comparisons touch no record, and the four children of an
// item share a cache line or two: half the levels of a binary heap, and so
// about half the cache misses when a write moves an item through a large
// heap.
type dueHeap []dueItem

const arity = 4

type dueItem struct {
	// at is the due time in Unix nanoseconds; a time outside their range
	// is clamped to math.MinInt64 or math.MaxInt64, and then the exact
	// time is the record's (dueTime).
	at int64
	r  *record
}

// dueKey returns the heap key of t.
func dueKey(t time.Time) int64 {
	if n, ok := encTime(t); ok && n != tZero {
		return n
	}
	if t.Unix() < 0 {
		return math.MinInt64
	}
	return math.MaxInt64
}

func clamped(k int64) bool { return k == math.MinInt64 || k == math.MaxInt64 }

// dueTime returns the exact due time of the item at i.
func (h dueHeap) dueTime(i int) time.Time {
	if f := h[i].r.full(); f != nil {
		return f.NextDue
	}
	return decTime(h[i].at)
}

func (h dueHeap) less(i, j int) bool {
	a, b := h[i].at, h[j].at
	if a != b || !clamped(a) {
		return a < b
	}
	return h.dueTime(i).Before(h.dueTime(j))
}

// dueBy reports whether the item at i is due at or before t, whose key is k.
func (h dueHeap) dueBy(i int, t time.Time, k int64) bool {
	a := h[i].at
	if a != k || !clamped(a) {
		return a <= k
	}
	return !h.dueTime(i).After(t)
}

func (h dueHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].r.heapIdx = int32(i)
	h[j].r.heapIdx = int32(j)
}

func (h dueHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / arity
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// minChild returns the index of the earliest child of i, or -1 if i has
// none.
func (h dueHeap) minChild(i int) int {
	first := arity*i + 1
	if first >= len(h) || first < 0 {
		return -1
	}
	m := first
	for c := first + 1; c < min(first+arity, len(h)); c++ {
		if h.less(c, m) {
			m = c
		}
	}
	return m
}

func (h dueHeap) down(i int) bool {
	i0 := i
	for {
		c := h.minChild(i)
		if c < 0 || !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > i0
}

func (h dueHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

// set places r by its due time, or takes it out of the heap when nothing
// is due.
func (h *dueHeap) set(r *record, due time.Time) {
	i := int(r.heapIdx)
	if due.IsZero() {
		if i < 0 {
			return
		}
		last := len(*h) - 1
		if i != last {
			h.swap(i, last)
		}
		(*h)[last] = dueItem{}
		*h = (*h)[:last]
		r.heapIdx = -1
		if i != last {
			h.fix(i)
		}
		return
	}
	k := dueKey(due)
	if i >= 0 {
		if (*h)[i].at == k && !clamped(k) {
			return
		}
		(*h)[i].at = k
		h.fix(i)
		return
	}
	r.heapIdx = int32(len(*h))
	*h = append(*h, dueItem{at: k, r: r})
	h.up(len(*h) - 1)
}

// upTo returns up to limit records due at or before t, earliest first,
// walking the heap from the root with a frontier heap of the items not yet
// taken whose parents were: O(limit log limit).
func (h dueHeap) upTo(t time.Time, limit int) []authcapture.DueRef {
	if limit <= 0 || len(h) == 0 {
		return nil
	}
	k := dueKey(t)
	var out []authcapture.DueRef
	f := frontier{h: h, idx: []int{0}}
	for len(f.idx) > 0 && len(out) < limit {
		i := f.pop()
		if !h.dueBy(i, t, k) {
			break
		}
		r := h[i].r
		out = append(out, authcapture.DueRef{MerchantID: r.m.id, ID: r.id, DueAt: h.dueTime(i)})
		for c := arity*i + 1; c <= arity*i+arity && c < len(h); c++ {
			f.push(c)
		}
	}
	return out
}

// frontier is a min-heap of indexes of a dueHeap.
type frontier struct {
	h   dueHeap
	idx []int
}

func (f *frontier) less(a, b int) bool { return f.h.less(f.idx[a], f.idx[b]) }

func (f *frontier) push(i int) {
	f.idx = append(f.idx, i)
	j := len(f.idx) - 1
	for j > 0 {
		p := (j - 1) / 2
		if !f.less(j, p) {
			break
		}
		f.idx[j], f.idx[p] = f.idx[p], f.idx[j]
		j = p
	}
}

func (f *frontier) pop() int {
	top := f.idx[0]
	n := len(f.idx) - 1
	f.idx[0] = f.idx[n]
	f.idx = f.idx[:n]
	j := 0
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c2 := c + 1; c2 < n && f.less(c2, c) {
			c = c2
		}
		if !f.less(c, j) {
			break
		}
		f.idx[j], f.idx[c] = f.idx[c], f.idx[j]
		j = c
	}
	return top
}
