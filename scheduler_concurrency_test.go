package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// gateExecutor counts the calls in flight. Each call waits until gate is
// closed (or sleeps delay when gate is nil), or until its context ends,
// which it reports as an unknown outcome.
type gateExecutor struct {
	mu       sync.Mutex
	inflight int
	max      int            // most calls in flight at once
	keys     map[string]int // calls by key
	calls    int
	gate     chan struct{}
	delay    time.Duration
	outcome  func(call int) error // by the call's rank, from 1; nil accepts
}

func newGateExecutor() *gateExecutor {
	return &gateExecutor{keys: map[string]int{}, gate: make(chan struct{})}
}

func (e *gateExecutor) call(ctx context.Context, key string) error {
	e.mu.Lock()
	e.inflight++
	e.max = max(e.max, e.inflight)
	e.calls++
	e.keys[key]++
	n := e.calls
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inflight--
		e.mu.Unlock()
	}()
	if e.gate == nil {
		time.Sleep(e.delay)
	} else {
		select {
		case <-e.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if e.outcome != nil {
		return e.outcome(n)
	}
	return nil
}

func (e *gateExecutor) Capture(ctx context.Context, task authcapture.CaptureTask) error {
	return e.call(ctx, task.Key)
}

func (e *gateExecutor) Void(ctx context.Context, task authcapture.VoidTask) (int64, error) {
	if err := e.call(ctx, task.Key); err != nil {
		return 0, err
	}
	return task.Amount, nil
}

// stats returns the calls in flight, the most at once, and the calls made.
func (e *gateExecutor) stats() (inflight, most, calls int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight, e.max, e.calls
}

// delayedCaptures makes n holds whose delayed capture is due in an hour.
func (f *fixture) delayedCaptures(n int) []string {
	f.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour}).ID
	}
	return ids
}

// A scheduler handles up to Concurrency due authorizations at once, adds up
// what each did, and returns only after every call in flight has finished.
func TestSchedulerConcurrency(t *testing.T) {
	t.Parallel()
	t.Run("a negative concurrency is refused", func(t *testing.T) {
		f := setup(t)
		_, err := authcapture.NewScheduler(f.svc, nil, &authcapture.SchedulerOptions{Concurrency: -1})
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
		assert.Contains(t, err.Error(), "SchedulerOptions.Concurrency")
	})
	for _, tt := range []struct {
		name string
		opts *authcapture.SchedulerOptions
		want int
	}{
		{"up to Concurrency authorizations are handled at once", &authcapture.SchedulerOptions{Concurrency: 4}, 4},
		{"the default is DefaultSchedulerConcurrency", nil, authcapture.DefaultSchedulerConcurrency},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			exec := newGateExecutor()
			s, err := authcapture.NewScheduler(f.svc, exec, tt.opts)
			require.NoError(t, err)
			n := tt.want*2 + 3
			ids := f.delayedCaptures(n)
			f.clock.Advance(time.Hour)
			done := make(chan authcapture.SweepResult, 1)
			go func() {
				res, err := s.RunDue(f.ctx, 1000)
				assert.NoError(t, err)
				done <- res
			}()
			require.Eventually(t, func() bool { in, _, _ := exec.stats(); return in == tt.want }, 5*time.Second, time.Millisecond)
			time.Sleep(20 * time.Millisecond) // room for a call too many
			_, most, _ := exec.stats()
			assert.Equal(t, tt.want, most)
			close(exec.gate)
			res := <-done
			assert.Equal(t, n, res.Due)
			assert.Equal(t, n, res.Captured, "%+v", res)
			for _, id := range ids {
				assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(id)))
			}
			assert.Len(t, exec.keys, n, "one key per capture")
			_, _, calls := exec.stats()
			assert.Equal(t, n, calls, "each handed to the executor once")
		})
	}
	t.Run("Concurrency 1 handles them one after another", func(t *testing.T) {
		f := setup(t)
		exec := newGateExecutor()
		exec.gate, exec.delay = nil, time.Millisecond
		s, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 1})
		require.NoError(t, err)
		f.delayedCaptures(10)
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 10, res.Captured)
		_, most, _ := exec.stats()
		assert.Equal(t, 1, most)
	})
	t.Run("the counts and errors of every worker add up", func(t *testing.T) {
		f := setup(t)
		exec := newGateExecutor()
		exec.gate, exec.delay = nil, time.Millisecond
		exec.outcome = func(call int) error {
			switch call % 3 {
			case 0:
				return fmt.Errorf("do not honor: %w", authcapture.ErrProviderDeclined)
			case 1:
				return errors.New("timeout")
			}
			return nil
		}
		s, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 8})
		require.NoError(t, err)
		const n = 60
		for i := 0; i < n; i++ {
			req := authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour}
			if i%2 == 1 {
				req = authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour}
			}
			f.scheduled("default", req)
		}
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, n, res.Due)
		assert.Equal(t, n/3, res.Captured+res.Canceled, "%+v", res)
		assert.Equal(t, n/3, res.CaptureFailed+res.CancelFailed, "%+v", res)
		assert.Equal(t, n/3, res.Unknown, "%+v", res)
		assert.Len(t, res.Errors, 2*n/3, "one per declined or unknown outcome")
		_, most, calls := exec.stats()
		assert.Equal(t, n, calls)
		assert.Greater(t, most, 1, "handled at once")
	})
	t.Run("when the context ends, RunDue returns after the calls in flight and begins no more", func(t *testing.T) {
		f := setup(t)
		exec := newGateExecutor()
		s, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 4})
		require.NoError(t, err)
		ids := f.delayedCaptures(10)
		f.clock.Advance(time.Hour)
		ctx, cancel := context.WithCancel(f.ctx)
		type result struct {
			res  authcapture.SweepResult
			err  error
			left int // calls in flight when RunDue returned
		}
		done := make(chan result, 1)
		go func() {
			res, err := s.RunDue(ctx, 1000)
			in, _, _ := exec.stats()
			done <- result{res, err, in}
		}()
		require.Eventually(t, func() bool { in, _, _ := exec.stats(); return in == 4 }, 5*time.Second, time.Millisecond)
		cancel()
		r := <-done
		require.ErrorIs(t, r.err, context.Canceled)
		assert.Equal(t, 0, r.left, "every call in flight has finished")
		assert.Equal(t, 10, r.res.Due)
		assert.Equal(t, 4, r.res.Unknown, "the calls in flight saw the ended context: %+v", r.res)
		_, _, calls := exec.stats()
		assert.Equal(t, 4, calls, "no call began after the context ended")
		// The four are re-driven with their keys after the lease; the six
		// others begin then.
		close(exec.gate)
		f.clock.Advance(time.Minute)
		res := f.sweep(s)
		assert.Equal(t, 10, res.Captured, "%+v", res)
		for _, id := range ids {
			assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(id)))
		}
		assert.Len(t, exec.keys, 10)
		_, _, calls = exec.stats()
		assert.Equal(t, 14, calls)
	})
	t.Run("Run returns after the calls in flight", func(t *testing.T) {
		f := setup(t)
		exec := newGateExecutor()
		s, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 3, Interval: time.Minute})
		require.NoError(t, err)
		f.delayedCaptures(5)
		f.clock.Advance(time.Hour)
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan int, 1)
		go func() {
			err := s.Run(ctx, nil)
			assert.ErrorIs(t, err, context.Canceled)
			in, _, _ := exec.stats()
			done <- in
		}()
		require.Eventually(t, func() bool { in, _, _ := exec.stats(); return in == 3 }, 5*time.Second, time.Millisecond)
		cancel()
		assert.Equal(t, 0, <-done)
	})
}

