package authcapture_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// recorder is a Hooks and SchedulerHooks that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	commands []authcapture.CommandInfo
	sweeps   []authcapture.SweepInfo
	execs    []authcapture.ExecutorInfo
}

func (r *recorder) CommandDone(_ context.Context, info authcapture.CommandInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = append(r.commands, info)
}

func (r *recorder) SweepDone(_ context.Context, info authcapture.SweepInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweeps = append(r.sweeps, info)
}

func (r *recorder) ExecutorDone(_ context.Context, info authcapture.ExecutorInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execs = append(r.execs, info)
}

// last returns the last command reported.
func (r *recorder) last(t *testing.T) authcapture.CommandInfo {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.commands)
	return r.commands[len(r.commands)-1]
}

// conflicting is a store whose next Write fails with a version conflict
// when armed.
type conflicting struct {
	authcapture.Store
	armed atomic.Bool
}

func (s *conflicting) Write(ctx context.Context, w *authcapture.Write) error {
	if s.armed.CompareAndSwap(true, false) {
		return authcapture.ErrVersionConflict
	}
	return s.Store.Write(ctx, w)
}

// observed returns a Service over store with a fake clock and opts.
func observed(t *testing.T, store authcapture.Store, opts authcapture.Options) (*authcapture.Service, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(t0)
	opts.Clock = clock
	svc, err := authcapture.New(store, &opts)
	require.NoError(t, err)
	return svc, clock
}

// authorized creates and authorizes a 100.00 hold of m1 under policy.
func authorized(t *testing.T, svc *authcapture.Service, policy, key string, req authcapture.CreateRequest) *authcapture.Authorization {
	t.Helper()
	ctx := context.Background()
	req.MerchantID, req.Currency, req.Amount, req.Policy, req.IdempotencyKey = "m1", "USD", amt("100.00"), policy, key+"-create"
	r, err := svc.Create(ctx, req)
	require.NoError(t, err)
	r, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
		Amount: amt("100.00"), IdempotencyKey: key + "-auth"})
	require.NoError(t, err)
	return r.Authorization
}

func TestHooksCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &recorder{}
	store := &conflicting{Store: memstore.New()}
	svc, _ := observed(t, store, authcapture.Options{Hooks: rec})

	a := authorized(t, svc, "default", "k1", authcapture.CreateRequest{})
	got := rec.last(t)
	assert.Equal(t, authcapture.CmdAuthorize, got.Op)
	assert.Equal(t, authcapture.CommandAccepted, got.Outcome)
	assert.Equal(t, "m1", got.MerchantID)
	assert.Equal(t, a.ID, got.AuthorizationID)
	assert.Equal(t, 1, got.Attempts)
	assert.Zero(t, got.Conflicts)
	assert.False(t, got.Locked)
	assert.Positive(t, got.Duration)
	assert.NoError(t, got.Err)
	assert.Equal(t, a.ID, rec.commands[0].AuthorizationID, "a create with a generated ID reports it")

	t.Run("rejected, with the sentinel", func(t *testing.T) {
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("500.00"), IdempotencyKey: "k1-big"})
		require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		got := rec.last(t)
		assert.Equal(t, authcapture.CmdCapture, got.Op)
		assert.Equal(t, authcapture.CommandRejected, got.Outcome)
		assert.Equal(t, authcapture.ErrExceedsCapturable, got.Sentinel)
		assert.Equal(t, "ErrExceedsCapturable", got.SentinelName)
		assert.Equal(t, a.ID, got.AuthorizationID)
		assert.ErrorIs(t, got.Err, authcapture.ErrExceedsCapturable)
	})
	t.Run("replayed", func(t *testing.T) {
		r, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: a.ID, Amount: amt("100.00"), IdempotencyKey: "k1-auth"})
		require.NoError(t, err)
		require.True(t, r.Replayed)
		got := rec.last(t)
		assert.Equal(t, authcapture.CmdAuthorize, got.Op)
		assert.Equal(t, authcapture.CommandReplayed, got.Outcome)
		assert.Empty(t, got.SentinelName)
	})
	t.Run("a conflict, then accepted", func(t *testing.T) {
		store.armed.Store(true)
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("10.00"), IdempotencyKey: "k1-cap"})
		require.NoError(t, err)
		got := rec.last(t)
		assert.Equal(t, authcapture.CmdCapture, got.Op)
		assert.Equal(t, authcapture.CommandAccepted, got.Outcome)
		assert.Equal(t, 1, got.Conflicts)
		assert.Equal(t, 2, got.Attempts)
	})
	t.Run("not found", func(t *testing.T) {
		_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "nope", Amount: amt("1.00"), IdempotencyKey: "k1-none"})
		require.ErrorIs(t, err, authcapture.ErrNotFound)
		got := rec.last(t)
		assert.Equal(t, authcapture.CommandRejected, got.Outcome)
		assert.Equal(t, "ErrNotFound", got.SentinelName)
		assert.Equal(t, "nope", got.AuthorizationID)
	})
}

// lagExecutor accepts every call after a delay, or declines captures.
type lagExecutor struct {
	delay   time.Duration
	decline bool
}

