package authcapture

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const (
	// DefaultIdempotencyRetention is how long Service.Prune keeps an
	// idempotency record when PruneRequest.IdempotencyRetention is zero.
	DefaultIdempotencyRetention = 24 * time.Hour
	// DefaultEventRetention is how long Service.Prune keeps an event a
	// relay has read when PruneRequest.EventRetention is zero.
	DefaultEventRetention = 7 * 24 * time.Hour
	// DefaultPruneBatch is how many records, events or authorizations one
	// store call deletes when PruneRequest.Batch is zero.
	DefaultPruneBatch = 1_000
	// MaxPruneBatch is the largest PruneRequest.Batch.
	MaxPruneBatch = 10_000
)

// PruneRequest says what Service.Prune deletes. Zero values take the
// defaults.
type PruneRequest struct {
	// IdempotencyRetention is how long an idempotency record is kept after
	// the command that wrote it (DefaultIdempotencyRetention if zero). A
	// retry with a key whose record is gone is not recognized: the command
	// is applied again, as a new command. Keep records longer than any
	// client retries.
	IdempotencyRetention time.Duration
	// EventRetention is how long an event is kept after its At
	// (DefaultEventRetention if zero), once a relay has read it.
	EventRetention time.Duration
	// KeepEventsFrom is the lowest position kept whatever its age: the
	// position after the lowest cursor of every relay that reads the store
	// (its saved position + 1). Zero prunes no events, so a host that runs
	// no relay and wants events pruned by age alone passes math.MaxInt64.
	KeepEventsFrom int64
	// AuthorizationRetention, if positive, is how long an authorization
	// is kept after it closed (Authorization.ClosedAt) and after its
	// refund window ended (Authorization.RefundableUntil: its last
	// succeeded capture plus its policy's RefundWindow), whichever is
	// later (Authorization.PrunableSince): then it is deleted with its
	// log, its provider references and its idempotency records, once
	// nothing is in flight on it. So an authorization is pruned once it
	// is closed for the retention and past its own refund window, whatever
	// the windows of other policies; a refund does not move the window,
	// which counts from captures. A policy with no RefundWindow puts no
	// bound on refunds, so its authorizations go after the retention
	// alone: choose a retention longer than any refund the host will
	// record under it. Its events follow EventRetention and
	// KeepEventsFrom like any other. Zero, the default, keeps
	// authorizations for good: deleting payment history is the host's
	// choice. The retention must be at least IdempotencyRetention, so
	// that a retry is recognized for as long as its key is kept; Prune
	// refuses a shorter one. A command naming an authorization already
	// pruned fails with ErrNotFound.
	AuthorizationRetention time.Duration
	// Batch is how many records, events or authorizations one store call
	// deletes (DefaultPruneBatch if zero, at most MaxPruneBatch).
	Batch int
}

// PruneResult counts what Service.Prune deleted.
type PruneResult struct {
	Idempotency    int // idempotency records, besides those of the authorizations deleted
	Events         int // events
	Authorizations int // closed authorizations, each with its log, references and records
}

// Prune deletes, in batches, the idempotency records older than the
// request's IdempotencyRetention, the events older than its
// EventRetention below KeepEventsFrom and, if AuthorizationRetention is
// set, the authorizations closed and past their refund window for
// longer, until none is left or ctx ends;
// it returns what it deleted, also when it returns an error. Commands
// and reads go on meanwhile: each batch is a short call of its own. The
// host calls it periodically (every few minutes, say).
//
// It returns an error wrapping errors.ErrUnsupported if the store is not a
// Pruner, and ErrInvalidArgument for a nil ctx, a negative retention, KeepEventsFrom
// or Batch, a Batch above MaxPruneBatch, or an AuthorizationRetention
// shorter than the IdempotencyRetention; a refused request deletes
// nothing.
func (s *Service) Prune(ctx context.Context, req PruneRequest) (PruneResult, error) {
	var res PruneResult
	if err := checkContext(ctx, "Prune"); err != nil {
		return res, err
	}
	p, ok := s.store.(Pruner)
	if !ok {
		return res, fmt.Errorf("authcapture: Prune: the store is not a Pruner: %w", errors.ErrUnsupported)
	}
	switch {
	case req.IdempotencyRetention < 0 || req.EventRetention < 0:
		return res, &Error{Op: "Prune", Err: ErrInvalidArgument, Detail: "a retention is negative"}
	case req.KeepEventsFrom < 0:
		return res, &Error{Op: "Prune", Err: ErrInvalidArgument, Detail: fmt.Sprintf("KeepEventsFrom %d is negative", req.KeepEventsFrom)}
	case req.Batch < 0 || req.Batch > MaxPruneBatch:
		return res, &Error{Op: "Prune", Err: ErrInvalidArgument, Detail: fmt.Sprintf("Batch %d is not between 0 and %d", req.Batch, MaxPruneBatch)}
	case req.AuthorizationRetention < 0:
		return res, &Error{Op: "Prune", Err: ErrInvalidArgument, Detail: "a retention is negative"}
	}
	if req.IdempotencyRetention == 0 {
		req.IdempotencyRetention = DefaultIdempotencyRetention
	}
	if req.AuthorizationRetention > 0 {
		if req.AuthorizationRetention < req.IdempotencyRetention {
			return res, &Error{Op: "Prune", Err: ErrInvalidArgument, Detail: fmt.Sprintf(
				"AuthorizationRetention %v is shorter than the IdempotencyRetention %v: the records of a retry's key would go with its authorization",
				req.AuthorizationRetention, req.IdempotencyRetention)}
		}
	}
	if req.EventRetention == 0 {
		req.EventRetention = DefaultEventRetention
	}
	if req.Batch == 0 {
		req.Batch = DefaultPruneBatch
	}
	now := s.clock.Now()
	keysBefore := now.Add(-req.IdempotencyRetention)
	eventsBefore := now.Add(-req.EventRetention)
	closedBefore := now.Add(-req.AuthorizationRetention)
	if req.AuthorizationRetention > 0 {
		if err := pruneBatches(ctx, req.Batch, &res.Authorizations, func() (int, error) {
			return p.PruneAuthorizations(ctx, closedBefore, req.Batch)
		}); err != nil {
			return res, err
		}
	}
	if err := pruneBatches(ctx, req.Batch, &res.Idempotency, func() (int, error) {
		return p.PruneIdempotency(ctx, keysBefore, req.Batch)
	}); err != nil {
		return res, err
	}
	if req.KeepEventsFrom > 0 {
		if err := pruneBatches(ctx, req.Batch, &res.Events, func() (int, error) {
			return p.PruneEvents(ctx, eventsBefore, req.KeepEventsFrom, req.Batch)
		}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// pruneBatches calls prune until it deletes fewer than batch rows, the
// context ends or it fails, adding what it deleted to *count.
func pruneBatches(ctx context.Context, batch int, count *int, prune func() (int, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := prune()
		*count += n
		if err != nil {
			return err
		}
		if n < batch {
			return nil
		}
	}
}
