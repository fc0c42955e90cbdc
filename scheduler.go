package authcapture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Executor carries out the scheduled actions that need the payment
// provider, which the library cannot call itself. The host implements it
// with its provider's API.
//
// Both methods must be idempotent by the task's Key: the Scheduler may call
// them again with the same Key after a crash or a lost reply. Return nil when
// the provider accepted, an error wrapping ErrProviderDeclined when it
// definitively refused, and any other error when the outcome is unknown (the
// action is then tried again, with the same Key, after the lease).
type Executor interface {
	Capture(ctx context.Context, task CaptureTask) error
	Void(ctx context.Context, task VoidTask) error
}

// CaptureTask is a scheduled capture for the provider.
type CaptureTask struct {
	MerchantID, AuthorizationID string
	CaptureID                   string
	Key                         string // the idempotency key to give the provider
	Amount                      int64  // minor units of Currency
	Currency                    Currency
	Attempt                     int // 1 for the first try
	Reason                      Reason
}

// VoidTask is a scheduled cancel for the provider: release what is open.
type VoidTask struct {
	MerchantID, AuthorizationID string
	Key                         string // the idempotency key to give the provider
	Amount                      int64  // minor units of Currency
	Currency                    Currency
}

// Defaults of SchedulerOptions.
const (
	// DefaultSchedulerInterval is the time between sweeps in Run when
	// SchedulerOptions.Interval is zero.
	DefaultSchedulerInterval = time.Second
	// DefaultSchedulerBatchSize is the limit of each sweep in Run when
	// SchedulerOptions.BatchSize is zero.
	DefaultSchedulerBatchSize = 500
	// DefaultSchedulerLease is how long a claimed action stays claimed
	// when SchedulerOptions.Lease is zero.
	DefaultSchedulerLease = time.Minute
)

// SchedulerOptions configure a Scheduler. A nil *SchedulerOptions, and
// every zero field, means the documented default.
type SchedulerOptions struct {
	// Interval between sweeps in Run. Default: DefaultSchedulerInterval
	// (1 second).
	Interval time.Duration
	// BatchSize is the limit of each RunDue call in Run. Default:
	// DefaultSchedulerBatchSize (500).
	BatchSize int
	// Lease is how long an action a scheduler has claimed stays claimed:
	// if that scheduler dies before settling it, another takes it over
	// after the lease. Default: DefaultSchedulerLease (1 minute).
	Lease time.Duration
}

// withDefaults returns the options o stands for (nil for all defaults) with
// the documented defaults filled in.
func (o *SchedulerOptions) withDefaults() SchedulerOptions {
	var c SchedulerOptions
	if o != nil {
		c = *o
	}
	if c.Interval == 0 {
		c.Interval = DefaultSchedulerInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultSchedulerBatchSize
	}
	if c.Lease == 0 {
		c.Lease = DefaultSchedulerLease
	}
	return c
}

// validate reports, with an error wrapping ErrInvalidArgument, whether an
// option is negative.
func (o *SchedulerOptions) validate() error {
	bad := func(field string, v any) error {
		return fmt.Errorf("authcapture: NewScheduler: negative option: SchedulerOptions.%s is %v; use a positive value, or zero for the default: %w",
			field, v, ErrInvalidArgument)
	}
	switch {
	case o.Interval < 0:
		return bad("Interval", o.Interval)
	case o.BatchSize < 0:
		return bad("BatchSize", o.BatchSize)
	case o.Lease < 0:
		return bad("Lease", o.Lease)
	}
	return nil
}

// Scheduler applies what is due: expiry, delayed captures and delayed
// cancels. Several schedulers, in one process or many, may run against one
// store at once: every action is claimed by a versioned write before the
// executor is called, so no action is applied twice.
type Scheduler struct {
	svc  *Service
	exec Executor
	opts SchedulerOptions
}

