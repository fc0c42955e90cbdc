package authcapture

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Executor carries out the scheduled actions that need the payment
// provider, which the library cannot call itself. The host implements it
// with its provider's API.
//
// Both methods must be idempotent by the task's Key (ProviderKey): the
// Scheduler may call them again with the same Key after a crash or a lost
// reply. Return nil when the provider accepted, an error wrapping
// ErrProviderDeclined when it definitively refused, and any other error
// when the outcome is unknown: the action then stays reserved and is tried
// again, with the same Key, after the lease. A panic counts as an unknown
// outcome. A Scheduler calls its Executor from up to
// SchedulerOptions.Concurrency goroutines at once (16 by default), each
// call for a different authorization: the methods must be safe for
// concurrent use, or SchedulerOptions.Concurrency must be 1.
//
// Every action is reserved in the ledger before the Executor is called (a
// pending capture or void), so the host's own commands cannot take what
// the provider is being asked for, and settled with what the provider
// reports once it answers.
type Executor interface {
	Capture(ctx context.Context, task CaptureTask) error
	// Void asks the provider to release the hold and returns what it
	// released, in minor units: task.Amount when it released all it was
	// asked to, less if a capture took part of it first (the host records
	// that capture with Service.Capture), zero if nothing was left.
	Void(ctx context.Context, task VoidTask) (released int64, err error)
}

// CaptureTask is a scheduled capture for the provider.
type CaptureTask struct {
	MerchantID, AuthorizationID string
	CaptureID                   string
	Key                         string // the idempotency key to give the provider (ProviderKey)
	Amount                      int64  // minor units of Currency
	Currency                    Currency
	Attempt                     int // 1 for the first try
	Reason                      Reason
}

// VoidTask is a scheduled cancel for the provider: release the hold,
// whose open amount has been reserved for it.
type VoidTask struct {
	MerchantID, AuthorizationID string
	VoidID                      string
	Key                         string // the idempotency key to give the provider (ProviderKey)
	Amount                      int64  // minor units of Currency: what the void reserved
	Currency                    Currency
}

// ProviderKey returns the idempotency key the Scheduler gives the provider
// for one action (a capture or void ID) of one authorization of one
// merchant: "ac1-" and 40 hexadecimal digits of a SHA-256 over the three
// IDs, each prefixed by its length. No two (merchant, authorization,
// action) triples share a key, whatever characters the IDs contain, and
// the key fits every provider's limit (Adyen's is 64 characters).
func ProviderKey(merchantID, authorizationID, actionID string) string {
	h := sha256.New()
	for _, s := range []string{merchantID, authorizationID, actionID} {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	return "ac1-" + hex.EncodeToString(h.Sum(nil)[:20])
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
	// DefaultSchedulerConcurrency is how many due authorizations one
	// RunDue handles at once when SchedulerOptions.Concurrency is zero.
	DefaultSchedulerConcurrency = 16
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
	// Concurrency is how many due authorizations RunDue handles at once,
	// each by one goroutine: with a provider answering in 50 ms, a
	// scheduler carries out about Concurrency/0.05 actions a second. 1
	// handles them one after another. Default: DefaultSchedulerConcurrency
	// (16).
	Concurrency int
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
	if c.Concurrency == 0 {
		c.Concurrency = DefaultSchedulerConcurrency
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
	case o.Concurrency < 0:
		return bad("Concurrency", o.Concurrency)
	}
	return nil
}

// Scheduler applies what is due: expiry, delayed captures, delayed
// cancels, and the expiring-soon notices (authorization.expiring_soon).
// Several schedulers, in one process or many, may run against one store at
// once: every action is claimed by a versioned write before the executor
// is called, so no action is applied twice.
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
	Notified      int // authorization.expiring_soon notices sent
	// Deferred counts due actions this scheduler could not carry out now
	// (an unknown policy, no executor, actions in flight holding the
	// amount): they stay due, a lease later, and Errors says why.
	Deferred int
	Skipped  int // nothing to do now, or another scheduler has it
	// Errors holds one error per authorization that failed; the others
	// were still processed.
	Errors []error
}

