package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// fakeExecutor records every call and answers with a programmable outcome.
type fakeExecutor struct {
	mu       sync.Mutex
	captures map[string]int // calls by key
	voids    map[string]int
	outcome  func(key string, call int) error
}

func newExecutor() *fakeExecutor {
	return &fakeExecutor{captures: map[string]int{}, voids: map[string]int{}}
}

func (e *fakeExecutor) Capture(_ context.Context, task authcapture.CaptureTask) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.captures[task.Key]++
	if e.outcome != nil {
		return e.outcome(task.Key, e.captures[task.Key])
	}
	return nil
}

func (e *fakeExecutor) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.voids[task.Key]++
	if e.outcome != nil {
		if err := e.outcome(task.Key, e.voids[task.Key]); err != nil {
			return 0, err
		}
	}
	return task.Amount, nil
}

func (e *fakeExecutor) calls() (captures, voids int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.captures {
		captures += n
	}
	for _, n := range e.voids {
		voids += n
	}
	return
}

func (f *fixture) scheduler(exec authcapture.Executor) *authcapture.Scheduler {
	f.t.Helper()
	s, err := authcapture.NewScheduler(f.svc, exec, nil)
	require.NoError(f.t, err)
	return s
}

// scheduled creates and authorizes a 100.00 hold with the given schedule.
func (f *fixture) scheduled(policy string, req authcapture.CreateRequest) *authcapture.Authorization {
	f.t.Helper()
	req.MerchantID, req.Currency, req.Amount, req.Policy, req.IdempotencyKey = "m1", "USD", amt("100.00"), policy, f.key()
	r, err := f.svc.Create(f.ctx, req)
	require.NoError(f.t, err)
	r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
		Amount: amt("100.00"), IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Authorization
}

func (f *fixture) sweep(s *authcapture.Scheduler) authcapture.SweepResult {
	f.t.Helper()
	res, err := s.RunDue(f.ctx, 1000)
	require.NoError(f.t, err)
	return res
}

func TestDelayedCapture(t *testing.T) {
	t.Parallel()
	t.Run("fires at its time and not a nanosecond before", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("payrails", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
		assert.Equal(t, t0.Add(5*time.Minute), a.CaptureAt, "Payrails' default delay is PT5M")
		assert.Equal(t, a.CaptureAt, a.NextDue)
		f.clock.Set(a.CaptureAt.Add(-time.Nanosecond))
		res := f.sweep(s)
		assert.Equal(t, 0, res.Due)
		assert.Equal(t, "100.00/0.00/0.00/0.00/0.00 authorized", amounts(f.get(a.ID)))
		f.clock.Set(a.CaptureAt)
		res = f.sweep(s)
		assert.Equal(t, 1, res.Captured, "%+v", res)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(got))
		assert.True(t, got.NextDue.IsZero())
		c, _ := exec.calls()
		assert.Equal(t, 1, c)
		assert.Equal(t, 0, f.sweep(s).Due, "nothing is due any more")
	})
	t.Run("an ISO 8601 delay", func(t *testing.T) {
		f := setup(t)
		d, err := authcapture.ParseDelay("PT2H30M")
		require.NoError(t, err)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: d})
		assert.Equal(t, t0.Add(150*time.Minute), a.CaptureAt)
	})
	t.Run("a manual capture before the time wins and drops the schedule", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("payrails", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
		f.clock.Advance(time.Minute)
		_, err := f.capture(a.ID, "30.00", nil)
		require.NoError(t, err)
		got := f.get(a.ID)
		assert.True(t, got.CaptureAt.IsZero())
		assert.Equal(t, got.ExpiresAt, got.NextDue, "only expiry remains due")
		f.clock.Advance(time.Hour)
		f.sweep(s)
		assert.Equal(t, "70.00/0.00/30.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
		c, _ := exec.calls()
		assert.Equal(t, 0, c)
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		var reasons []authcapture.Reason
		for _, e := range log {
			if e.Kind == authcapture.EntrySchedule {
				reasons = append(reasons, e.Reason)
			}
		}
		assert.Equal(t, []authcapture.Reason{authcapture.ReasonCaptureScheduled, authcapture.ReasonCaptureUnscheduled}, reasons)
	})
	t.Run("a declined scheduled capture is retried with backoff, then dropped", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		exec.outcome = func(string, int) error { return fmt.Errorf("do not honor: %w", authcapture.ErrProviderDeclined) }
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		f.clock.Set(a.CaptureAt)
		backoff := time.Minute
		for attempt := 1; attempt <= 4; attempt++ {
			res, err := s.RunDue(f.ctx, 10)
			require.NoError(t, err)
			assert.Equal(t, 1, res.CaptureFailed, "attempt %d: %+v", attempt, res)
			require.Len(t, res.Errors, 1)
			assert.ErrorIs(t, res.Errors[0], authcapture.ErrProviderDeclined)
			got := f.get(a.ID)
			assert.Equal(t, "100.00/0.00/0.00/0.00/0.00 authorized", amounts(got))
			assert.Equal(t, attempt, got.CaptureFailures)
			if attempt == 4 {
				assert.True(t, got.CaptureAt.IsZero(), "dropped after 3 retries")
				break
			}
			assert.Equal(t, f.clock.Now().Add(backoff), got.CaptureAt, "attempt %d", attempt)
			f.clock.Set(got.CaptureAt)
			backoff *= 2
		}
		c, _ := exec.calls()
		assert.Equal(t, 4, c)
	})
	t.Run("an unknown outcome is retried with the same key after the lease, applied once", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		exec.outcome = func(_ string, call int) error {
			if call == 1 {
				return errors.New("connection reset")
			}
			return nil
		}
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		f.clock.Set(a.CaptureAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Unknown)
		assert.Equal(t, "0.00/100.00/0.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)), "reserved while unknown")
		f.clock.Advance(30 * time.Second)
		assert.Equal(t, 0, f.sweep(s).Due, "leased")
		f.clock.Advance(30 * time.Second)
		res = f.sweep(s)
		assert.Equal(t, 1, res.Captured, "%+v", res)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
		require.Len(t, exec.captures, 1, "one key")
		for _, n := range exec.captures {
			assert.Equal(t, 2, n)
		}
	})
}

