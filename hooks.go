package authcapture

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Hooks receives what a Service did, for metrics and traces
// (Options.Hooks). Its methods are called synchronously, on the goroutine
// of the command, after it finished: they must be fast and safe for
// concurrent use. A panic in a hook is recovered and dropped.
//
// A Hooks may also implement SchedulerHooks; New checks that once.
type Hooks interface {
	// CommandDone reports a command that reached the store: every command
	// of a caller that passed its argument checks, and the writes of the
	// Scheduler (op "schedule", "begin_capture", ...).
	CommandDone(ctx context.Context, info CommandInfo)
}

// SchedulerHooks is an optional interface of a Hooks: a Scheduler of the
// Service reports each sweep and each executor call to it.
type SchedulerHooks interface {
	// SweepDone reports one RunDue.
	SweepDone(ctx context.Context, info SweepInfo)
	// ExecutorDone reports one call of the Executor.
	ExecutorDone(ctx context.Context, info ExecutorInfo)
}

// CommandOutcome is how a command ended.
type CommandOutcome string

// The outcomes of a command.
const (
	// CommandAccepted: the command was applied and written.
	CommandAccepted CommandOutcome = "accepted"
	// CommandRejected: the command was refused with a typed *Error (its
	// sentinel in CommandInfo.Sentinel); nothing was written.
	CommandRejected CommandOutcome = "rejected"
	// CommandReplayed: the idempotency key named an earlier accepted
	// command, whose result was returned.
	CommandReplayed CommandOutcome = "replayed"
	// CommandFailed: the store failed, or the context ended.
	CommandFailed CommandOutcome = "failed"
)

// CommandInfo describes one finished command.
type CommandInfo struct {
	Op              Command
	MerchantID      string
	AuthorizationID string // empty for a create that failed before an ID was given
	Outcome         CommandOutcome
	// Sentinel, with CommandRejected, is the error the command was
	// rejected with (ErrExceedsCapturable, ...), and SentinelName its name
	// ("ErrExceedsCapturable").
	Sentinel     error
	SentinelName string
	Err          error // the error returned, if any
	Attempts     int   // attempts made: 1 without a retry
	Conflicts    int   // version conflicts met
	Locked       bool  // the command queued under the store's lock
	Duration     time.Duration
}

// SweepInfo describes one Scheduler.RunDue.
type SweepInfo struct {
	Result SweepResult
	// Lag is how late the batch ran: the time from the earliest due time
	// in it to the sweep's start. Zero for an empty batch.
	Lag      time.Duration
	Duration time.Duration
	Err      error // the error RunDue returned, if any
}

// ExecutorKind names an Executor method.
type ExecutorKind string

// The kinds of executor calls.
const (
	ExecutorCapture ExecutorKind = "capture"
	ExecutorVoid    ExecutorKind = "void"
)

// ExecutorOutcome is what an Executor call reported.
type ExecutorOutcome string

// The outcomes of an executor call.
const (
	ExecutorAccepted ExecutorOutcome = "accepted"
	ExecutorDeclined ExecutorOutcome = "declined" // an error wrapping ErrProviderDeclined
	ExecutorUnknown  ExecutorOutcome = "unknown"  // any other error, or a panic
)

// ExecutorInfo describes one finished call of the Executor.
type ExecutorInfo struct {
	Kind                        ExecutorKind
	MerchantID, AuthorizationID string
	ActionID                    string // the capture or void ID
	Outcome                     ExecutorOutcome
	Err                         error
	Latency                     time.Duration
}

// discardLogger is the logger of a Service without Options.Logger.
var discardLogger = slog.New(slog.DiscardHandler)

// cmdStats is what run counts of one command for its observers.
type cmdStats struct {
	start     time.Time
	attempts  int
	conflicts int
	locked    bool
}

// observing reports whether anyone looks at commands: hooks, or a logger
// enabled at debug level.
func (s *Service) observing(ctx context.Context) bool {
	return s.hooks != nil || s.log.Enabled(ctx, slog.LevelDebug)
}