// RunDue applies up to limit due actions, earliest first, and reports what
// it did. It handles up to SchedulerOptions.Concurrency authorizations at
// once, each by one goroutine, and returns when every one it began has
// finished. One failing authorization does not stop the batch. If ctx ends,
// the calls in flight see it, no further authorization is begun, and RunDue
// returns ctx's error after them. Its cost is O(limit log n) in the store's
// due index, not a scan.
//
// If the store is a DueClaimer (both stores are), RunDue claims its batch
// for SchedulerOptions.Lease in one store call, so that other schedulers'
// batches hold other authorizations; one it claimed and did not begin
// (ctx ended) is due again when the lease ends. The versioned writes that
// begin each action still make sure that only one scheduler applies it.
func (s *Scheduler) RunDue(ctx context.Context, limit int) (SweepResult, error) {
	if err := checkContext(ctx, "run_due"); err != nil {
		return SweepResult{}, err
	}
	var res SweepResult
	if limit <= 0 {
		return res, fmt.Errorf("authcapture: RunDue: limit must be positive: %w", ErrInvalidArgument)
	}
	start, now := time.Now(), s.svc.clock.Now()
	var refs []DueRef
	var err error
	if c, ok := s.svc.store.(DueClaimer); ok {
		// Claimed for a lease, so that other schedulers take other
		// authorizations meanwhile.
		refs, err = c.ClaimDue(ctx, now, now.Add(s.opts.Lease), limit)
	} else {
		refs, err = s.svc.store.Due(ctx, now, limit)
	}
	if err != nil {
		s.sweepDone(ctx, start, now, nil, res, err)
		return res, err
	}
	res.Due = len(refs)
	var (
		mu      sync.Mutex
		next    int                   // index of the next ref to begin
		seen    = map[cacheKey]bool{} // authorizations begun: each goes to one goroutine
		errs    = make([]error, len(refs))
		stopped error // ctx's error, once a worker saw it
	)
	// take returns the index of the next ref to handle, or false when
	// there is none or ctx has ended.
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		for next < len(refs) {
			if err := ctx.Err(); err != nil {
				stopped = err
				return 0, false
			}
			i := next
			next++
			k := cacheKey{refs[i].MerchantID, refs[i].ID}
			if seen[k] {
				res.Skipped++ // listed twice; handled once
				continue
			}
			seen[k] = true
			return i, true
		}
		return 0, false
	}
	work := func() {
		for {
			i, ok := take()
			if !ok {
				return
			}
			var one SweepResult
			ref := refs[i]
			if err := s.applySafe(ctx, ref, &one); err != nil {
				errs[i] = fmt.Errorf("authcapture: scheduler: %s/%s: %w", ref.MerchantID, ref.ID, err)
			}
			mu.Lock()
			res.add(one)
			mu.Unlock()
		}
	}
	workers := min(s.opts.Concurrency, len(refs))
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work() // the caller's goroutine is a worker too: with Concurrency 1, the only one
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			res.Errors = append(res.Errors, err)
		}
	}
	s.sweepDone(ctx, start, now, refs, res, stopped)
	return res, stopped
}

// add adds the counts of o, except Due, to r.
func (r *SweepResult) add(o SweepResult) {
	r.Expired += o.Expired
	r.Captured += o.Captured
	r.CaptureFailed += o.CaptureFailed
	r.Canceled += o.Canceled
	r.CancelFailed += o.CancelFailed
	r.Unknown += o.Unknown
	r.Notified += o.Notified
	r.Deferred += o.Deferred
	r.Skipped += o.Skipped
}

// Run sweeps every Interval until ctx ends, draining full batches at once.
// If the service's Clock is also a Timer (clocktest.Clock is), Run waits on
// it, so tests drive Run by advancing the fake clock. Errors of single
// authorizations go to report, if not nil. When ctx ends, Run returns after
// the calls in flight, which see the ended context, have finished.
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
		progress := res.Expired + res.Captured + res.CaptureFailed + res.Canceled + res.CancelFailed + res.Deferred + res.Notified
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

