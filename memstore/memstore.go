// Package memstore is the embedded, in-memory authcapture.Store: the
// default for tests, examples and single-process services that keep their
// payments elsewhere. It is safe for concurrent use. Everything lives in the
// process and is lost when it exits.
//
// The store copies on the way in and on the way out, so a caller can never
// change stored state through a pointer it kept. Open authorizations are
// kept in a heap ordered by their next due time, so Due costs O(limit log n).
package memstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Store = (*Store)(nil)

// Store is an in-memory authcapture.Store. The zero value is not usable;
// call New.
type Store struct {
	mu     sync.RWMutex
	auths  map[ref]*record
	keys   map[ref]*authcapture.IdempotencyRecord
	events map[string][]authcapture.Event // by merchant, in Position order
	pos    int64                          // last event position
	due    dueHeap
}

type ref struct{ merchant, id string }

type record struct {
	a       authcapture.Authorization
	entries []authcapture.Entry
	heapIdx int // index in Store.due, or -1
}

// New returns an empty store.
func New() *Store {
	return &Store{
		auths:  map[ref]*record{},
		keys:   map[ref]*authcapture.IdempotencyRecord{},
		events: map[string][]authcapture.Event{},
	}
}

// Get implements authcapture.Store.
func (s *Store) Get(ctx context.Context, merchantID, id string) (*authcapture.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.auths[ref{merchantID, id}]
	if !ok {
		return nil, fmt.Errorf("memstore: authorization %q: %w", id, authcapture.ErrNotFound)
	}
	return r.a.Clone(), nil
}

// Entries implements authcapture.Store.
func (s *Store) Entries(ctx context.Context, merchantID, id string, after int64, limit int) ([]authcapture.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.auths[ref{merchantID, id}]
	if !ok {
		return nil, fmt.Errorf("memstore: authorization %q: %w", id, authcapture.ErrNotFound)
	}
	if after < 0 {
		after = 0
	}
	if after >= int64(len(r.entries)) {
		return nil, nil
	}
	out := r.entries[after:] // Seq n is at index n-1
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return slices.Clone(out), nil
}

// Idempotency implements authcapture.Store.
func (s *Store) Idempotency(ctx context.Context, merchantID, key string) (*authcapture.IdempotencyRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.keys[ref{merchantID, key}]
	if !ok {
		return nil, fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrNotFound)
	}
	c := *rec
	return &c, nil
}

// Write implements authcapture.Store.
func (s *Store) Write(ctx context.Context, w *authcapture.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w == nil || w.Authorization == nil {
		return fmt.Errorf("memstore: write without an authorization: %w", authcapture.ErrInvalidArgument)
	}
	in := w.Authorization
	k := ref{in.MerchantID, in.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, exists := s.auths[k]
	switch {
	case in.Version == 1 && exists:
		return fmt.Errorf("memstore: authorization %q: %w", in.ID, authcapture.ErrAlreadyExists)
	case in.Version != 1 && !exists:
		return fmt.Errorf("memstore: authorization %q: %w", in.ID, authcapture.ErrNotFound)
	case in.Version != 1 && r.a.Version != in.Version-1:
		return fmt.Errorf("memstore: authorization %q at version %d, write expects %d: %w",
			in.ID, r.a.Version, in.Version-1, authcapture.ErrVersionConflict)
	}
	var idem ref
	if w.Idempotency != nil {
		idem = ref{w.Idempotency.MerchantID, w.Idempotency.Key}
		if _, dup := s.keys[idem]; dup {
			return fmt.Errorf("memstore: idempotency key: %w", authcapture.ErrIdempotencyKeyExists)
		}
	}
	var have int64
	if exists {
		have = int64(len(r.entries))
	}
	for i, e := range w.Entries {
		if e.Seq != have+int64(i)+1 {
			return fmt.Errorf("memstore: entry seq %d does not continue the log at %d: %w", e.Seq, have, authcapture.ErrInvalidArgument)
		}
	}
	// Validated; from here on nothing fails.
	if !exists {
		r = &record{heapIdx: -1}
		s.auths[k] = r
	}
	prevMeta := r.a.Metadata
	r.a = *in
	switch {
	case len(in.Metadata) == 0:
		r.a.Metadata = nil
	case maps.Equal(prevMeta, in.Metadata):
		r.a.Metadata = prevMeta // the stored map is never handed out
	default:
		r.a.Metadata = maps.Clone(in.Metadata)
	}
	r.a.PendingCaptures = slices.Clone(in.PendingCaptures)
	r.entries = append(r.entries, w.Entries...)
	if w.Idempotency != nil {
		rec := *w.Idempotency
		s.keys[idem] = &rec
	}
	for _, e := range w.Events {
		s.pos++
		e.Position = s.pos
		s.events[e.MerchantID] = append(s.events[e.MerchantID], e)
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
	evs := s.events[merchantID]
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Position > after })
	out := evs[i:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return slices.Clone(out), nil
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
	return len(s.auths)
}
