package faulttest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// Timeouts. Network latency alone never trips statement_timeout: the
// server times a statement from the moment its messages arrive, and pgx
// sends them in one chunk. So TestStatementTimeout makes the statement
// itself slow (it waits for a row lock the test holds) under added
// latency, and the two other tests let the latency trip the timeouts it
// does trip: the caller's deadline, and idle_in_transaction_session_timeout
// between the statements of a transaction.

// TestStatementTimeout sets statement_timeout on the store's connections
// (a run-time parameter of the pool) and makes the write wait on a row lock
// longer than that, with latency on the proxy: the timeout surfaces as an
// error (SQLSTATE 57014), nothing is written, and the retry with the same
// key applies the capture once.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, stream := range []string{"upstream", "downstream"} {
		e.addToxic(t, "latency_"+stream, "latency", stream, 1, toxiclient.Attributes{"latency": 10})
	}
	id := e.newAuth(t, "100.00")
	const key = "cap-statement-timeout"
	const timeout = 300 * time.Millisecond
	pool := e.pool(t, 1, map[string]string{"statement_timeout": "300"})
	var setting string
	if err := pool.QueryRow(e.ctx, "SHOW statement_timeout").Scan(&setting); err != nil || setting != "300ms" {
		t.Fatalf("statement_timeout on the store's connections is %q (%v), want 300ms", setting, err)
	}
	svc := e.service(t, pool, nil)
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))
	v0 := e.version(t, id)

	release := e.lockRow(t, id)
	start := time.Now()
	_, err := svc.Capture(e.ctx, captureReq(id, key, 250))
	elapsed := time.Since(start)
	if pgCode(err) != "57014" {
		t.Fatalf("want a statement timeout (SQLSTATE 57014), got %v", err)
	}
	if elapsed < timeout {
		t.Fatalf("the statement timed out after %v, before its %v", elapsed, timeout)
	}
	t.Logf("the capture failed after %v with: %v (a definite outcome to the test: %v)", elapsed, err, definite(err))
	if e.keyRecorded(t, key) || e.version(t, id) != v0 {
		t.Fatal("a write that timed out was applied")
	}
	release()
	e.verify(t, id, want) // nothing half-written

	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of a write that timed out was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestCallerDeadlineUnderLatency delays the reply to the write by far more
// than the caller's deadline: the call returns at the deadline with
// context.DeadlineExceeded, though the server, which got the statement at
// once, committed it. The retry with the same key must replay.
func TestCallerDeadlineUnderLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-deadline"
	const deadline = time.Second
	added := false
	svc := e.service(t, e.pool(t, 1, nil), &hooks{keys: []string{key}, before: func(context.Context, string) {
		if !added {
			added = true
			e.addToxic(t, "slow_reply", "latency", "downstream", 1, toxiclient.Attributes{"latency": 5000})
		}
	}})
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	ctx, cancel := context.WithTimeout(e.ctx, deadline)
	start := time.Now()
	_, err := svc.Capture(ctx, captureReq(id, key, 250))
	elapsed := time.Since(start)
	cancel()
	if !added {
		t.Fatal("the write hook never ran")
	}
	err = unknownErr(t, "capture past its deadline", err)
	if !errors.Is(err, context.DeadlineExceeded) || elapsed < deadline || elapsed > 4*time.Second {
		t.Fatalf("after %v: %v; want context.DeadlineExceeded at the %v deadline", elapsed, err, deadline)
	}
	t.Logf("the capture failed after %v with: %v", elapsed, err)
	e.removeToxic(t, "slow_reply")
	if !waitFor(5*time.Second, func() bool { return e.keyRecorded(t, key) }) {
		t.Fatal("the write reached the server before the deadline but did not commit")
	}
	e.waitGone(t, e.appName)

	if r := mustResolve(t, svc, captureReq(id, key, 250)); !r.Replayed {
		t.Error("the retry of a committed capture was not answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestIdleInTransactionTimeoutUnderLatency runs a capture inside the
// caller's transaction on connections with
// idle_in_transaction_session_timeout 100ms, through a proxy that delays
// every message to the server by 250ms: the server is idle in the
// transaction longer than allowed between two statements and ends the
// session (SQLSTATE 25P03). The transaction is lost as a whole; the retry
// with the same key applies the capture once.
func TestIdleInTransactionTimeoutUnderLatency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-idle-in-transaction"
	pool := e.pool(t, 1, map[string]string{"idle_in_transaction_session_timeout": "100"})
	svc := e.service(t, pool, nil)
	want := map[string]int64{"cap-warm": 100}
	mustResolve(t, svc, captureReq(id, "cap-warm", 100))

	e.addToxic(t, "slow_requests", "latency", "upstream", 1, toxiclient.Attributes{"latency": 250})
	ctx := e.ctx
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.service(t, tx, nil).Capture(ctx, captureReq(id, key, 250))
	if err == nil {
		err = tx.Commit(ctx)
	}
	_ = tx.Rollback(ctx)
	err = unknownErr(t, "capture in a transaction that idled too long", err)
	if pgCode(err) != "25P03" {
		t.Fatalf("want the idle-in-transaction timeout (SQLSTATE 25P03), got %v", err)
	}
	t.Logf("the capture failed with: %v", err)
	e.waitGone(t, e.appName) // the server ended the session
	if e.keyRecorded(t, key) {
		t.Fatal("a transaction ended by the server committed")
	}
	e.removeToxic(t, "slow_requests")
	e.verify(t, id, want)

	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of a rolled back capture was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}