// applySafe does what is due for one authorization, as apply does; a panic
// (of the store, say) becomes that authorization's error, so that it
// neither ends the process from a worker goroutine nor stops the batch.
func (s *Scheduler) applySafe(ctx context.Context, ref DueRef, res *SweepResult) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while applying what is due: %v", r)
		}
	}()
	return s.apply(ctx, ref, res)
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
	if !a.Closed() && !a.ExpiringNoticeAt.IsZero() && !now.Before(a.ExpiringNoticeAt) {
		// The expiring-soon notice, once: the write is pinned to the
		// version found due, so of several schedulers that found it, one
		// sends it.
		next, mine, err := s.moveSchedule(ctx, a, "notice", scheduleMovePrint(a).str("notice"), func(ch *change) {
			ch.notifyExpiring()
		})
		if err != nil || !mine {
			res.Skipped++
			return err
		}
		res.Notified++
		a = next
	}
	captureDue := !a.CaptureAt.IsZero() && !now.Before(a.CaptureAt)
	cancelDue := !a.CancelAt.IsZero() && !now.Before(a.CancelAt)
	if a.Closed() || (!captureDue && !cancelDue) {
		if res.Notified == 0 {
			res.Skipped++
		}
		return nil
	}
	// Check what the writes after the provider call will need before
	// making it: an action that could be carried out but not recorded
	// must not be carried out.
	var why error
	switch {
	case s.exec == nil:
		why = fmt.Errorf("a scheduled action is due and the scheduler has no executor: %w", ErrInvalidArgument)
	case s.svc.policies[a.Policy] == nil:
		why = fmt.Errorf("policy %q is not registered with this service: %w", a.Policy, ErrUnknownPolicy)
	}
	if why != nil {
		res.Deferred++
		return errors.Join(why, s.defer_(ctx, a, captureDue, cancelDue))
	}
	switch {
	case captureDue && (!cancelDue || a.CaptureAt.Before(a.CancelAt)):
		// Both due (a sweep ran late): the one that was due first goes first.
		return s.capture(ctx, a, res)
	default:
		return s.cancel(ctx, a, res)
	}
}

// defer_ moves what is due on a a lease later, leaving it scheduled.
func (s *Scheduler) defer_(ctx context.Context, a *Authorization, capture, cancel bool) error {
	return s.move(ctx, a, "defer", func(ch *change) {
		at := ch.now.Add(s.opts.Lease)
		if capture {
			ch.a.CaptureAt = at
			ch.scheduleEntry(ReasonCaptureScheduled, at)
		}
		if cancel {
			ch.a.CancelAt = at
			ch.scheduleEntry(ReasonCancelScheduled, at)
		}
	})
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

// cancel begins a void of everything open for a delayed cancel (or
// re-drives one whose scheduler died), hands it to the executor, and
// settles it with what the provider released.
func (s *Scheduler) cancel(ctx context.Context, a *Authorization, res *SweepResult) error {
	var pv *PendingVoid
	for i := range a.PendingVoids {
		if a.PendingVoids[i].Scheduled {
			pv = &a.PendingVoids[i]
		}
	}
	if pv == nil {
		// A fresh attempt, named after the version found due: every
		// scheduler that found this state due uses the same key, and
		// exactly one begins it.
		voidID := "sched_void_" + strconv.FormatInt(a.Version, 10)
		r, err := s.svc.beginScheduledVoid(ctx, a, voidID, s.opts.Lease)
		switch {
		case err == nil && r.Replayed:
			res.Skipped++
			return nil
		case err == nil:
			a = r.Authorization
			i, _ := a.pendingVoid(voidID)
			pv = &a.PendingVoids[i]
		case !isRejection(err):
			return err
		case errors.Is(err, ErrVersionConflict):
			res.Skipped++ // it changed since it was found due; looked at again if still due
			return nil
		case errors.Is(err, ErrActionInFlight):
			// Captures in flight hold everything: release what they
			// return, if anything, after they settle.
			res.Deferred++
			return s.pushCancel(ctx, a)
		default:
			// Nothing left to cancel (the provider let go of the hold),
			// or the policy forbids it: drop the schedule and say why.
			res.Skipped++
			return errors.Join(fmt.Errorf("scheduled cancel dropped: %w", err), s.move(ctx, a, "cancel-dropped", func(ch *change) {
				ch.a.CancelAt = time.Time{}
				ch.scheduleEntry(ReasonCancelUnscheduled, time.Time{})
			}))
		}
	} else {
		// The scheduler that began it did not settle it within the lease.
		var mine bool
		var err error
		if a, mine, err = s.claim(ctx, a, true); err != nil || !mine {
			res.Skipped++
			return err
		}
		i, ok := a.pendingVoid(pv.ID)
		if !ok {
			res.Skipped++
			return nil
		}
		pv = &a.PendingVoids[i]
	}
	id, key := pv.ID, pv.Key
	released, err := s.execVoid(ctx, VoidTask{MerchantID: a.MerchantID, AuthorizationID: a.ID, VoidID: id, Key: key,
		Amount: pv.Amount, Currency: a.Currency})
	switch {
	case err == nil:
		if released < 0 {
			res.Unknown++
			return fmt.Errorf("executor reports releasing %d, a negative amount; the void stays pending", released)
		}
		r := a.Currency.FromMinor(released)
		_, err = s.svc.settleVoid(ctx, CmdConfirmVoid, SettleVoidRequest{MerchantID: a.MerchantID, ID: a.ID, VoidID: id,
			Released: &r, IdempotencyKey: schedulerKeyPrefix + "confirm:" + a.ID + ":" + id})
		if err == nil {
			res.Canceled++
		}
		return err
	case errors.Is(err, ErrProviderDeclined):
		res.CancelFailed++
		_, err2 := s.svc.settleVoid(ctx, CmdFailVoid, SettleVoidRequest{MerchantID: a.MerchantID, ID: a.ID, VoidID: id,
			Reason: "provider_declined", IdempotencyKey: schedulerKeyPrefix + "fail:" + a.ID + ":" + id})
		return errors.Join(err, err2)
	default:
		res.Unknown++
		return err
	}
}

// execVoid calls the executor's Void; a panic is an unknown outcome.
func (s *Scheduler) execVoid(ctx context.Context, task VoidTask) (released int64, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			released, err = 0, fmt.Errorf("executor panicked in Void: %v (outcome unknown)", r)
		}
		s.executorDone(ctx, ExecutorVoid, task.MerchantID, task.AuthorizationID, task.VoidID, start, err)
	}()
	return s.exec.Void(ctx, task)
}

