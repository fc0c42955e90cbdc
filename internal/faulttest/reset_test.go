package faulttest_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

// Connection resets and lost replies. Each test runs its Service on a pool
// of one proxied connection, so the armed toxic hits exactly the statement
// the test aims at, and first makes one capture of the same shape: the
// connection then exists and has the write statement prepared, so the
// faulted write goes out as one Bind/Execute/Sync and its reply comes back
// as one chunk. A hook on the store arms the toxic after the Service has
// read the authorization and just before it writes.

// TestResetBeforeWriteReachesServer resets the connection when the write's
// first bytes reach the proxy: they are dropped and both sockets get a TCP
// RST. The server never sees the statement, so nothing may be applied, and
// the retry with the same key applies the capture once.
func TestResetBeforeWriteReachesServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-reset-before-write"
	armed := false
	svc := e.service(t, e.pool(t, 1, nil), &hooks{keys: []string{key}, before: func(context.Context, string) {
		if !armed {
			armed = true
			e.arm(t, upstream, true)
		}
	}})
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))
	v0 := e.version(t, id)

	_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
	if !armed {
		t.Fatal("the write hook never ran")
	}
	err = unknownErr(t, "capture through a reset connection", err)
	t.Logf("the capture failed with: %v", err)
	// The server saw the reset instead of the statement: its backend is
	// gone, and nothing was written.
	e.waitGone(t, e.appName)
	if e.keyRecorded(t, key) || e.version(t, id) != v0 {
		t.Fatalf("a write reset before it reached the server was applied (version %d, was %d)", e.version(t, id), v0)
	}
	e.verify(t, id, want)

	e.arm(t, upstream, false)
	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of a write that never reached the server was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestResetWhileWriteBlocked resets the connection while the write
