package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A lock whose context ends during its write (here while the write waits on
// an idempotency key another transaction holds) ends its transaction at
// once: another writer gets the row promptly, not when the connection is
// reaped.
func TestLockWhoseContextEndsMidWriteDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, 4)
	ctx := context.Background()
	a := mustWrite(t, b.store, newWrite("m1", "a1", ""))

	// Hold the key the locked write will insert, uncommitted, so that the
	// write waits on it.
	blocker, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	if _, err := blocker.Exec(ctx, `INSERT INTO `+b.schema+`.idempotency_keys (merchant_id, key, authorization_id, created_at, record)
		VALUES ('m1', 'held', 'a1', now(), '{}')`); err != nil {
		t.Fatal(err)
	}

	lockCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	got, lock, err := b.store.Lock(lockCtx, "m1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- lock.Write(lockCtx, captureWrite(got, "held", 100)) }()
	waitForLockWait(t, b)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled write: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled write did not return")
	}
	if err := lock.Release(ctx); err != nil {
		t.Errorf("Release after the write ended: %v", err)
	}

	// The blocker is still open: only the lock's own transaction held the row.
	start := time.Now()
	otherCtx, otherCancel := context.WithTimeout(ctx, 3*time.Second)
	defer otherCancel()
	got, lock, err = b.store.Lock(otherCtx, "m1", "a1")
	if err != nil {
		t.Fatalf("another writer's Lock after %v: %v", time.Since(start), err)
	}
	if err := lock.Write(otherCtx, captureWrite(got, "other", 100)); err != nil {
		t.Fatalf("another writer's write: %v", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("another writer waited %v for the row", waited)
	}
	if got.Version != a.Version {
		t.Errorf("the cancelled write changed the authorization: version %d, want %d", got.Version, a.Version)
	}
}

// A lock whose context ended before its write or release rolls back all
// the same: another writer gets the row promptly.
func TestLockWhoseContextEndedBeforeReleaseDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, 4)
	ctx := context.Background()
	mustWrite(t, b.store, newWrite("m1", "a1", ""))
	for _, write := range []bool{false, true} {
		lockCtx, cancel := context.WithCancel(ctx)
		got, lock, err := b.store.Lock(lockCtx, "m1", "a1")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if write {
			if err := lock.Write(lockCtx, captureWrite(got, "k", 100)); !errors.Is(err, context.Canceled) {
				t.Errorf("write with an ended context: %v", err)
			}
		} else if err := lock.Release(lockCtx); err != nil {
			t.Errorf("release with an ended context: %v", err)
		}
		start := time.Now()
		otherCtx, otherCancel := context.WithTimeout(ctx, 3*time.Second)
		_, other, err := b.store.Lock(otherCtx, "m1", "a1")
		if err != nil {
			t.Fatalf("write %v: another writer's Lock after %v: %v", write, time.Since(start), err)
		}
		if err := other.Release(otherCtx); err != nil {
			t.Fatal(err)
		}
		otherCancel()
		if n := b.idleInTransaction(t); n != 0 {
			t.Errorf("write %v: %d connections idle in transaction", write, n)
		}
	}
}

// waitForLockWait waits until a statement in the bundle's database waits
// on a lock.
func waitForLockWait(t *testing.T, b *bundle) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`, b.store.Schema()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the locked write never waited")
}

// idleInTransaction counts the connections to the bundle's schema's
// database that are idle inside a transaction after touching its tables.
func (b *bundle) idleInTransaction(t *testing.T) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE state LIKE 'idle in transaction%' AND query LIKE '%' || $1 || '%'`, b.store.Schema()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