func (e lagExecutor) Capture(context.Context, authcapture.CaptureTask) error {
	time.Sleep(e.delay)
	if e.decline {
		return authcapture.ErrProviderDeclined
	}
	return nil
}

func (e lagExecutor) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	time.Sleep(e.delay)
	return task.Amount, nil
}

func TestHooksSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, decline := range []bool{false, true} {
		rec := &recorder{}
		svc, clock := observed(t, memstore.New(), authcapture.Options{Hooks: rec})
		s, err := authcapture.NewScheduler(svc, lagExecutor{delay: 20 * time.Millisecond, decline: decline}, nil)
		require.NoError(t, err)
		a := authorized(t, svc, "payrails", "k2", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
		b := authorized(t, svc, "payrails", "k3", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
		require.Equal(t, a.CaptureAt, b.CaptureAt)

		res, err := s.RunDue(ctx, 10)
		require.NoError(t, err)
		require.Zero(t, res.Due)
		clock.Set(a.CaptureAt.Add(30 * time.Second))
		res, err = s.RunDue(ctx, 10)
		require.NoError(t, err)

		rec.mu.Lock()
		require.Len(t, rec.sweeps, 2, "every sweep is reported, an empty one too")
		assert.Zero(t, rec.sweeps[0].Lag)
		sw := rec.sweeps[1]
		assert.Equal(t, 30*time.Second, sw.Lag, "the oldest due action waited 30 seconds")
		assert.Equal(t, res.Due, sw.Result.Due)
		assert.Equal(t, 2, sw.Result.Due)
		assert.GreaterOrEqual(t, sw.Duration, 20*time.Millisecond)
		require.Len(t, rec.execs, 2)
		for _, e := range rec.execs {
			assert.Equal(t, authcapture.ExecutorCapture, e.Kind)
			assert.GreaterOrEqual(t, e.Latency, 20*time.Millisecond)
			assert.Equal(t, "m1", e.MerchantID)
			assert.True(t, strings.HasPrefix(e.ActionID, "sched_"), e.ActionID)
			if decline {
				assert.Equal(t, authcapture.ExecutorDeclined, e.Outcome)
				assert.ErrorIs(t, e.Err, authcapture.ErrProviderDeclined)
			} else {
				assert.Equal(t, authcapture.ExecutorAccepted, e.Outcome)
				assert.NoError(t, e.Err)
			}
		}
		ops := map[authcapture.Command]int{}
		for _, c := range rec.commands {
			ops[c.Op]++
		}
		assert.Equal(t, 2, ops[authcapture.CmdBeginCapture], "the scheduler's writes are commands too")
		rec.mu.Unlock()
	}
}

// capture is a slog handler that keeps every record.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

// TestLoggerQuietByDefault is not parallel: it sets the default logger.
func TestLoggerQuietByDefault(t *testing.T) {
	h := &captureHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)

	ctx := context.Background()
	svc, clock := observed(t, memstore.New(), authcapture.Options{})
	s, err := authcapture.NewScheduler(svc, lagExecutor{decline: true}, nil)
	require.NoError(t, err)
	a := authorized(t, svc, "payrails", "k4", authcapture.CreateRequest{CaptureMode: authcapture.CaptureDelayed})
	_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("500.00"), IdempotencyKey: "k4-big"})
	require.Error(t, err)
	clock.Set(a.CaptureAt)
	_, err = s.RunDue(ctx, 10)
	require.NoError(t, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Empty(t, h.records, "a Service without a Logger logs nothing, not even to slog's default")
}

func TestLoggerRejectedAtDebug(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, _ := observed(t, memstore.New(), authcapture.Options{Logger: log})
	a := authorized(t, svc, "default", "k5", authcapture.CreateRequest{})
	_, err := svc.Capture(context.Background(), authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("500.00"), IdempotencyKey: "k5-big"})
	require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)

	var found map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "authcapture: command rejected" {
			found = m
		}
	}
	require.NotNil(t, found, buf.String())
	assert.Equal(t, "DEBUG", found["level"])
	assert.Equal(t, "capture", found["op"])
	assert.Equal(t, "m1", found["merchant"])
	assert.Equal(t, a.ID, found["authorization"])
	assert.Equal(t, "ErrExceedsCapturable", found["sentinel"])
	assert.Equal(t, float64(1), found["attempts"])
	assert.Contains(t, found, "duration")

	t.Run("nothing below info at info level", func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		svc, _ := observed(t, memstore.New(), authcapture.Options{Logger: log})
		a := authorized(t, svc, "default", "k6", authcapture.CreateRequest{})
		_, err := svc.Capture(context.Background(), authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("500.00"), IdempotencyKey: "k6-big"})
		require.Error(t, err)
		assert.Empty(t, buf.String())
	})
}

// panicky is a Hooks that panics.
type panicky struct{}

func (panicky) CommandDone(context.Context, authcapture.CommandInfo) { panic("boom") }

func TestHookPanicIsDropped(t *testing.T) {
	t.Parallel()
	svc, _ := observed(t, memstore.New(), authcapture.Options{Hooks: panicky{}})
	a := authorized(t, svc, "default", "k7", authcapture.CreateRequest{})
	assert.Equal(t, authcapture.StatusAuthorized, a.Status())
}