// NewScheduler returns a scheduler for svc. exec may be nil if no
// authorization uses delayed captures, delayed cancels or expiry captures;
// those are then reported as errors and left due.
func NewScheduler(svc *Service, exec Executor, opts *SchedulerOptions) (*Scheduler, error) {
	if svc == nil {
		return nil, fmt.Errorf("authcapture: NewScheduler: service is nil: %w", ErrInvalidArgument)
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Scheduler{svc: svc, exec: exec, opts: o}, nil
}

// SweepResult counts what one RunDue did.
type SweepResult struct {
	Due           int // authorizations the due index returned
	Expired       int // holds expired
	Captured      int // scheduled captures the provider accepted
	CaptureFailed int // scheduled captures the provider declined (retried later, or dropped)
	Canceled      int // scheduled cancels carried out
	CancelFailed  int // scheduled cancels the provider declined (dropped)
	Unknown       int // executor outcomes unknown: retried after the lease
	Skipped       int // nothing to do now, or another scheduler has it
	// Errors holds one error per authorization that failed; the others
	// were still processed.
	Errors []error
}

// RunDue applies up to limit due actions, earliest first, and reports what
// it did. One failing authorization does not stop the batch. Its cost is
// O(limit log n) in the store's due index, not a scan.
func (s *Scheduler) RunDue(ctx context.Context, limit int) (SweepResult, error) {
	if err := checkContext(ctx, "run_due"); err != nil {
		return SweepResult{}, err
	}
	var res SweepResult
	if limit <= 0 {
		return res, fmt.Errorf("authcapture: RunDue: limit must be positive: %w", ErrInvalidArgument)
	}
	now := s.svc.clock.Now()
	refs, err := s.svc.store.Due(ctx, now, limit)
	if err != nil {
		return res, err
	}
	res.Due = len(refs)
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := s.apply(ctx, ref, &res); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("authcapture: scheduler: %s/%s: %w", ref.MerchantID, ref.ID, err))
		}
	}
	return res, nil
}

// Run sweeps every Interval until ctx ends, draining full batches at once.
// If the service's Clock is also a Timer (clocktest.Clock is), Run waits on
// it, so tests drive Run by advancing the fake clock. Errors of single
// authorizations go to report, if not nil.
func (s *Scheduler) Run(ctx context.Context, report func(SweepResult)) error {
	if err := checkContext(ctx, "run"); err != nil {
		return err
	}
	for {
		res, err := s.RunDue(ctx, s.opts.BatchSize)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if report != nil && (res.Due > 0 || err != nil) {
			if err != nil {
				res.Errors = append(res.Errors, err)
			}
			report(res)
		}
		progress := res.Expired + res.Captured + res.CaptureFailed + res.Canceled + res.CancelFailed
		if err == nil && res.Due == s.opts.BatchSize && progress > 0 {
			continue // more may be due right now
		}
		var (
			wait  <-chan time.Time
			timer *time.Timer
		)
		if t, ok := s.svc.clock.(Timer); ok {
			wait = t.After(s.opts.Interval)
		} else {
			timer = time.NewTimer(s.opts.Interval)
			wait = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		case <-wait:
		}
	}
}

// apply does what is due for one authorization.
func (s *Scheduler) apply(ctx context.Context, ref DueRef, res *SweepResult) error {
	now := s.svc.clock.Now()
	a, expired, err := s.svc.loadExpiring(ctx, string(CmdSchedule), ref.MerchantID, ref.ID)
	switch {
	case errors.Is(err, ErrVersionConflict):
		res.Skipped++ // others keep changing it; it stays due if still due
		return nil
	case err != nil:
		return err
	case expired:
		res.Expired++
		return nil
	}
	captureDue := !a.CaptureAt.IsZero() && !now.Before(a.CaptureAt)
	cancelDue := !a.CancelAt.IsZero() && !now.Before(a.CancelAt)
	switch {
	case a.Closed():
		res.Skipped++
	case captureDue && (!cancelDue || a.CaptureAt.Before(a.CancelAt)):
		// Both due (a sweep ran late): the one that was due first goes first.
		return s.capture(ctx, a, res)
	case cancelDue && a.Open() == 0:
		// Captures in flight hold everything: release what they return,
		// if anything, after they settle.
		res.Skipped++
		return s.pushCancel(ctx, a)
	case cancelDue:
		return s.cancel(ctx, a, res)
	default:
		res.Skipped++
	}
	return nil
}

// claim leases a's scheduled action (the cancel, or else the capture) to
// this scheduler: no other scheduler takes it until the lease runs out. It
// returns the authorization after the claim, and false if another writer
// got there first.
func (s *Scheduler) claim(ctx context.Context, a *Authorization, cancel bool) (*Authorization, bool, error) {
	return s.moveSchedule(ctx, a, "claim", scheduleMovePrint(a).bool(cancel), func(ch *change) {
		at := ch.now.Add(s.opts.Lease)
		if cancel {
			ch.a.CancelAt = at
		} else {
			ch.a.CaptureAt = at
		}
		ch.scheduleEntry(ReasonScheduleClaimed, at)
	})
}