func TestDelayedCancel(t *testing.T) {
	t.Parallel()
	t.Run("a deposit cancels itself", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("payrails", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: 72 * time.Hour})
		f.clock.Set(a.CancelAt.Add(-time.Nanosecond))
		f.sweep(s)
		assert.Equal(t, authcapture.StatusAuthorized, f.get(a.ID).Status())
		f.clock.Set(a.CancelAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Canceled, "%+v", res)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/0.00/100.00/0.00 voided", amounts(got))
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		assert.Equal(t, authcapture.ReasonScheduledCancel, log[len(log)-1].Reason)
		_, v := exec.calls()
		assert.Equal(t, 1, v)
	})
	t.Run("a void before the time wins", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		_, err := f.void(a.ID, "40.00")
		require.NoError(t, err)
		assert.True(t, f.get(a.ID).CancelAt.IsZero())
		f.clock.Advance(2 * time.Hour)
		f.sweep(s)
		assert.Equal(t, "60.00/0.00/0.00/40.00/0.00 authorized", amounts(f.get(a.ID)))
		_, v := exec.calls()
		assert.Equal(t, 0, v)
	})
	t.Run("a partial capture keeps the cancel for the rest", func(t *testing.T) {
		f := setup(t)
		s := f.scheduler(newExecutor())
		a := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		_, err := f.capture(a.ID, "25.00", authcapture.Bool(false))
		require.NoError(t, err)
		f.clock.Advance(time.Hour)
		f.sweep(s)
		got := f.get(a.ID)
		assert.Equal(t, "0.00/0.00/25.00/75.00/0.00 captured", amounts(got))
		assert.Equal(t, authcapture.CloseVoided, got.CloseReason)
	})
}