// execCapture calls the executor's Capture; a panic is an unknown outcome.
func (s *Scheduler) execCapture(ctx context.Context, task CaptureTask) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("executor panicked in Capture: %v (outcome unknown)", r)
		}
		s.executorDone(ctx, ExecutorCapture, task.MerchantID, task.AuthorizationID, task.CaptureID, start, err)
	}()
	return s.exec.Capture(ctx, task)
}

// capture begins a scheduled capture of everything open (or re-drives one
// whose scheduler died), hands it to the executor, and settles it.
func (s *Scheduler) capture(ctx context.Context, a *Authorization, res *SweepResult) error {
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
			// The capture is not possible now. While other actions are
			// in flight it may become possible (a failed one returns its
			// amount): look again after the lease. Otherwise the policy
			// forbids it: drop the schedule and say why.
			retry := errors.Is(err, ErrCapturePending) || errors.Is(err, ErrActionInFlight)
			if retry {
				res.Deferred++
			} else {
				res.Skipped++
			}
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
	id, amount, key := pc.ID, pc.Amount, pc.Key
	if key == "" {
		// Begun by a release that did not record the key: the key it gave
		// the provider, so that a re-drive is still recognised.
		key = "capture:" + a.MerchantID + ":" + a.ID + ":" + id
	}
	err := s.execCapture(ctx, CaptureTask{MerchantID: a.MerchantID, AuthorizationID: a.ID, CaptureID: id, Key: key,
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
			return s.applyCapture(ch, op, captureOrder{all: true, final: Bool(true), scheduled: true, id: capID,
				key: ProviderKey(a.MerchantID, a.ID, capID), lease: lease, reason: ReasonScheduledCapture})
		})
}

// beginScheduledVoid begins a void of everything open, as BeginVoid does,
// for a delayed cancel: the void is named voidID and leased to the
// scheduler until now+lease. It is pinned to a's version.
func (s *Service) beginScheduledVoid(ctx context.Context, a *Authorization, voidID string, lease time.Duration) (*Result, error) {
	op := CmdBeginVoid
	return s.run(ctx, &command{op: op, merchant: a.MerchantID, id: a.ID, key: schedulerKeyPrefix + "begin:" + a.ID + ":" + voidID,
		found: a.Version, print: uint64(newFingerprint(op).str(a.ID).str(voidID))},
		func(ch *change) error {
			return s.applyBeginVoid(ch, voidOrder{all: true, reason: ReasonScheduledCancel, scheduled: true, id: voidID,
				key: ProviderKey(a.MerchantID, a.ID, voidID), lease: lease})
		})
}