// cancel voids what is open through the executor, then records it.
func (s *Scheduler) cancel(ctx context.Context, a *Authorization, res *SweepResult) error {
	if s.exec == nil {
		res.Skipped++
		return errors.Join(fmt.Errorf("a scheduled cancel is due and the scheduler has no executor: %w", ErrInvalidArgument),
			s.pushCancel(ctx, a))
	}
	a, mine, err := s.claim(ctx, a, true)
	if err != nil || !mine {
		res.Skipped++
		return err
	}
	key := "cancel:" + a.MerchantID + ":" + a.ID
	err = s.exec.Void(ctx, VoidTask{MerchantID: a.MerchantID, AuthorizationID: a.ID, Key: key,
		Amount: a.Open(), Currency: a.Currency})
	switch {
	case err == nil:
		_, err = s.svc.scheduledCancel(ctx, a, schedulerKeyPrefix+key)
		if err == nil {
			res.Canceled++
		}
		return err
	case errors.Is(err, ErrProviderDeclined):
		res.CancelFailed++
		return errors.Join(err, s.move(ctx, a, "cancel-refused", func(ch *change) {
			ch.a.CancelAt = time.Time{}
			ch.scheduleEntry(ReasonCancelUnscheduled, time.Time{})
		}))
	default:
		res.Unknown++
		return err
	}
}

// capture begins a scheduled capture of everything open (or re-drives one
// whose scheduler died), hands it to the executor, and settles it.
func (s *Scheduler) capture(ctx context.Context, a *Authorization, res *SweepResult) error {
	if s.exec == nil {
		// Nothing can carry it out: look again after the lease rather than
		// block the head of the due index.
		res.Skipped++
		return errors.Join(fmt.Errorf("a scheduled capture is due and the scheduler has no executor: %w", ErrInvalidArgument),
			s.reschedule(ctx, a, true))
	}
	var pc *PendingCapture
	for i := range a.PendingCaptures {
		if a.PendingCaptures[i].Scheduled {
			pc = &a.PendingCaptures[i]
		}
	}
	if pc == nil {
		// A fresh attempt: begin it. The capture is named after the
		// version found due, so every scheduler that found this state due
		// uses the same key and exactly one begins it.
		capID := "sched_" + strconv.FormatInt(a.Version, 10)
		r, err := s.svc.beginScheduledCapture(ctx, a, capID, s.opts.Lease)
		if err != nil {
			if !isRejection(err) {
				return err
			}
			if errors.Is(err, ErrVersionConflict) {
				res.Skipped++ // it changed since it was found due; looked at again if still due
				return nil
			}
			// The capture is not possible now. While other captures are
			// pending it may become possible (a failed one returns its
			// amount): look again after the lease. Otherwise the policy
			// forbids it: drop the schedule and say why.
			res.Skipped++
			retry := errors.Is(err, ErrCapturePending) || (errors.Is(err, ErrExceedsCapturable) && a.Pending > 0)
			if err2 := s.reschedule(ctx, a, retry); err2 != nil {
				return err2
			}
			if !retry {
				return fmt.Errorf("scheduled capture dropped: %w", err)
			}
			return nil
		}
		if r.Replayed {
			res.Skipped++
			return nil
		}
		a = r.Authorization
		i, _ := a.pendingCapture(capID)
		pc = &a.PendingCaptures[i]
	} else {
		// The scheduler that began it did not settle it within the lease.
		var mine bool
		var err error
		if a, mine, err = s.claim(ctx, a, false); err != nil || !mine {
			res.Skipped++
			return err
		}
		i, ok := a.pendingCapture(pc.ID)
		if !ok {
			res.Skipped++
			return nil
		}
		pc = &a.PendingCaptures[i]
	}
	id, amount := pc.ID, pc.Amount
	key := "capture:" + a.MerchantID + ":" + a.ID + ":" + id
	err := s.exec.Capture(ctx, CaptureTask{MerchantID: a.MerchantID, AuthorizationID: a.ID, CaptureID: id, Key: key,
		Amount: amount, Currency: a.Currency, Attempt: a.CaptureFailures + 1, Reason: ReasonScheduledCapture})
	switch {
	case err == nil:
		_, err = s.svc.settle(ctx, CmdConfirmCapture, SettleCaptureRequest{MerchantID: a.MerchantID, ID: a.ID, CaptureID: id,
			IdempotencyKey: schedulerKeyPrefix + "confirm:" + a.ID + ":" + id})
		if err == nil {
			res.Captured++
		}
		return err
	case errors.Is(err, ErrProviderDeclined):
		res.CaptureFailed++
		if _, err2 := s.svc.settle(ctx, CmdFailCapture, SettleCaptureRequest{MerchantID: a.MerchantID, ID: a.ID, CaptureID: id,
			Reason: "provider_declined", IdempotencyKey: schedulerKeyPrefix + "fail:" + a.ID + ":" + id}); err2 != nil {
			return errors.Join(err, err2)
		}
		return err
	default:
		res.Unknown++
		return err
	}
}