func TestBothDelayed(t *testing.T) {
	t.Parallel()
	t.Run("the capture fires first and the cancel has nothing left", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("payrails", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed,
			CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		f.clock.Set(a.CancelAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Captured, "%+v", res)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
		_, v := exec.calls()
		assert.Equal(t, 0, v)
	})
	for _, tt := range []struct {
		name string
		req  authcapture.CreateRequest
	}{
		{"a capture delay equal to the cancel delay is rejected", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed,
			CaptureDelay: time.Hour, CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour}},
		{"a capture delay after the cancel delay is rejected", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed,
			CaptureDelay: 2 * time.Hour, CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour}},
		{"a delay at expiry is rejected", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 7 * 24 * time.Hour}},
		{"a delay within the margin of expiry is rejected", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed,
			CancelDelay: 7*24*time.Hour - time.Minute}},
		{"a delayed cancel without a delay is rejected", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed}},
		{"a delay without delayed mode is rejected", authcapture.CreateRequest{CaptureDelay: time.Hour}},
		{"a negative delay is rejected", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: -time.Hour}},
		{"an unknown mode is rejected", authcapture.CreateRequest{CaptureMode: "sometimes"}},
		{"automatic capture with a delayed cancel is rejected", authcapture.CreateRequest{CaptureMode: authcapture.CaptureAutomatic,
			CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			tt.req.MerchantID, tt.req.Currency, tt.req.Amount, tt.req.IdempotencyKey = "m1", "USD", amt("1"), "k"
			_, err := f.svc.Create(f.ctx, tt.req)
			require.ErrorIs(t, err, authcapture.ErrInvalidSchedule)
			assert.Equal(t, 422, authcapture.HTTPStatus(err))
			assert.Equal(t, 0, f.store.Len())
		})
	}
	t.Run("a policy that clamps moves a late schedule to the margin before expiry", func(t *testing.T) {
		f := setup(t)
		svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{{
			Name: "clamping", MultipleCaptures: true, PartialCapture: true, Validity: 24 * time.Hour,
			ClampSchedules: true, ScheduleMargin: time.Hour}}})
		require.NoError(t, err)
		f.svc = svc
		a := f.scheduled("clamping", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 30 * time.Hour})
		assert.Equal(t, a.ExpiresAt.Add(-time.Hour), a.CaptureAt)
	})
	t.Run("every approval is recorded: a schedule the hold is too short for is dropped, with an event", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"),
			CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 2 * time.Hour,
			CancelMode: authcapture.CancelDelayed, CancelDelay: 3 * time.Hour, IdempotencyKey: "c"})
		require.NoError(t, err)
		r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
			Amount: amt("1"), ExpiresAt: t0.Add(time.Hour), IdempotencyKey: "a"})
		require.NoError(t, err)
		a := r.Authorization
		assert.Equal(t, authcapture.StatusAuthorized, a.Status())
		assert.True(t, a.CaptureAt.IsZero() && a.CancelAt.IsZero(), "neither schedule fits a one-hour hold")
		assert.True(t, a.NextDue.Equal(a.ExpiresAt), "expiry is still due")
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		var reasons []authcapture.Reason
		for _, e := range log {
			if e.Kind == authcapture.EntrySchedule {
				reasons = append(reasons, e.Reason)
			}
		}
		assert.Equal(t, []authcapture.Reason{authcapture.ReasonCaptureUnfit, authcapture.ReasonCancelUnfit}, reasons)
		evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
		require.NoError(t, err)
		n := 0
		for _, ev := range evs {
			if ev.Type == authcapture.EventScheduleUpdated {
				n++
			}
		}
		assert.Equal(t, 2, n, "one schedule_updated event per dropped schedule")
	})
	t.Run("an expiry capture on a hold shorter than the margin is dropped, not refused", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"),
			ExpiryAction: authcapture.ExpiryCapture, IdempotencyKey: "c"})
		require.NoError(t, err)
		r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
			Amount: amt("1"), ExpiresAt: t0.Add(4 * time.Minute), IdempotencyKey: "a"})
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusAuthorized, r.Authorization.Status())
		assert.True(t, r.Authorization.CaptureAt.IsZero())
	})
}

