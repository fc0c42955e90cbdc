package authcapture_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

// lockingStore is a memstore that is also an authcapture.Locker: one mutex
// stands for the row lock (of every authorization at once). Its plain
// writes fail with a version conflict the first conflicts times, and
// onLock, if set, runs each time a lock is granted.
type lockingStore struct {
	*memstore.Store
	mu        sync.Mutex // held by a Lock until it ends; a plain write waits for it
	conflicts atomic.Int64
	locks     atomic.Int64
	onLock    func()
}

func (s *lockingStore) Write(ctx context.Context, w *authcapture.Write) error {
	if s.conflicts.Add(-1) >= 0 {
		return fmt.Errorf("lockingStore: injected: %w", authcapture.ErrVersionConflict)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Write(ctx, w)
}

func (s *lockingStore) Lock(ctx context.Context, merchantID, id string) (*authcapture.Authorization, authcapture.Lock, error) {
	s.mu.Lock()
	a, err := s.Store.Get(ctx, merchantID, id)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	s.locks.Add(1)
	if s.onLock != nil {
		s.onLock()
	}
	return a, &memLock{s: s}, nil
}

type memLock struct {
	s    *lockingStore
	done bool
}

func (l *memLock) Write(ctx context.Context, w *authcapture.Write) error {
	if l.done {
		return fmt.Errorf("memLock: lock ended: %w", authcapture.ErrInvalidArgument)
	}
	l.done = true
	defer l.s.mu.Unlock()
	return l.s.Store.Write(ctx, w)
}

func (l *memLock) Release(context.Context) error {
	if !l.done {
		l.done = true
		l.s.mu.Unlock()
	}
	return nil
}

// The test double keeps the whole Store and Locker contract, so what the
// tests below prove holds for a real Locker.
func TestLockingStoreConforms(t *testing.T) {
	t.Parallel()
	storetest.RunConformanceTests(t, func(*testing.T) authcapture.Store {
		return &lockingStore{Store: memstore.New()}
	})
}

// lockingFixture is a fixture whose Service runs on a lockingStore.
func lockingFixture(t *testing.T) (*fixture, *lockingStore) {
	f := setup(t)
	ls := &lockingStore{Store: f.store}
	svc, err := authcapture.New(ls, &authcapture.Options{Clock: f.clock})
	require.NoError(t, err)
	f.svc = svc
	return f, ls
}

// A command whose write, built on a fresh read, loses a version conflict
// runs again under the store's lock, and is applied once.
func TestContendedCommandRunsUnderTheLock(t *testing.T) {
	t.Parallel()
	f, ls := lockingFixture(t)
	a := f.hold("default", "10.00")
	ls.conflicts.Store(1)
	r, err := f.capture(a.ID, "4.00", nil)
	require.NoError(t, err)
	assert.Equal(t, int64(1), ls.locks.Load(), "the retry took the lock")
	assert.Equal(t, int64(400), r.Authorization.Captured)
	got := f.get(a.ID)
	assert.Equal(t, int64(400), got.Captured)
	assert.Equal(t, a.Version+1, got.Version, "applied once")

	// An uncontended command takes no lock.
	_, err = f.capture(a.ID, "1.00", nil)
	require.NoError(t, err)
	assert.Equal(t, int64(1), ls.locks.Load())
}

// The time a locked command sees is read once the lock is granted: a hold
// that expired while the command waited for the lock is expired, and the
// capture is rejected.
func TestLockedCommandReadsTheClockUnderTheLock(t *testing.T) {
	t.Parallel()
	f, ls := lockingFixture(t)
	a := f.hold("default", "10.00")
	ls.onLock = func() { f.clock.Set(a.ExpiresAt.Add(time.Hour)) } // a long wait
	ls.conflicts.Store(1)
	_, err := f.capture(a.ID, "4.00", nil)
	require.ErrorIs(t, err, authcapture.ErrExpired)
	got := f.get(a.ID)
	assert.Equal(t, int64(0), got.Captured)
	assert.Equal(t, authcapture.StatusExpired, got.Status())
}

// A locked command decides on the state it read under the lock: a capture
// that no longer fits once the lock is granted is rejected, and a replay of
// an accepted key still returns its original result.
func TestLockedCommandDecidesOnTheLockedState(t *testing.T) {
	t.Parallel()
	f, ls := lockingFixture(t)
	a := f.hold("default", "10.00")
	ls.onLock = func() {
		// Another writer took 8.00 just before the lock was granted.
		ls.onLock = nil
		w, err := f.store.Get(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		w.Version++
		w.Captured += 800
		w.Captures++
		w.Entries++
		require.NoError(t, f.store.Write(f.ctx, &authcapture.Write{Authorization: w, Entries: []authcapture.Entry{{
			Seq: w.Entries, Version: w.Version, Kind: authcapture.EntryCapture, CaptureState: authcapture.CaptureSucceeded,
			CaptureID: "other", Amount: 800, At: f.clock.Now(), IdempotencyKey: "other"}}}))
	}
	ls.conflicts.Store(1)
	_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("4.00"), IdempotencyKey: "mine"})
	require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
	assert.Equal(t, int64(800), f.get(a.ID).Captured)

	// Accepted under the lock, then replayed without one.
	ls.conflicts.Store(1)
	first, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("2.00"), IdempotencyKey: "mine"})
	require.NoError(t, err)
	again, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("2.00"), IdempotencyKey: "mine"})
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Entry, again.Entry)
	assert.Equal(t, int64(1000), f.get(a.ID).Captured)
}
