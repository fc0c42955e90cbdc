// Package otelhooks reports what an authcapture Service and its Schedulers
// do as OpenTelemetry metrics. It is a module of its own, so that the
// library itself does not depend on OpenTelemetry.
//
//	h, err := otelhooks.New(otel.GetMeterProvider().Meter("authcapture"))
//	svc, err := authcapture.New(store, &authcapture.Options{Hooks: h})
//
// The instruments:
//
//   - authcapture.commands (counter): finished commands, by op and outcome
//     (accepted, rejected, replayed, failed), and sentinel for rejections.
//   - authcapture.command.duration (histogram, seconds): by op and outcome.
//   - authcapture.command.conflicts (counter): version conflicts met, by op.
//   - authcapture.executor.latency (histogram, seconds): executor calls, by
//     kind (capture, void) and outcome (accepted, declined, unknown).
//   - authcapture.scheduler.lag (gauge, seconds): how late the last sweep
//     ran: the age of the earliest due action in its batch.
//   - authcapture.scheduler.actions (counter): what sweeps did, by result
//     (expired, captured, capture_failed, canceled, cancel_failed, unknown,
//     deferred, skipped, error).
//
// The outbox's lag is the relay's to report: only it knows what it has
// delivered.
package otelhooks

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/authcapture/authcapture"
)

// Hooks is an authcapture.Hooks and authcapture.SchedulerHooks that
// records metrics.
type Hooks struct {
	commands  metric.Int64Counter
	duration  metric.Float64Histogram
	conflicts metric.Int64Counter
	latency   metric.Float64Histogram
	lag       metric.Float64Gauge
	actions   metric.Int64Counter
}

var (
	_ authcapture.Hooks          = (*Hooks)(nil)
	_ authcapture.SchedulerHooks = (*Hooks)(nil)
)

// New returns Hooks that record on instruments of meter.
func New(meter metric.Meter) (*Hooks, error) {
	var h Hooks
	var err error
	if h.commands, err = meter.Int64Counter("authcapture.commands",
		metric.WithDescription("Finished commands, by op and outcome."), metric.WithUnit("{command}")); err != nil {
		return nil, err
	}
	if h.duration, err = meter.Float64Histogram("authcapture.command.duration",
		metric.WithDescription("Duration of commands, retries included."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if h.conflicts, err = meter.Int64Counter("authcapture.command.conflicts",
		metric.WithDescription("Version conflicts commands met."), metric.WithUnit("{conflict}")); err != nil {
		return nil, err
	}
	if h.latency, err = meter.Float64Histogram("authcapture.executor.latency",
		metric.WithDescription("Latency of the host's Executor calls."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if h.lag, err = meter.Float64Gauge("authcapture.scheduler.lag",
		metric.WithDescription("Age of the earliest due action of the last sweep's batch."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if h.actions, err = meter.Int64Counter("authcapture.scheduler.actions",
		metric.WithDescription("What sweeps did, by result."), metric.WithUnit("{action}")); err != nil {
		return nil, err
	}
	return &h, nil
}

// CommandDone records a finished command.
func (h *Hooks) CommandDone(ctx context.Context, info authcapture.CommandInfo) {
	attrs := []attribute.KeyValue{attribute.String("op", string(info.Op)), attribute.String("outcome", string(info.Outcome))}
	h.duration.Record(ctx, info.Duration.Seconds(), metric.WithAttributes(attrs...))
	if info.SentinelName != "" {
		attrs = append(attrs, attribute.String("sentinel", info.SentinelName))
	}
	h.commands.Add(ctx, 1, metric.WithAttributes(attrs...))
	if info.Conflicts > 0 {
		h.conflicts.Add(ctx, int64(info.Conflicts), metric.WithAttributes(attribute.String("op", string(info.Op))))
	}
}

// SweepDone records a finished sweep.
func (h *Hooks) SweepDone(ctx context.Context, info authcapture.SweepInfo) {
	h.lag.Record(ctx, info.Lag.Seconds())
	r := info.Result
	for _, c := range []struct {
		result string
		n      int
	}{
		{"expired", r.Expired}, {"captured", r.Captured}, {"capture_failed", r.CaptureFailed},
		{"canceled", r.Canceled}, {"cancel_failed", r.CancelFailed}, {"unknown", r.Unknown},
		{"notified", r.Notified}, {"deferred", r.Deferred}, {"skipped", r.Skipped}, {"error", len(r.Errors)},
	} {
		if c.n > 0 {
			h.actions.Add(ctx, int64(c.n), metric.WithAttributes(attribute.String("result", c.result)))
		}
	}
}

// ExecutorDone records a finished executor call.
func (h *Hooks) ExecutorDone(ctx context.Context, info authcapture.ExecutorInfo) {
	h.latency.Record(ctx, info.Latency.Seconds(), metric.WithAttributes(
		attribute.String("kind", string(info.Kind)), attribute.String("outcome", string(info.Outcome))))
}