func TestExpiryAction(t *testing.T) {
	t.Parallel()
	t.Run("capture: the open amount is captured a margin before expiry", func(t *testing.T) {
		f := setup(t)
		s := f.scheduler(newExecutor())
		a := f.scheduled("default", authcapture.CreateRequest{ExpiryAction: authcapture.ExpiryCapture})
		assert.Equal(t, a.ExpiresAt.Add(-5*time.Minute), a.CaptureAt)
		_, err := f.capture(a.ID, "10.00", authcapture.Bool(false))
		require.NoError(t, err)
		assert.Equal(t, a.CaptureAt, f.get(a.ID).CaptureAt, "an explicit capture keeps the expiry capture")
		f.clock.Set(a.CaptureAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Captured, "%+v", res)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("release: the open amount expires and captures stay", func(t *testing.T) {
		f := setup(t)
		s := f.scheduler(nil)
		a := f.scheduled("default", authcapture.CreateRequest{})
		_, err := f.capture(a.ID, "10.00", authcapture.Bool(false))
		require.NoError(t, err)
		f.clock.Set(a.ExpiresAt)
		res := f.sweep(s)
		assert.Equal(t, 1, res.Expired, "%+v", res)
		got, err := f.store.Get(f.ctx, "m1", a.ID) // no read-side expiry: the sweep wrote it
		require.NoError(t, err)
		assert.Equal(t, "0.00/0.00/10.00/0.00/90.00 captured", amounts(got))
	})
}

func TestAutomaticAndFallbackCapture(t *testing.T) {
	t.Parallel()
	t.Run("automatic records the approval and the capture as two entries", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("payrails", authcapture.CreateRequest{CaptureMode: authcapture.CaptureAutomatic})
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(a))
		log, err := f.svc.Log(f.ctx, "m1", a.ID)
		require.NoError(t, err)
		require.Len(t, log, 3)
		assert.Equal(t, authcapture.EntryAuthorized, log[1].Kind)
		assert.Equal(t, authcapture.EntryCapture, log[2].Kind)
		assert.Equal(t, authcapture.ReasonAutomaticCapture, log[2].Reason)
	})
	t.Run("njiapay: a method that cannot hold is captured at once and the mode used is recorded", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "ZAR", Amount: amt("100.00"),
			Policy: "njiapay", IdempotencyKey: "c"})
		require.NoError(t, err)
		assert.Equal(t, authcapture.CaptureManual, r.Authorization.CaptureMode)
		r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
			Amount: amt("100.00"), CapturedImmediately: true, IdempotencyKey: "a"})
		require.NoError(t, err)
		assert.Equal(t, authcapture.CaptureAutomatic, r.Authorization.CaptureMode)
		assert.Equal(t, authcapture.StatusCaptured, r.Authorization.Status())
		log, _ := f.svc.Log(f.ctx, "m1", r.Authorization.ID)
		assert.Equal(t, authcapture.ReasonCaptureFallback, log[len(log)-1].Reason)
	})
	t.Run("njiapay does not allow delayed capture", func(t *testing.T) {
		f := setup(t)
		_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "ZAR", Amount: amt("1"),
			Policy: "njiapay", CaptureMode: authcapture.CaptureDelayed, IdempotencyKey: "c"})
		require.ErrorIs(t, err, authcapture.ErrInvalidSchedule)
	})
	t.Run("a policy without the fallback refuses an immediate capture report", func(t *testing.T) {
		f := setup(t)
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), Policy: "stripe",
			CaptureMode: authcapture.CaptureManual, IdempotencyKey: "c"})
		require.NoError(t, err)
		_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
			Amount: amt("1"), CapturedImmediately: true, IdempotencyKey: "a"})
		require.ErrorIs(t, err, authcapture.ErrInvalidSchedule)
	})
}

func TestSchedulerBatch(t *testing.T) {
	t.Parallel()
	t.Run("one failing authorization does not stop the batch", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		var bad string
		exec.outcome = func(key string, _ int) error {
			for v := int64(1); v < 10; v++ { // the capture is named after the version found due
				if key == authcapture.ProviderKey("m1", bad, "sched_"+strconv.FormatInt(v, 10)) {
					return errors.New("timeout")
				}
			}
			return nil
		}
		s := f.scheduler(exec)
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour}).ID)
		}
		bad = ids[2]
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Equal(t, 4, res.Captured)
		assert.Equal(t, 1, res.Unknown)
		assert.Len(t, res.Errors, 1)
	})
	t.Run("Run sweeps on the clock's interval until the context ends", func(t *testing.T) {
		f := setup(t)
		s, err := authcapture.NewScheduler(f.svc, newExecutor(), &authcapture.SchedulerOptions{Interval: time.Minute})
		require.NoError(t, err)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 10 * time.Minute})
		ctx, cancel := context.WithCancel(f.ctx)
		results := make(chan authcapture.SweepResult, 16)
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, func(r authcapture.SweepResult) { results <- r }) }()
		for i := 0; i < 10; i++ {
			require.Eventually(t, func() bool { return f.clock.Waiters() > 0 }, 5*time.Second, time.Millisecond)
			f.clock.Advance(time.Minute)
		}
		r := <-results
		assert.Equal(t, 1, r.Captured)
		require.Eventually(t, func() bool { return f.get(a.ID).Status() == authcapture.StatusCaptured }, 5*time.Second, time.Millisecond)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

