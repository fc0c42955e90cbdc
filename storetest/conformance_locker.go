package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockerContractTests prove authcapture.Locker's contract. They skip for a
// store that does not declare it.
var lockerContractTests = []contractTest{
	{"LockReturnsTheStoredAuthorizationAndItsWriteApplies", testLockedWriteApplies},
	{"LockOfAMissingAuthorizationIsNotFound", testLockNotFound},
	{"ReleaseWritesNothingAndEndsTheLock", testLockRelease},
	{"LockedWriteStillChecksTheVersion", testLockedWriteChecksVersion},
	{"LockedWriteWithARecordedKeyWritesNothing", testLockedWriteExistingKey},
	{"LockKeepsOtherWritersOut", testLockKeepsWritersOut},
	{"LockedWritersQueueWithoutConflicts", testLockedWritersQueue},
}

// locker returns s as a Locker, or skips t.
func locker(t *testing.T, s authcapture.Store) authcapture.Locker {
	t.Helper()
	l, ok := s.(authcapture.Locker)
	if !ok {
		t.Skip("the store is not an authcapture.Locker")
	}
	return l
}

// requireUnlocked checks that nothing holds a: a plain write of it goes
// through within a few seconds, as it cannot while a lock is held.
func requireUnlocked(t *testing.T, s authcapture.Store, a *authcapture.Authorization, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Write(ctx, captured(a, key, 5)), "a plain write after the lock should have ended: a lock still held?")
}

// mustLock locks merchant's authorization id, failing t on error. The lock
// is released when t ends, if nothing ended it before (a failing test
// must not leave the backend locked).
func mustLock(t *testing.T, l authcapture.Locker, merchant, id string) (*authcapture.Authorization, authcapture.Lock) {
	t.Helper()
	a, lock, err := l.Lock(testContext(t), merchant, id)
	require.NoError(t, err, "lock %s/%s", merchant, id)
	require.NotNil(t, lock)
	t.Cleanup(func() { _ = lock.Release(context.Background()) })
	return a, lock
}

func testLockedWriteApplies(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	got, lock := mustLock(t, l, "m1", "auth-1")
	require.Equal(t, normAuth(a), normAuth(got))
	w := captured(got, "k-locked", 25)
	require.NoError(t, lock.Write(ctx, w))

	stored, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, normAuth(w.Authorization), normAuth(stored))
	es, err := s.Entries(ctx, "m1", "auth-1", a.Entries, 0)
	require.NoError(t, err)
	assert.Equal(t, normEntries(w.Entries), normEntries(es))
	rec, err := s.Idempotency(ctx, "m1", "k-locked")
	require.NoError(t, err)
	assert.Equal(t, normRecord(w.Idempotency), normRecord(rec))
	assert.Len(t, eventsOf(t, s, "m1", "auth-1"), int(w.Authorization.Events))

	// The lock has ended: releasing it does nothing, writing with it is
	// refused, and the authorization can be locked again.
	require.NoError(t, lock.Release(ctx))
	late := captured(w.Authorization, "k-late", 5)
	require.ErrorIs(t, lock.Write(ctx, late), authcapture.ErrInvalidArgument)
	_, err = s.Idempotency(ctx, "m1", "k-late")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	_, again := mustLock(t, l, "m1", "auth-1")
	require.NoError(t, again.Release(ctx))
}

func testLockNotFound(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	for _, ref := range [][2]string{{"m1", "missing"}, {"m2", "auth-1"}} {
		a, lock, err := l.Lock(ctx, ref[0], ref[1])
		require.ErrorIs(t, err, authcapture.ErrNotFound, "lock %s/%s", ref[0], ref[1])
		assert.Nil(t, a)
		assert.Nil(t, lock)
	}
}

func testLockRelease(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	before := snapshot(t, s, "m1", "auth-1")
	_, lock := mustLock(t, l, "m1", "auth-1")
	require.NoError(t, lock.Release(ctx))
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	// Nothing holds it any more: a plain write goes through.
	requireUnlocked(t, s, a, "k-after")
}

func testLockedWriteChecksVersion(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	got, lock := mustLock(t, l, "m1", "auth-1")
	stale := captured(got, "k-stale", 5)
	stale.Authorization.Version += 3
	stale.Entries[0].Version += 3
	stale.Events[0].Version += 3
	stale.Idempotency.Version += 3
	before := snapshot(t, s, "m1", "auth-1")
	require.ErrorIs(t, lock.Write(ctx, stale), authcapture.ErrVersionConflict)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	_, err := s.Idempotency(ctx, "m1", "k-stale")
	assert.ErrorIs(t, err, authcapture.ErrNotFound)
	// The failed write ended the lock.
	requireUnlocked(t, s, a, "k-after")
}

func testLockedWriteExistingKey(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	a = mustWrite(t, s, captured(a, "k-used", 5))
	before := snapshot(t, s, "m1", "auth-1")
	got, lock := mustLock(t, l, "m1", "auth-1")
	require.ErrorIs(t, lock.Write(ctx, captured(got, "k-used", 7)), authcapture.ErrIdempotencyKeyExists)
	assert.Equal(t, before, snapshot(t, s, "m1", "auth-1"))
	requireUnlocked(t, s, a, "k-after")
}

func testLockKeepsWritersOut(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	got, lock := mustLock(t, l, "m1", "auth-1")
	plain := make(chan error, 1)
	go func() { plain <- s.Write(ctx, captured(a, "k-plain", 5)) }()
	select {
	case err := <-plain:
		t.Fatalf("a plain write of the locked authorization returned %v before the lock ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, lock.Write(ctx, captured(got, "k-locked", 7)))
	require.ErrorIs(t, <-plain, authcapture.ErrVersionConflict, "the plain write was built on the version the lock wrote over")
	stored, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, int64(7), stored.Captured)
}

func testLockedWritersQueue(t *testing.T, s authcapture.Store) {
	l := locker(t, s)
	ctx := testContext(t)
	a := openAuthorization(t, s, "m1", "auth-1", epoch.Add(validity))
	const writers = 16
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, lock, err := l.Lock(ctx, "m1", "auth-1")
			if err != nil {
				errs[i] = err
				return
			}
			defer lock.Release(context.Background())
			errs[i] = lock.Write(ctx, captured(got, fmt.Sprintf("k-%d", i), 1))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	stored, err := s.Get(ctx, "m1", "auth-1")
	require.NoError(t, err)
	assert.Equal(t, a.Version+writers, stored.Version)
	assert.Equal(t, int64(writers), stored.Captured)
	es, err := s.Entries(ctx, "m1", "auth-1", 0, 0)
	require.NoError(t, err)
	assert.Len(t, es, int(a.Entries)+writers)
}