// statement is inside the server, blocked on a row lock the test holds:
// the client gets an error before the statement completes. pgx then dials
// again to send a CancelRequest for the statement; the test keeps the
// proxy down until that dial has failed, as it would if the network were
// gone. PostgreSQL does not notice a lost client while a statement waits
// (unless client_connection_check_interval is set), so once the lock is
// released the orphaned statement completes and commits: the write the
// client saw fail is applied, and the retry must replay it, not apply it
// again. (Had the cancel got through, the statement would have been
// aborted and the retry would apply it: exactly once either way.)
func TestResetWhileWriteBlocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-reset-while-blocked"
	var checkInterval string
	if err := e.admin.QueryRow(e.ctx, "SHOW client_connection_check_interval").Scan(&checkInterval); err != nil {
		t.Fatal(err)
	}
	svc := e.service(t, e.pool(t, 1, nil), nil)
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	release := e.lockRow(t, id)
	errc := make(chan error, 1)
	go func() {
		_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
		errc <- err
	}()
	b := e.waitBlocked(t, e.appName)
	err := unknownErr(t, "capture whose connection was reset mid-statement", e.cutMidStatement(t, errc))
	t.Logf("the capture failed with: %v", err)
	if !slices.ContainsFunc(e.backends(t, e.appName), func(x backend) bool { return x.pid == b.pid }) && checkInterval == "0" {
		t.Fatalf("backend %d stopped waiting on the lock when its client went away", b.pid)
	}
	if e.keyRecorded(t, key) {
		t.Fatal("the write committed while the test still held the row lock")
	}
	release()
	e.waitGone(t, e.appName)
	applied := e.keyRecorded(t, key)
	t.Logf("the orphaned statement committed: %v (client_connection_check_interval %s)", applied, checkInterval)
	if !applied && checkInterval == "0" {
		t.Fatal("the orphaned statement did not commit, yet the server does not check for lost clients")
	}

	r := mustResolve(t, svc, captureReq(id, key, 250))
	if r.Replayed != applied {
		t.Errorf("the write committed: %v, the retry replayed: %v", applied, r.Replayed)
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestResetBeforeCommitInCallerTransaction runs the capture inside the
// caller's transaction (pgstore's WithTx) and resets the connection when
// the COMMIT reaches the proxy: the server never gets it and rolls the
// transaction back. The retry with the same key applies the capture once.
func TestResetBeforeCommitInCallerTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-reset-before-commit"
	pool := e.pool(t, 1, nil)
	svc := e.service(t, pool, nil)
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	ctx := e.ctx
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.service(t, tx, nil).Capture(ctx, captureReq(id, key, 250)); err != nil {
		t.Fatalf("capture in the transaction: %v", err)
	}
	e.arm(t, upstream, true)
	err = unknownErr(t, "commit through a reset connection", tx.Commit(ctx))
	t.Logf("the commit failed with: %v (pgconn.SafeToRetry: %v)", err, pgconn.SafeToRetry(err))
	e.waitGone(t, e.appName)
	if e.keyRecorded(t, key) {
		t.Fatal("a transaction whose COMMIT never reached the server committed")
	}
	e.verify(t, id, want)

	e.arm(t, upstream, false)
	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of a rolled back capture was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestReplyLostAfterCommit lets the write through and resets the
// connection when its reply comes back: the server has committed (an
// implicit transaction commits at Sync, before the reply is flushed) but
// the client only sees a reset. The retry with the same key must replay,
// not apply again.
func TestReplyLostAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-reply-lost"
	armed := false
	svc := e.service(t, e.pool(t, 1, nil), &hooks{keys: []string{key}, before: func(context.Context, string) {
		if !armed {
			armed = true
			e.arm(t, downstream, true)
		}
	}})
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
	if !armed {
		t.Fatal("the write hook never ran")
	}
	err = unknownErr(t, "capture whose reply was lost", err)
	t.Logf("the capture failed with: %v", err)
	// The fault fired after the commit: the record is there although the
	// client got an error.
	if !waitFor(5*time.Second, func() bool { return e.keyRecorded(t, key) }) {
		t.Fatal("the reply was lost but the write did not commit: the reset came before the commit")
	}
	e.waitGone(t, e.appName)

	e.arm(t, downstream, false)
	if r := mustResolve(t, svc, captureReq(id, key, 250)); !r.Replayed {
		t.Error("the retry of a committed capture was not answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestReplyLostAfterCommitInCallerTransaction runs the capture inside the
// caller's transaction and resets the connection when the reply to its
// COMMIT comes back: the transaction committed, the caller saw an error.
// The retry must replay.
func TestReplyLostAfterCommitInCallerTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-commit-reply-lost"
	pool := e.pool(t, 1, nil)
	svc := e.service(t, pool, nil)
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	ctx := e.ctx
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.service(t, tx, nil).Capture(ctx, captureReq(id, key, 250)); err != nil {
		t.Fatalf("capture in the transaction: %v", err)
	}
	e.arm(t, downstream, true)
	err = unknownErr(t, "commit whose reply was lost", tx.Commit(ctx))
	// pgx loses the read error here and reports its own "conn closed",
	// which it marks safe to retry: a caller that trusts
	// pgconn.SafeToRetry would take this committed transaction for one
	// that never reached the server.
	t.Logf("the commit failed with: %v (pgconn.SafeToRetry: %v)", err, pgconn.SafeToRetry(err))
	if !waitFor(5*time.Second, func() bool { return e.keyRecorded(t, key) }) {
		t.Fatal("the COMMIT's reply was lost but the transaction did not commit")
	}
	e.waitGone(t, e.appName)

	e.arm(t, downstream, false)
	if r := mustResolve(t, svc, captureReq(id, key, 250)); !r.Replayed {
		t.Error("the retry of a committed capture was not answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestRetryWhileResetWriteStillBlocked is TestResetWhileWriteBlocked with
// an impatient caller: the retry with the same key is sent at once, while
// the orphaned statement of the first attempt is still blocked inside the
// server. Both wait on the row lock; whichever gets it first applies the
// capture, the other must find it done (a failed version check, then a
// replay), so the capture is applied exactly once.
func TestRetryWhileResetWriteStillBlocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var checkInterval string
	if err := e.admin.QueryRow(e.ctx, "SHOW client_connection_check_interval").Scan(&checkInterval); err != nil {
		t.Fatal(err)
	}
	if checkInterval != "0" {
		t.Skipf("client_connection_check_interval is %s: the server aborts the orphaned statement this test needs", checkInterval)
	}
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-retry-in-flight"
	var mu sync.Mutex
	var writeErrs []error
	svc := e.service(t, e.pool(t, 1, nil), &hooks{keys: []string{key}, after: func(_ context.Context, _ string, err error) {
		mu.Lock()
		writeErrs = append(writeErrs, err)
		mu.Unlock()
	}})
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	release := e.lockRow(t, id)
	errc := make(chan error, 1)
	go func() {
		_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
		errc <- err
	}()
	orphan := e.waitBlocked(t, e.appName)
	err := e.cutMidStatement(t, errc)
	t.Logf("the first attempt failed with: %v", unknownErr(t, "capture whose connection was reset mid-statement", err))

	type result struct {
		replayed  bool
		captureID string
		err       error
	}
	done := make(chan result, 1)
	go func() {
		r, _, err := resolve(svc, captureReq(id, key, 250))
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{replayed: r.Replayed, captureID: r.Entry.CaptureID}
	}()
	// Both statements wait on the lock before it is released.
	if !waitFor(10*time.Second, func() bool {
		n := 0
		for _, b := range e.backends(t, e.appName) {
			if b.state == "active" && b.waitEvent == "Lock" {
				n++
			}
		}
		return n == 2
	}) {
		t.Fatalf("the retry is not blocked beside the orphaned statement of backend %d: %+v", orphan.pid, e.backends(t, e.appName))
	}
	release()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the retry did not finish")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	mu.Lock()
	t.Logf("the retry replayed: %v (capture %s); the store's answers to the key's writes: %v", r.replayed, r.captureID, writeErrs)
	mu.Unlock()
	want[key] = 250
	e.verify(t, id, want)
}

// TestReplyLostOnCreateWithGeneratedID loses the reply to a Create whose
// authorization ID the Service generates: the retry with the same key
// generates another ID, and must still answer with the authorization the
// first attempt committed, not create a second one.
func TestReplyLostOnCreateWithGeneratedID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	const key = "create-reply-lost"
	armed := false
	svc := e.service(t, e.pool(t, 1, nil), &hooks{keys: []string{key}, before: func(context.Context, string) {
		if !armed {
			armed = true
			e.arm(t, downstream, true)
		}
	}})
	req := func(key string) authcapture.CreateRequest {
		return authcapture.CreateRequest{MerchantID: merchant, Currency: "USD", Amount: decimal.RequireFromString("42.00"), IdempotencyKey: key}
	}
	if _, err := svc.Create(e.ctx, req("create-warm")); err != nil { // prepares the insert's statement
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := e.admin.QueryRow(e.ctx, "SELECT count(*) FROM "+e.schema+".authorizations WHERE merchant_id = $1", merchant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()

	_, err := svc.Create(e.ctx, req(key))
	if !armed {
		t.Fatal("the write hook never ran")
	}
	t.Logf("the create failed with: %v", unknownErr(t, "create whose reply was lost", err))
	if !waitFor(5*time.Second, func() bool { return e.keyRecorded(t, key) }) {
		t.Fatal("the reply was lost but the create did not commit")
	}
	var committed string
	if err := e.admin.QueryRow(e.ctx, "SELECT authorization_id FROM "+e.schema+".idempotency_keys WHERE merchant_id = $1 AND key = $2",
		merchant, key).Scan(&committed); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, e.appName)
	e.arm(t, downstream, false)

	var r *authcapture.Result
	for attempt := 0; ; attempt++ {
		if r, err = svc.Create(e.ctx, req(key)); err == nil || definite(err) || attempt == 20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("retrying the create: %v", err)
	}
	if !r.Replayed || r.Authorization.ID != committed {
		t.Errorf("the retry answered %s (replayed: %v), want a replay of %s", r.Authorization.ID, r.Replayed, committed)
	}
	if n := count(); n != before+1 {
		t.Errorf("%d authorizations after the create and its retry, want %d", n, before+1)
	}
	e.verify(t, committed, map[string]int64{})
}

// TestResetDuringLockedWrite makes a capture lose a version conflict on a
// fresh read (another writer gets in just before its write), so that the
// Service runs it again under the row lock, and resets the connection when
// that locked write's first bytes reach the proxy. The server rolls the
// transaction back when it sees the reset, releasing the row: nothing may
// be applied, and the retry with the same key applies the capture once.
func TestResetDuringLockedWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addLinger(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-locked-reset"
	writes, armed := 0, false
	h := &hooks{keys: []string{key}, before: func(ctx context.Context, _ string) {
		writes++
		switch writes {
		case 1: // the optimistic write: another writer gets in first
			if _, err := e.svc.Capture(ctx, captureReq(id, "cap-interfere", 100)); err != nil {
				t.Errorf("the interfering capture: %v", err)
			}
		case 2: // the write under the lock
			armed = true
			e.arm(t, upstream, true)
		}
	}}
	svc := e.service(t, e.pool(t, 1, nil), h)
	want := map[string]int64{"cap-interfere": 100}

	_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
	if !armed || h.locked.Load() != 1 {
		t.Fatalf("the capture did not write under a lock (%d writes, %d locked)", writes, h.locked.Load())
	}
	err = unknownErr(t, "locked capture through a reset connection", err)
	t.Logf("the capture failed with: %v", err)
	e.waitGone(t, e.appName)
	if e.keyRecorded(t, key) {
		t.Fatal("a locked write reset before it reached the server was applied")
	}
	e.verify(t, id, want)

	e.arm(t, upstream, false)
	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of a locked write that never reached the server was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}
