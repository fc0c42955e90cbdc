// Package memstore is the embedded, in-memory authcapture.Store: the
// default for tests, examples and single-process services that keep their
// payments elsewhere. It is safe for concurrent use. Everything lives in the
// process and is lost when it exits.
//
// The store copies on the way in and on the way out, so a caller can never
// change stored state through a pointer it kept. It keeps compact forms of
// what it is given (enum-like strings as codes, times as Unix nanoseconds,
// events and idempotency records by reference to their authorization and
// log entry), so an open authorization with its log, events and keys takes
// well under a kilobyte; values that do not fit a compact form are kept
// whole. Times are returned in UTC. Open authorizations are kept in a heap
// ordered by their next due time, so Due costs O(limit log n).
package memstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Store = (*Store)(nil)

// Store is an in-memory authcapture.Store. The zero value is not usable;
// call New.
type Store struct {
	mu        sync.RWMutex
	seed      maphash.Seed
	merchants map[string]*merchant
	recs      records
	pos       int64 // last event position
	due       dueHeap
	tables    tables
}

// merchant holds one merchant's authorizations, keys and events.
type merchant struct {
	id     string
	auths  index       // authorization ID -> record number
	keys   index       // idempotency key -> slot in keyed, plus one
	keyed  slab[idem]  // the key table, in write order
	events slab[event] // in position order
	spill  *spill
}

// New returns an empty store.
func New() *Store {
	return &Store{seed: maphash.MakeSeed(), merchants: map[string]*merchant{}, tables: newTables()}
}

func (s *Store) hash(str string) uint32 { return uint32(maphash.String(s.seed, str)) }

// merchant returns the merchant id, adding it if it is new.
func (s *Store) merchant(id string) *merchant {
	m := s.merchants[id]
	if m == nil {
		m = &merchant{id: id}
		s.merchants[id] = m
	}
	return m
}

// find returns the record of id in m, or nil; h is the hash of id.
func (s *Store) find(m *merchant, id string, h uint32) *record {
	ref := m.auths.lookup(h, func(ref uint32) bool { return s.recs.get(ref).id == id })
	if ref == 0 {
		return nil
	}
	return s.recs.get(ref)
}

func (s *Store) record(merchantID, id string) *record {
	if m := s.merchants[merchantID]; m != nil {
		return s.find(m, id, s.hash(id))
	}
	return nil
}

func notFound(id string) error {
	return fmt.Errorf("memstore: authorization %q: %w", id, authcapture.ErrNotFound)
}

// errFull is returned by a write that would exceed the store's limits
// (2^32-1 authorizations, or as many keys for one merchant).
var errFull = errors.New("memstore: store is full")

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
	return s.auth(r), nil
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
	if after < 0 {
		after = 0
	}
	n := int64(r.log.len())
	if after >= n {
		return nil, nil
	}
	if limit > 0 && n-after > int64(limit) {
		n = after + int64(limit)
	}
	out := make([]authcapture.Entry, n-after)
	for i := range out {
		seq := after + int64(i) + 1 // Seq n is at index n-1
		out[i] = s.decEntry(r.log.at(int(seq-1)), seq)
	}
	return out, nil
}

// Idempotency implements authcapture.Store.
func (s *Store) Idempotency(ctx context.Context, merchantID, key string) (*authcapture.IdempotencyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.merchants[merchantID]; m != nil {
		if i := s.findKey(m, key, s.hash(key)); i >= 0 {
			return s.getKey(m, i), nil
		}
	}
	return nil, fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrNotFound)
}

// Write implements authcapture.Store.
func (s *Store) Write(ctx context.Context, w *authcapture.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := authcapture.CheckWrite(w); err != nil {
		return err
	}
	in := w.Authorization
	s.mu.Lock()
	defer s.mu.Unlock()

	// Validate everything first: a failed write changes nothing.
	m := s.merchants[in.MerchantID]
	h := s.hash(in.ID)
	var r *record
	if m != nil {
		r = s.find(m, in.ID, h)
	}
	switch {
	case in.Version == 1 && r != nil:
		return fmt.Errorf("memstore: authorization %q: %w", in.ID, authcapture.ErrAlreadyExists)
	case in.Version != 1 && r == nil:
		return notFound(in.ID)
	case in.Version != 1 && r.version != in.Version-1:
		return fmt.Errorf("memstore: authorization %q at version %d, write expects %d: %w",
			in.ID, r.version, in.Version-1, authcapture.ErrVersionConflict)
	case r == nil && uint64(s.recs.n) >= maxRefs:
		return errFull
	}
	idemM := m
	var idemH uint32
	if w.Idempotency != nil {
		if w.Idempotency.MerchantID != in.MerchantID {
			idemM = s.merchants[w.Idempotency.MerchantID]
		}
		idemH = s.hash(w.Idempotency.Key)
		if idemM != nil {
			if s.findKey(idemM, w.Idempotency.Key, idemH) >= 0 {
				return fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrIdempotencyKeyExists)
			}
			if uint64(idemM.keyed.n) >= maxRefs {
				return errFull
			}
		}
	}
	var have int64
	if r != nil {
		have = int64(r.log.len())
	}
	for i := range w.Entries {
		if seq := w.Entries[i].Seq; seq != have+int64(i)+1 {
			return fmt.Errorf("memstore: entry seq %d does not continue the log at %d: %w", seq, have, authcapture.ErrInvalidArgument)
		}
	}

	// Validated; from here on nothing fails.
	if m == nil {
		m = s.merchant(in.MerchantID)
	}
	if r == nil {
		var rid uint32
		r, rid = s.recs.add()
		r.id, r.m, r.rid, r.heapIdx = in.ID, m, rid, -1
		m.auths.insert(h, r.rid)
	}
	s.appendEntries(r, w.Entries)
	s.setAuth(r, in)
	if w.Idempotency != nil {
		if idemM == nil {
			idemM = s.merchant(w.Idempotency.MerchantID)
		}
		s.putKey(idemM, r, w.Idempotency, idemH)
	}
	for i := range w.Events {
		e := &w.Events[i]
		em := m
		if e.MerchantID != m.id {
			em = s.merchant(e.MerchantID)
		}
		s.pos++
		s.addEvent(em, r, e, s.pos)
	}
	s.due.set(r, in.NextDue)
	return nil
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
	l := &m.events
	i := searchEvents(l, after)
	n := l.n - i
	if limit > 0 && n > limit {
		n = limit
	}
	if n <= 0 {
		return nil, nil
	}
	out := make([]authcapture.Event, n)
	for j := range out {
		out[j] = s.decEvent(m, l.at(i+j))
	}
	return out, nil
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

// Len returns the number of authorizations stored.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.recs.n
}

// searchEvents returns the index of the first event of l with a position
// after pos.
func searchEvents(l *slab[event], pos int64) int {
	lo, hi := 0, l.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.at(mid).pos <= pos {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