// slowExecutor is a fakeExecutor whose calls take a little time outside its
// lock, so that the calls of many workers overlap.
type slowExecutor struct{ *fakeExecutor }

func (e slowExecutor) Capture(ctx context.Context, task authcapture.CaptureTask) error {
	time.Sleep(50 * time.Microsecond)
	return e.fakeExecutor.Capture(ctx, task)
}

func (e slowExecutor) Void(ctx context.Context, task authcapture.VoidTask) (int64, error) {
	time.Sleep(50 * time.Microsecond)
	return e.fakeExecutor.Void(ctx, task)
}

// Two schedulers, each handling 8 authorizations at once, race over 2,000
// due authorizations: each action is applied, and handed to the executor,
// exactly once.
func TestSchedulersRaceConcurrent(t *testing.T) {
	t.Parallel()
	exec := newExecutor()
	raceTwoSchedulers(t, 2_000, 97, exec, slowExecutor{exec}, &authcapture.SchedulerOptions{Concurrency: 8})
}

// Over a store that claims due work (memstore), a second scheduler's batch
// holds none of the authorizations a first scheduler claimed and has not
// begun yet: each captures its own 10 and skips none.
func TestSchedulersClaimDifferentAuthorizations(t *testing.T) {
	t.Parallel()
	f := setup(t)
	exec := newGateExecutor()
	first, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 1})
	require.NoError(t, err)
	second, err := authcapture.NewScheduler(f.svc, exec, &authcapture.SchedulerOptions{Concurrency: 10})
	require.NoError(t, err)
	f.delayedCaptures(20)
	f.clock.Advance(time.Hour)
	results := make(chan authcapture.SweepResult, 2)
	sweep := func(s *authcapture.Scheduler) {
		res, err := s.RunDue(f.ctx, 10)
		assert.NoError(t, err)
		results <- res
	}
	go sweep(first)
	// The first holds its first call; nine of its batch wait.
	require.Eventually(t, func() bool { in, _, _ := exec.stats(); return in == 1 }, 5*time.Second, time.Millisecond)
	go sweep(second)
	require.Eventually(t, func() bool { in, _, _ := exec.stats(); return in == 11 }, 5*time.Second, time.Millisecond)
	close(exec.gate)
	for range 2 {
		res := <-results
		assert.Equal(t, 10, res.Captured, "%+v", res)
		assert.Zero(t, res.Skipped, "%+v", res)
	}
	_, _, calls := exec.stats()
	assert.Equal(t, 20, calls)
}
