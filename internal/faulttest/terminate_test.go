package faulttest_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
)

// terminate kills a backend with pg_terminate_backend from the admin pool
// and reports whether the server signalled it.
func (e *env) terminate(t testing.TB, pid int) bool {
	t.Helper()
	var ok bool
	if err := e.admin.QueryRow(e.ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestTerminateBackendWhileWriteBlocked kills the backend of a write while
// the statement is inside the server, blocked on a row lock the test
// holds: the statement is aborted, nothing may be applied, and the retry
// with the same key applies the capture once.
func TestTerminateBackendWhileWriteBlocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.newAuth(t, "100.00")
	const key = "cap-terminated"
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
	if !e.terminate(t, b.pid) {
		t.Fatalf("pg_terminate_backend(%d) returned false", b.pid)
	}
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the capture did not return after its backend was terminated")
	}
	err = unknownErr(t, "capture whose backend was terminated", err)
	t.Logf("the capture failed with (SQLSTATE %q): %v", pgCode(err), err)
	e.waitGone(t, e.appName) // pg_stat_activity no longer shows the backend
	release()
	if e.keyRecorded(t, key) {
		t.Fatal("a write whose backend was terminated mid-statement was applied")
	}
	e.verify(t, id, want)

	if r := mustResolve(t, svc, captureReq(id, key, 250)); r.Replayed {
		t.Error("the retry of an aborted write was answered as a replay")
	}
	want[key] = 250
	e.verify(t, id, want)
}

// TestTerminateBackendsUnderLoad runs captures from several Services while
// a separate admin connection kills their backends (found in
// pg_stat_activity by the application_name of the proxied pools) with
// pg_terminate_backend at random moments, busy backends first. Every
// capture whose outcome was unknown is retried with its key until known.
func TestTerminateBackendsUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const services, workers, kills = 3, 2, 8
	ids := make([]string, services)
	svcs := make([]*authcapture.Service, services)
	for i := range svcs {
		ids[i] = e.newAuth(t, "1000.00")
		svcs[i] = e.service(t, e.pool(t, workers, nil), nil)
	}

	var (
		mu       sync.Mutex
		want     = map[string]map[string]int64{}
		unknown  atomic.Int64
		captures atomic.Int64
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for _, id := range ids {
		want[id] = map[string]int64{}
	}
	for s, svc := range svcs {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := ids[s]
					key := fmt.Sprintf("term-s%d-w%d-%d", s, w, i)
					cents := int64(1 + i%9)
					_, u, err := resolve(svc, captureReq(id, key, cents))
					unknown.Add(int64(u))
					if err != nil {
						t.Error(err)
						return
					}
					captures.Add(1)
					mu.Lock()
					want[id][key] = cents
					mu.Unlock()
				}
			}()
		}
	}

	var killed []int
	deadline := time.Now().Add(20 * time.Second)
	for len(killed) < kills && time.Now().Before(deadline) {
		time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
		bs := e.backends(t, e.appName)
		var busy []backend
		for _, b := range bs {
			if b.state == "active" {
				busy = append(busy, b)
			}
		}
		if len(busy) > 0 {
			bs = busy
		}
		if len(bs) == 0 {
			continue
		}
		if b := bs[rand.IntN(len(bs))]; e.terminate(t, b.pid) {
			killed = append(killed, b.pid)
		}
	}
	// Let the workers run into the last kills before stopping them.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(killed) < kills {
		t.Fatalf("only %d of %d backends were terminated", len(killed), kills)
	}
	if !waitFor(10*time.Second, func() bool {
		var n int
		err := e.admin.QueryRow(e.ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", killed).Scan(&n)
		return err == nil && n == 0
	}) {
		t.Errorf("pg_stat_activity still shows some of the terminated backends %v", killed)
	}
	if unknown.Load() == 0 {
		t.Error("no capture saw a terminated backend: the fault did not reach the workload")
	}
	t.Logf("%d backends terminated, %d captures, %d unknown outcomes resolved by retrying with the same key",
		len(killed), captures.Load(), unknown.Load())
	for _, id := range ids {
		e.verify(t, id, want[id])
	}
}
