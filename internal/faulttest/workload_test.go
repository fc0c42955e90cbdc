package faulttest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Strikes of many captures from several Services, each retrying its own
// unknown outcomes with the same key; the run's checks then find every
// capture applied exactly once.

// captures runs workers captures from each Service in svcs until next
// returns false, each on the authorization and with the cents next gives,
// and adds each capture, once its outcome is known, to r.want. check sees
// the error of each first attempt. It returns the number of unknown
// outcomes seen.
func (r *run) captures(svcs []*authcapture.Service, workers int, next func(s, w, i int) (id string, cents int64, ok bool),
	check func(key string, err error)) int64 {
	var unknown atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s, svc := range svcs {
		for w := range workers {
			wg.Go(func() {
				for i := 0; ; i++ {
					id, cents, ok := next(s, w, i)
					if !ok {
						return
					}
					key := fmt.Sprintf("s%d-w%d-%d", s, w, i)
					req := captureReq(id, key, cents)
					ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
					_, err := svc.Capture(ctx, req)
					cancel()
					check(key, err)
					if err != nil {
						if !definite(err) {
							unknown.Add(1)
						}
						_, u, err := resolve(svc, req)
						unknown.Add(int64(u))
						if err != nil {
							r.t.Error(err)
							return
						}
					}
					mu.Lock()
					r.want[id][key] = cents
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return unknown.Load()
}

// terminateUnderLoad runs captures from several Services while the admin
// pool kills their backends (found in pg_stat_activity by the
// application_name of the proxied pools) with pg_terminate_backend at
// random moments, busy backends first.
func terminateUnderLoad(r *run) error {
	t := r.t
	const services, workers, kills = 3, 2, 8
	ids := make([]string, services)
	svcs := make([]*authcapture.Service, services)
	for i := range svcs {
		ids[i] = r.newAuth(t, "1000.00")
		r.want[ids[i]] = map[string]int64{}
		svcs[i] = r.service(t, r.pool(t, workers, nil), nil)
	}
	var stop atomic.Bool
	var unknown atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		unknown.Store(r.captures(svcs, workers, func(s, _, i int) (string, int64, bool) { return ids[s], int64(1 + i%9), !stop.Load() },
			func(string, error) {}))
	}()

	var killed []int
	deadline := time.Now().Add(20 * time.Second)
	for len(killed) < kills && time.Now().Before(deadline) {
		time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
		bs := r.backends(t, r.appName)
		if busy := slices.DeleteFunc(slices.Clone(bs), func(b backend) bool { return b.state != "active" }); len(busy) > 0 {
			bs = busy
		}
		if len(bs) == 0 {
			continue
		}
		if b := bs[rand.IntN(len(bs))]; r.terminate(t, b.pid) {
			killed = append(killed, b.pid)
		}
	}
	// Let the workers run into the last kills before stopping them.
	time.Sleep(100 * time.Millisecond)
	stop.Store(true)
	<-done
	if len(killed) < kills {
		t.Fatalf("only %d of %d backends were terminated", len(killed), kills)
	}
	if !waitFor(10*time.Second, func() bool {
		var n int
		err := r.admin.QueryRow(r.ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", killed).Scan(&n)
		return err == nil && n == 0
	}) {
		t.Errorf("pg_stat_activity still shows some of the terminated backends %v", killed)
	}
	if unknown.Load() == 0 {
		t.Error("no capture saw a terminated backend: the fault did not reach the workload")
	}
	t.Logf("%d backends terminated, %d unknown outcomes resolved by retrying with the same key", len(killed), unknown.Load())
	return nil
}

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

// concurrentServices has several Services, each on a pool of its own,
// capture concurrently from two authorizations under the row's latency.
// The longer window between each Service's read and its version-checked
// write makes conflicts frequent; every capture must succeed, or fail
// cleanly (a version conflict once the Service's retries run out, which
// applies nothing) and then succeed when retried with its key. No outcome
// may be unknown.
func concurrentServices(r *run) error {
	t := r.t
	ids := []string{r.id, r.newAuth(t, "100.00")}
	r.want[ids[1]] = map[string]int64{}
	const services, workers, perWorker = 4, 3, 2
	var conflicts, clean atomic.Int64 // version conflicts the Services retried themselves, and those they returned
	countConflicts := func(_ context.Context, _ string, err error) {
		if errors.Is(err, authcapture.ErrVersionConflict) {
			conflicts.Add(1)
		}
	}
	svcs := make([]*authcapture.Service, services)
	for i := range svcs {
		pool := r.pool(t, workers, nil)
		if i == 0 {
			// The latency is there: a round trip through the proxy takes
			// at least the least delay of both directions.
			least := time.Duration(2*(r.f.latency-r.f.jitter)) * time.Millisecond
			if rtt := minRoundTrip(r.ctx, t, pool); rtt < least {
				t.Fatalf("a round trip through the proxy took %v: the latency toxic is not in the path", rtt)
			} else {
				t.Logf("round trip through the proxy: %v", rtt)
			}
		}
		svcs[i] = r.service(t, pool, &hooks{after: countConflicts})
	}
	start := time.Now()
	unknown := r.captures(svcs, workers, func(s, w, i int) (string, int64, bool) {
		return ids[(s+w+i)%len(ids)], int64(100 + 10*s + w + i), i < perWorker
	}, func(key string, err error) {
		switch {
		case err == nil:
		case errors.Is(err, authcapture.ErrVersionConflict):
			clean.Add(1)
			if auth, rerr := r.record(key); rerr != nil || auth != "" {
				t.Errorf("capture %s failed with a version conflict yet is recorded (%v)", key, rerr)
			}
		case definite(err):
			t.Errorf("capture %s: %v", key, err)
		default:
			t.Errorf("capture %s: outcome unknown under latency alone: %v", key, err)
		}
	})
	t.Logf("%d captures by %d services in %v; %d version conflicts retried by the Services, %d returned to the caller, %d unknown outcomes",
		services*workers*perWorker, services, time.Since(start), conflicts.Load(), clean.Load(), unknown)
	if conflicts.Load() == 0 {
		t.Error("no write conflicted: the captures did not run concurrently")
	}
	return nil
}

// minRoundTrip returns the shortest of a few round trips of SELECT 1 on
// pool.
func minRoundTrip(ctx context.Context, t testing.TB, pool *pgxpool.Pool) time.Duration {
	t.Helper()
	best := time.Hour
	for range 3 {
		start := time.Now()
		if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Since(start))
	}
	return best
}