// commandDone reports a finished command to the hooks and the logger.
func (s *Service) commandDone(ctx context.Context, cmd *command, st *cmdStats, r *Result, err error) {
	info := CommandInfo{Op: cmd.op, MerchantID: cmd.merchant, AuthorizationID: cmd.id, Err: err,
		Attempts: st.attempts, Conflicts: st.conflicts, Locked: st.locked, Duration: time.Since(st.start)}
	if info.AuthorizationID == "" && r != nil && r.Authorization != nil {
		info.AuthorizationID = r.Authorization.ID
	}
	switch {
	case err == nil && r != nil && r.Replayed:
		info.Outcome = CommandReplayed
	case err == nil:
		info.Outcome = CommandAccepted
	case isRejection(err):
		info.Outcome = CommandRejected
		info.Sentinel = rootSentinel(err)
		info.SentinelName = sentinelName(info.Sentinel)
	default:
		info.Outcome = CommandFailed
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{slog.String("op", string(info.Op)), slog.String("merchant", info.MerchantID),
			slog.String("authorization", info.AuthorizationID), slog.String("outcome", string(info.Outcome)),
			slog.Int("attempts", info.Attempts), slog.Duration("duration", info.Duration)}
		switch info.Outcome {
		case CommandRejected:
			s.log.LogAttrs(ctx, slog.LevelDebug, "authcapture: command rejected",
				append(attrs, slog.String("sentinel", info.SentinelName), slog.String("error", err.Error()))...)
		case CommandReplayed:
			s.log.LogAttrs(ctx, slog.LevelDebug, "authcapture: command replayed", attrs...)
		case CommandFailed:
			s.log.LogAttrs(ctx, slog.LevelDebug, "authcapture: command failed", append(attrs, slog.String("error", err.Error()))...)
		}
	}
	if s.hooks != nil {
		safeHook(func() { s.hooks.CommandDone(ctx, info) })
	}
}

// logConflict logs a version conflict of a command's attempt.
func (s *Service) logConflict(ctx context.Context, cmd *command, attempt int) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "authcapture: version conflict", slog.String("op", string(cmd.op)),
		slog.String("merchant", cmd.merchant), slog.String("authorization", cmd.id), slog.Int("attempt", attempt+1))
}

// logLock logs a command taking the store's lock.
func (s *Service) logLock(ctx context.Context, cmd *command, attempt int) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "authcapture: taking the lock", slog.String("op", string(cmd.op)),
		slog.String("merchant", cmd.merchant), slog.String("authorization", cmd.id), slog.Int("attempt", attempt+1))
}

// sentinelName returns the name of a sentinel, such as "ErrNotFound".
func sentinelName(err error) string {
	for _, s := range sentinels {
		if s.err == err {
			return s.name
		}
	}
	return ""
}

// safeHook calls f, dropping a panic.
func safeHook(f func()) {
	defer func() { _ = recover() }()
	f()
}

// sweepDone reports a finished sweep to the hooks and the logger.
func (s *Scheduler) sweepDone(ctx context.Context, start, now time.Time, refs []DueRef, res SweepResult, err error) {
	info := SweepInfo{Result: res, Duration: time.Since(start), Err: err}
	if len(refs) > 0 {
		earliest := refs[0].DueAt
		for _, r := range refs[1:] {
			if r.DueAt.Before(earliest) {
				earliest = r.DueAt
			}
		}
		info.Lag = max(now.Sub(earliest), 0)
	}
	log := s.svc.log
	if res.Due > 0 && log.Enabled(ctx, slog.LevelInfo) {
		log.LogAttrs(ctx, slog.LevelInfo, "authcapture: scheduler sweep", slog.Int("due", res.Due),
			slog.Int("expired", res.Expired), slog.Int("captured", res.Captured), slog.Int("capture_failed", res.CaptureFailed),
			slog.Int("canceled", res.Canceled), slog.Int("cancel_failed", res.CancelFailed), slog.Int("unknown", res.Unknown),
			slog.Int("notified", res.Notified),
			slog.Int("deferred", res.Deferred), slog.Int("skipped", res.Skipped), slog.Int("errors", len(res.Errors)),
			slog.Duration("lag", info.Lag), slog.Duration("duration", info.Duration))
	}
	for _, e := range res.Errors {
		log.LogAttrs(ctx, slog.LevelWarn, "authcapture: scheduler: authorization failed", slog.String("error", e.Error()))
	}
	if h := s.svc.schedHooks; h != nil {
		safeHook(func() { h.SweepDone(ctx, info) })
	}
}

// executorDone reports a finished executor call to the hooks and the
// logger.
func (s *Scheduler) executorDone(ctx context.Context, kind ExecutorKind, merchant, id, action string, start time.Time, err error) {
	info := ExecutorInfo{Kind: kind, MerchantID: merchant, AuthorizationID: id, ActionID: action, Err: err, Latency: time.Since(start)}
	level := slog.LevelDebug
	switch {
	case err == nil:
		info.Outcome = ExecutorAccepted
	case errors.Is(err, ErrProviderDeclined):
		info.Outcome, level = ExecutorDeclined, slog.LevelInfo
	default:
		info.Outcome, level = ExecutorUnknown, slog.LevelWarn
	}
	if log := s.svc.log; log.Enabled(ctx, level) {
		attrs := []slog.Attr{slog.String("kind", string(kind)), slog.String("merchant", merchant), slog.String("authorization", id),
			slog.String("action", action), slog.String("outcome", string(info.Outcome)), slog.Duration("latency", info.Latency)}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		log.LogAttrs(ctx, level, "authcapture: executor", attrs...)
	}
	if h := s.svc.schedHooks; h != nil {
		safeHook(func() { h.ExecutorDone(ctx, info) })
	}
}