// Two schedulers race over 10,000 due authorizations: each action is applied,
// and handed to the executor, exactly once.
func TestSchedulersRace(t *testing.T) {
	t.Parallel()
	exec := newExecutor()
	raceTwoSchedulers(t, 10_000, 257, exec, exec, nil)
}

// raceTwoSchedulers makes n authorizations due, half with a delayed
// capture and half with a delayed cancel, and has two schedulers (with
// opts, through exec, which counts its calls in calls) sweep them in
// batches of batch at the same time: each action is applied, and handed
// to the executor, exactly once, and nothing is left due.
func raceTwoSchedulers(t *testing.T, n, batch int, calls *fakeExecutor, exec authcapture.Executor, opts *authcapture.SchedulerOptions) {
	f := setup(t)
	for i := 0; i < n; i++ {
		req := authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour}
		if i%2 == 1 {
			req = authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour}
		}
		f.scheduled("racing", req) // its expiring-soon notice falls due before the action
	}
	f.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	totals := make([]authcapture.SweepResult, 2)
	for w := 0; w < 2; w++ {
		svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: testPolicies})
		require.NoError(t, err)
		s, err := authcapture.NewScheduler(svc, exec, opts)
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := s.RunDue(f.ctx, batch)
				if !assert.NoError(t, err) || res.Due == 0 {
					return
				}
				assert.Empty(t, res.Errors)
				totals[w].Captured += res.Captured
				totals[w].Canceled += res.Canceled
				totals[w].Notified += res.Notified
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, n/2, totals[0].Captured+totals[1].Captured)
	assert.Equal(t, n/2, totals[0].Canceled+totals[1].Canceled)
	assert.Equal(t, n, totals[0].Notified+totals[1].Notified, "one notice per hold")
	notices := map[string]int{}
	for after := int64(0); ; {
		evs, err := f.svc.Events(f.ctx, "m1", after, 10_000)
		require.NoError(t, err)
		for _, ev := range evs {
			if ev.Type == authcapture.EventExpiringSoon {
				notices[ev.AuthorizationID]++
			}
		}
		if len(evs) < 10_000 {
			break
		}
		after = evs[len(evs)-1].Position
	}
	twice := 0
	for _, k := range notices {
		if k != 1 {
			twice++
		}
	}
	assert.Equal(t, n, len(notices), "authorizations with an expiring-soon event")
	assert.Zero(t, twice, "authorizations with more than one expiring-soon event")
	c, v := calls.calls()
	assert.Equal(t, n/2, c, "each capture handed to the executor once")
	assert.Equal(t, n/2, v, "each cancel handed to the executor once")
	for _, m := range []map[string]int{calls.captures, calls.voids} {
		for key, k := range m {
			assert.Equal(t, 1, k, key)
		}
	}
	due, err := f.store.Due(f.ctx, f.clock.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, due)
}

// getHook runs once, after the first Get of the store, as if another writer
// acted between a scheduler's read and its write.
type getHook struct {
	authcapture.Store
	once sync.Once
	hook func()
}

func (s *getHook) Get(ctx context.Context, merchantID, id string) (*authcapture.Authorization, error) {
	a, err := s.Store.Get(ctx, merchantID, id)
	s.once.Do(s.hook)
	return a, err
}

