package memstore

// index is an open-addressing hash index from strings to references (a
// record number, a slot of a key table). A slot holds the low 32 bits of
// the string's hash and the reference, in one word and no pointer: eight
// bytes per slot, nothing for the garbage collector to scan, and one cache
// line probed for most lookups. The strings themselves live with what the
// references name; the caller's match function compares them. Nothing is
// ever removed.
type index struct {
	slots []uint64 // hash<<32 | ref; 0 is empty, refs are never 0
	n     int
}

// lookup returns the reference of a string with hash h for which match
// is true, or 0 if there is none.
func (x *index) lookup(h uint32, match func(ref uint32) bool) uint32 {
	if len(x.slots) == 0 {
		return 0
	}
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := x.slots[i]
		if e == 0 {
			return 0
		}
		if uint32(e>>32) == h && match(uint32(e)) {
			return uint32(e)
		}
	}
}

// insert adds ref under hash h, growing the index to keep it at most
// three quarters full.
func (x *index) insert(h uint32, ref uint32) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.grow()
	}
	x.put(uint64(h)<<32 | uint64(ref))
	x.n++
}

func (x *index) put(e uint64) {
	mask := uint32(len(x.slots) - 1)
	for i := uint32(e>>32) & mask; ; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			x.slots[i] = e
			return
		}
	}
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]uint64, max(8, 2*len(old)))
	for _, e := range old {
		if e != 0 {
			x.put(e)
		}
	}
}

// maxRefs bounds the references an index holds, and so the records of a
// store and the keys of a merchant.
const maxRefs = 1<<32 - 2

// slab is an append-only sequence in chunks, so it grows without copying
// what it holds: only the first chunk grows by copying, up to slabChunk;
// every chunk but the last is full.
type slab[T any] struct {
	chunks [][]T
	n      int
}

const slabChunk = 512

func (s *slab[T]) add(v T) {
	k := len(s.chunks) - 1
	switch {
	case k < 0:
		s.chunks = append(s.chunks, make([]T, 0, 4))
		k = 0
	case len(s.chunks[k]) == slabChunk:
		s.chunks = append(s.chunks, make([]T, 0, slabChunk))
		k++
	case len(s.chunks[k]) == cap(s.chunks[k]):
		grown := make([]T, len(s.chunks[k]), min(2*cap(s.chunks[k]), slabChunk))
		copy(grown, s.chunks[k])
		s.chunks[k] = grown
	}
	s.chunks[k] = append(s.chunks[k], v)
	s.n++
}

func (s *slab[T]) at(i int) *T { return &s.chunks[i/slabChunk][i%slabChunk] }

// records holds every record of a store in fixed chunks, so a record never
// moves and its number (1-based) finds it without a pointer.
type records struct {
	chunks []*[recChunk]record
	n      int
}

const recChunk = 16 // 16 records of 200 bytes fill a 3200-byte size class

// add returns a new record and its number. The caller checks that the
// numbers are not used up (maxRefs).
func (t *records) add() (*record, uint32) {
	i := t.n
	if i%recChunk == 0 {
		t.chunks = append(t.chunks, new([recChunk]record))
	}
	t.n++
	return &t.chunks[i/recChunk][i%recChunk], uint32(t.n)
}

func (t *records) get(id uint32) *record {
	i := int(id) - 1
	return &t.chunks[i/recChunk][i%recChunk]
}
