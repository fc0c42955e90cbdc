package faulttest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgxpool"
)

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

// TestLatencyConcurrentServices adds latency in both directions of the
// proxy and has several Services, each on a pool of its own, capture
// concurrently from two authorizations. The longer window between each
// Service's read and its version-checked write makes conflicts frequent;
// every capture must succeed, or fail cleanly (a version conflict once the
// Service's retries run out, which applies nothing) and then succeed when
// retried with its key. No outcome may be unknown, and the sums are exact.
func TestLatencyConcurrentServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const latency, jitter = 15, 5 // milliseconds, each way
	for _, stream := range []string{"upstream", "downstream"} {
		e.addToxic(t, "latency_"+stream, "latency", stream, 1, toxiclient.Attributes{"latency": latency, "jitter": jitter})
	}
	ids := []string{e.newAuth(t, "100.00"), e.newAuth(t, "100.00")}

	const services, workers, perWorker = 4, 3, 2
	var conflicts atomic.Int64 // version conflicts the Services retried themselves
	countConflicts := &hooks{after: func(_ context.Context, _ string, err error) {
		if errors.Is(err, authcapture.ErrVersionConflict) {
			conflicts.Add(1)
		}
	}}
	svcs := make([]*authcapture.Service, services)
	for i := range svcs {
		pool := e.pool(t, workers, nil)
		if i == 0 {
			// The latency is there: a round trip through the proxy takes
			// at least the least delay of both directions.
			if rtt := minRoundTrip(e.ctx, t, pool); rtt < 2*(latency-jitter)*time.Millisecond {
				t.Fatalf("a round trip through the proxy took %v: the latency toxic is not in the path", rtt)
			} else {
				t.Logf("round trip through the proxy: %v", rtt)
			}
		}
		svcs[i] = e.service(t, pool, &hooks{after: countConflicts.after})
	}

	var (
		mu      sync.Mutex
		want    = map[string]map[string]int64{ids[0]: {}, ids[1]: {}}
		clean   atomic.Int64 // version conflicts after the Service's retries
		unknown atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	for s, svc := range svcs {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					id := ids[(s+w+i)%len(ids)]
					key := fmt.Sprintf("lat-s%d-w%d-%d", s, w, i)
					cents := int64(100 + 10*s + w + i)
					req := captureReq(id, key, cents)
					ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
					_, err := svc.Capture(ctx, req)
					cancel()
					switch {
					case err == nil:
					case errors.Is(err, authcapture.ErrVersionConflict):
						clean.Add(1)
						if ok, rerr := e.recorded(key); rerr != nil || ok {
							t.Errorf("capture %s failed with a version conflict yet is recorded (%v)", key, rerr)
						}
						if _, _, err := resolve(svc, req); err != nil {
							t.Error(err)
							return
						}
					case definite(err):
						t.Errorf("capture %s: %v", key, err)
						return
					default:
						unknown.Add(1)
						t.Errorf("capture %s: outcome unknown under latency alone: %v", key, err)
						if _, _, err := resolve(svc, req); err != nil {
							t.Error(err)
							return
						}
					}
					mu.Lock()
					want[id][key] = cents
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("%d captures by %d services in %v; %d version conflicts retried by the Services, %d returned to the caller, %d unknown outcomes",
		services*workers*perWorker, services, time.Since(start), conflicts.Load(), clean.Load(), unknown.Load())
	if conflicts.Load() == 0 {
		t.Error("no write conflicted: the captures did not run concurrently")
	}
	for _, id := range ids {
		e.verify(t, id, want[id])
	}
}