func TestSchedulerEdges(t *testing.T) {
	t.Parallel()
	t.Run("an expiry capture still fires after a declined delayed capture and an explicit capture", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		declines := 1
		exec.outcome = func(string, int) error {
			if declines > 0 {
				declines--
				return fmt.Errorf("no: %w", authcapture.ErrProviderDeclined)
			}
			return nil
		}
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour,
			ExpiryAction: authcapture.ExpiryCapture})
		f.clock.Set(a.CaptureAt)
		assert.Equal(t, 1, f.sweep(s).CaptureFailed)
		_, err := f.capture(a.ID, "10.00", authcapture.Bool(false))
		require.NoError(t, err)
		got := f.get(a.ID)
		require.Equal(t, a.ExpiresAt.Add(-5*time.Minute), got.CaptureAt)
		f.clock.Set(got.CaptureAt)
		assert.Equal(t, 1, f.sweep(s).Captured)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("a cancel due while captures hold everything waits for them and calls no provider", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{CancelMode: authcapture.CancelDelayed, CancelDelay: time.Hour})
		r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, All: true, IdempotencyKey: "b"})
		require.NoError(t, err)
		f.clock.Set(a.CancelAt)
		f.sweep(s)
		_, v := exec.calls()
		assert.Equal(t, 0, v)
		assert.Equal(t, f.clock.Now().Add(time.Minute), f.get(a.ID).CancelAt, "looked at again after the lease")
		_, err = f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: r.Entry.CaptureID, IdempotencyKey: "f"})
		require.NoError(t, err)
		f.clock.Advance(time.Minute)
		assert.Equal(t, 1, f.sweep(s).Canceled)
		assert.Equal(t, "0.00/0.00/0.00/100.00/0.00 voided", amounts(f.get(a.ID)))
	})
	t.Run("a host capture between the scheduler's read and its write wins", func(t *testing.T) {
		f := setup(t)
		a := f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		hooked := &getHook{Store: f.store}
		hooked.hook = func() {
			_, err := f.capture(a.ID, "30.00", authcapture.Bool(false))
			require.NoError(t, err)
		}
		svc, err := authcapture.New(hooked, &authcapture.Options{Clock: f.clock})
		require.NoError(t, err)
		exec := newExecutor()
		s, err := authcapture.NewScheduler(svc, exec, nil)
		require.NoError(t, err)
		f.clock.Set(a.CaptureAt)
		res, err := s.RunDue(f.ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 0, res.Captured, "%+v", res)
		c, _ := exec.calls()
		assert.Equal(t, 0, c)
		got := f.get(a.ID)
		assert.Equal(t, "70.00/0.00/30.00/0.00/0.00 partially_captured", amounts(got))
		assert.True(t, got.CaptureAt.IsZero(), "the explicit capture dropped the schedule")
	})
	t.Run("a scheduled capture in flight at expiry is still settled", func(t *testing.T) {
		f := setup(t)
		exec := newExecutor()
		down := true
		exec.outcome = func(string, int) error {
			if down {
				return errors.New("timeout")
			}
			return nil
		}
		s := f.scheduler(exec)
		a := f.scheduled("default", authcapture.CreateRequest{ExpiryAction: authcapture.ExpiryCapture})
		f.clock.Set(a.CaptureAt)
		assert.Equal(t, 1, f.sweep(s).Unknown)
		f.clock.Set(a.ExpiresAt)
		f.sweep(s)
		got := f.get(a.ID)
		require.True(t, got.HoldExpired())
		assert.False(t, got.NextDue.IsZero(), "the capture at the provider is still to settle")
		down = false
		f.clock.Advance(time.Minute)
		assert.Equal(t, 1, f.sweep(s).Captured)
		assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
	})
	t.Run("authorizations left due do not block the ones behind them", func(t *testing.T) {
		f := setup(t)
		s, err := authcapture.NewScheduler(f.svc, nil, &authcapture.SchedulerOptions{BatchSize: 2})
		require.NoError(t, err)
		for i := 0; i < 2; i++ {
			f.scheduled("default", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed, CaptureDelay: time.Hour})
		}
		later := f.scheduled("default", authcapture.CreateRequest{})
		f.clock.Advance(time.Hour)
		res := f.sweep(s)
		assert.Len(t, res.Errors, 2, "no executor")
		f.clock.Set(later.ExpiresAt)
		for i := 0; i < 10 && f.get(later.ID).Status() != authcapture.StatusExpired; i++ {
			_, err := s.RunDue(f.ctx, 2)
			require.NoError(t, err)
		}
		got, err := f.store.Get(f.ctx, "m1", later.ID)
		require.NoError(t, err)
		assert.Equal(t, authcapture.StatusExpired, got.Status())
	})
	t.Run("the scheduler's key prefix is reserved", func(t *testing.T) {
		f := setup(t)
		_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), IdempotencyKey: "scheduler:x"})
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
	})
}