// reschedule moves a's scheduled capture a lease later (retry) or drops it.
func (s *Scheduler) reschedule(ctx context.Context, a *Authorization, retry bool) error {
	return s.move(ctx, a, "reschedule", func(ch *change) {
		if retry {
			ch.a.CaptureAt = ch.now.Add(s.opts.Lease)
			ch.scheduleEntry(ReasonCaptureScheduled, ch.a.CaptureAt)
		} else {
			ch.a.CaptureAt = time.Time{}
			ch.scheduleEntry(ReasonCaptureUnscheduled, time.Time{})
		}
	})
}

// pushCancel moves a's scheduled cancel a lease later.
func (s *Scheduler) pushCancel(ctx context.Context, a *Authorization) error {
	return s.move(ctx, a, "push-cancel", func(ch *change) {
		ch.a.CancelAt = ch.now.Add(s.opts.Lease)
		ch.scheduleEntry(ReasonCancelScheduled, ch.a.CancelAt)
	})
}

// move writes the schedule change called what to a, as moveSchedule does.
func (s *Scheduler) move(ctx context.Context, a *Authorization, what string, apply func(ch *change)) error {
	_, _, err := s.moveSchedule(ctx, a, what, scheduleMovePrint(a).str(what), apply)
	return err
}

// moveSchedule writes a schedule change (apply) to a, provided a has not
// changed since the scheduler read it (several schedulers may be looking
// at it); otherwise it does nothing, and the authorization is looked at
// again if it is still due. The change is keyed by what and a's version,
// and print hashes its parameters. It returns the authorization after the
// change and true if this call wrote it; false if another writer got there
// first (a replay included).
func (s *Scheduler) moveSchedule(ctx context.Context, a *Authorization, what string, print fingerprint, apply func(ch *change)) (*Authorization, bool, error) {
	r, err := s.svc.run(ctx, &command{op: CmdSchedule, merchant: a.MerchantID, id: a.ID, found: a.Version,
		key: schedulerKeyPrefix + what + ":" + a.ID + ":" + strconv.FormatInt(a.Version, 10), print: uint64(print)},
		func(ch *change) error {
			apply(ch)
			ch.markMain()
			return nil
		})
	if errors.Is(err, ErrVersionConflict) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r.Authorization, !r.Replayed, nil
}

// scheduleMovePrint starts the fingerprint of a schedule change of a.
func scheduleMovePrint(a *Authorization) fingerprint {
	return newFingerprint(CmdSchedule).str(a.ID).int(a.Version)
}

// isRejection reports whether err is a command's rejection (the state does
// not allow it) rather than a failure of the store.
func isRejection(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// beginScheduledCapture begins a final capture of everything open, as
// BeginCapture does, for the Scheduler: the capture is named capID and
// leased to the scheduler until now+lease. It is pinned to a's version.
func (s *Service) beginScheduledCapture(ctx context.Context, a *Authorization, capID string, lease time.Duration) (*Result, error) {
	op := CmdBeginCapture
	return s.run(ctx, &command{op: op, merchant: a.MerchantID, id: a.ID, key: schedulerKeyPrefix + "begin:" + a.ID + ":" + capID,
		found: a.Version, print: uint64(newFingerprint(op).str(a.ID).str(capID))},
		func(ch *change) error {
			return s.applyCapture(ch, op, captureOrder{all: true, final: Bool(true),
				scheduled: true, id: capID, lease: lease, reason: ReasonScheduledCapture})
		})
}

// scheduledCancel records a delayed cancel the executor carried out: a
// void of everything open, as Void does, that ends the schedule.
func (s *Service) scheduledCancel(ctx context.Context, a *Authorization, key string) (*Result, error) {
	op := CmdVoid
	return s.run(ctx, &command{op: op, merchant: a.MerchantID, id: a.ID, key: key,
		print: uint64(newFingerprint(op).str(a.ID).str(key))},
		func(ch *change) error {
			return s.applyVoid(ch, voidOrder{all: true, reason: ReasonScheduledCancel, scheduled: true})
		})
}
