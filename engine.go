package authcapture

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"
)

// command is one mutating command as the engine runs it: its names, key
// and fingerprint. What it does is the function given to run beside it.
type command struct {
	op       Command
	merchant string
	id       string // empty for a create with a generated ID
	key      string
	print    uint64
	create   bool // builds a new authorization instead of changing one
	// found, if not zero, pins the command to the version its caller
	// found (the scheduler's commands): any other version, or a closed
	// authorization (unless it is a refund), rejects it with ErrVersionConflict. After a conflict
	// a pinned command will be rejected, so it never takes a lock, which
	// would only make the rejection dearer.
	found int64
}

// pinned reports whether the command applies only to the version its
// caller found.
func (cmd *command) pinned() bool { return cmd.found != 0 }

// apply applies the command's rules (fn) to ch, after checking the pin of
// a pinned command.
func (cmd *command) apply(ch *change, fn func(ch *change) error) error {
	if cmd.pinned() && (ch.a.Version != cmd.found+1 || ch.a.Closed() && !refundCommand(cmd.op)) {
		return ch.reject(ErrVersionConflict, "changed since it was found due")
	}
	return fn(ch)
}

// run executes a command: it reads the authorization, applies the command's
// rules (fn) to a copy, and writes the result together with its entries,
// events and idempotency record, retrying on version conflicts. For a
// create, fn builds the authorization on a change without one. A command
// that fn rejects writes nothing; if its key was already recorded by an
// accepted command, the original result is returned instead of the
// rejection, and instead of a version conflict.
func (s *Service) run(ctx context.Context, cmd *command, fn func(ch *change) error) (r *Result, err error) {
	var st cmdStats
	if s.observing(ctx) {
		st.start = time.Now()
		defer func() { s.commandDone(ctx, cmd, &st, r, err) }()
	}
	// locked is set once a write built on a fresh read lost a version
	// conflict: writers are contending for this authorization, and if the
	// store is a Locker the command queues for it from then on. A conflict
	// on a cached state only means the cache was stale (another instance
	// wrote), which a fresh read settles in fewer round trips than a lock.
	locked := false
	for attempt := 0; ; attempt++ {
		switched := false // to the locked path, by this attempt's conflict
		st.attempts = attempt + 1
		now := s.clock.Now()
		var ch *change
		var err error
		switch {
		case cmd.create:
			ch = s.newChange(nil, now, cmd)
			if err := fn(ch); err != nil {
				return nil, err
			}
			err = s.write(ctx, ch)
		case locked:
			st.locked = true
			s.logLock(ctx, cmd, attempt)
			var rejection error
			var again bool
			ch, rejection, again, err = s.runLocked(ctx, cmd, fn)
			switch {
			case again:
				continue
			case rejection != nil:
				return s.rejected(ctx, cmd, rejection)
			case errors.Is(err, ErrNotFound):
				return s.notFound(ctx, cmd, &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: cmd.id, Err: ErrNotFound})
			}
		default:
			// A state this Service wrote or read lately saves the read; if
			// its expiry is due, the read path writes it.
			a := s.cache.get(cmd.merchant, cmd.id)
			cached := a != nil && !expiryIsDue(a, now)
			if !cached {
				if a, err = s.load(ctx, string(cmd.op), cmd.merchant, cmd.id); err != nil {
					return s.notFound(ctx, cmd, err)
				}
			}
			ch = s.newChange(a, now, cmd)
			if rejection := cmd.apply(ch, fn); rejection != nil {
				if cached {
					// Never reject on a guess: read and evaluate again.
					s.cache.drop(cmd.merchant, cmd.id)
					attempt--
					continue
				}
				return s.rejected(ctx, cmd, rejection)
			}
			err = s.write(ctx, ch)
			if s.locker != nil && !cached && !cmd.pinned() && errors.Is(err, ErrVersionConflict) {
				locked, switched = true, true
			}
		}
		if err != nil && ch != nil && ch.a != nil {
			s.cache.drop(cmd.merchant, ch.a.ID)
		}
		switch {
		case err == nil:
			s.cache.put(ch.a)
			return &Result{Authorization: ch.a, Entry: ch.mainEntry()}, nil
		case errors.Is(err, ErrIdempotencyKeyExists), errors.Is(err, ErrAlreadyExists):
			if r, ok, rerr := s.replay(ctx, cmd); ok || rerr != nil {
				return r, rerr
			}
			if errors.Is(err, ErrAlreadyExists) {
				e := &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: ch.a.ID, Err: ErrAlreadyExists}
				if !cmd.create {
					e.Detail = detail(err) // a provider reference another authorization records
				}
				return nil, e
			}
			// The key's record vanished between the write and the read
			// (a store that expires records): run again, within the bound.
			if attempt >= s.maxRetries {
				return nil, fmt.Errorf("authcapture: %s: the store reports key %q as recorded but has no record of it", cmd.op, truncate(cmd.key, 64))
			}
		case errors.Is(err, ErrVersionConflict):
			st.conflicts++
			s.logConflict(ctx, cmd, attempt)
			// A retry of a command already applied fails its version check
			// like any write while other writers move the authorization on,
			// and its key is checked only by a write that passes it: after
			// the first conflict, and before giving up, look the key up, so
			// that a replay always returns the original result.
			if cmd.key != "" && (attempt > 0 || attempt >= s.maxRetries) {
				if r, ok, rerr := s.replay(ctx, cmd); ok || rerr != nil {
					return r, rerr
				}
			}
			if attempt >= s.maxRetries {
				return nil, &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: cmd.id,
					Err: ErrVersionConflict, Detail: fmt.Sprintf("gave up after %d retries", attempt)}
			}
			if attempt > 0 && !switched {
				// Writers racing on one authorization: spread the retries
				// out (jittered, growing with the attempt, at most ~2 ms).
				backoff(ctx, time.Duration(mrand.Int64N(int64(min(attempt, 10))*200*int64(time.Microsecond))))
			}
		case errors.Is(err, ErrNotFound):
			return nil, &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: cmd.id, Err: ErrNotFound}
		default:
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// runLocked is one attempt of a command on an authorization locked by the
// store: it locks it, applies fn to a change, and writes the change under
// the lock. A rejection by fn is returned as such; again means the
// authorization's expiry was due and has been written, so the command
// must run again.
func (s *Service) runLocked(ctx context.Context, cmd *command, fn func(ch *change) error) (
	ch *change, rejection error, again bool, err error) {
	a, lock, err := s.locker.Lock(ctx, cmd.merchant, cmd.id)
	if err != nil {
		return nil, nil, false, err
	}
	// Ends the lock if nothing else did, even if ctx has ended: a lock left
	// open would hold the authorization (and, on a database, a connection).
	// Nothing is written then, so a failure to release can only mean the
	// store lost the lock already.
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		_ = lock.Release(rctx)
	}()
	// The time is read under the lock: waiting for it may take a while,
	// and the hold may have expired meanwhile.
	now := s.clock.Now()
	if expiryIsDue(a, now) {
		// The read path writes the expiry; release first, as it writes.
		_ = lock.Release(ctx)
		if _, err := s.load(ctx, string(cmd.op), cmd.merchant, cmd.id); err != nil {
			return nil, nil, false, err
		}
		return nil, nil, true, nil
	}
	ch = s.newChange(a, now, cmd)
	if rejection := cmd.apply(ch, fn); rejection != nil {
		return ch, rejection, false, nil
	}
	w, err := ch.finish()
	if err != nil {
		return ch, nil, false, err
	}
	return ch, nil, false, lock.Write(ctx, w)
}

// releaseTimeout bounds the release of a lock after the command's context
// ended.
const releaseTimeout = 5 * time.Second

// write finishes ch and writes it.
func (s *Service) write(ctx context.Context, ch *change) error {
	w, err := ch.finish()
	if err != nil {
		return err
	}
	return s.store.Write(ctx, w)
}

// rejected returns what a command that fn rejected on a fresh read returns:
// the original result if an accepted command recorded its key, else the
// rejection.
func (s *Service) rejected(ctx context.Context, cmd *command, rejection error) (*Result, error) {
	if r, ok, rerr := s.replay(ctx, cmd); ok || rerr != nil {
		return r, rerr
	}
	return nil, rejection
}

// notFound returns what a command whose read failed with err returns: if
// the authorization does not exist, the original result of an accepted
// command that recorded its key, if any; else err.
func (s *Service) notFound(ctx context.Context, cmd *command, err error) (*Result, error) {
	if errors.Is(err, ErrNotFound) {
		if r, ok, rerr := s.replay(ctx, cmd); ok || rerr != nil {
			return r, rerr
		}
	}
	return nil, err
}

func backoff(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// replay looks up the command's idempotency key. ok is true if an accepted
// command recorded it; the result is then the original one, or an
// ErrIdempotencyMismatch if the parameters differ.
func (s *Service) replay(ctx context.Context, cmd *command) (*Result, bool, error) {
	rec, err := s.store.Idempotency(ctx, cmd.merchant, cmd.key)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if rec.Op != string(cmd.op) || rec.Fingerprint != cmd.print || (cmd.id != "" && rec.AuthorizationID != cmd.id) {
		return nil, true, &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: cmd.id,
			Err: ErrIdempotencyMismatch, Detail: fmt.Sprintf("key %q was used for %s of %s", truncate(cmd.key, 64), rec.Op, rec.AuthorizationID)}
	}
	a, err := s.load(ctx, string(cmd.op), cmd.merchant, rec.AuthorizationID)
	if err != nil {
		return nil, true, err
	}
	entries, err := s.store.Entries(ctx, cmd.merchant, rec.AuthorizationID, rec.EntrySeq-1, 1)
	if err != nil {
		return nil, true, err
	}
	if len(entries) != 1 {
		return nil, true, fmt.Errorf("authcapture: idempotency record of %q names entry %d, which the store lacks", cmd.key, rec.EntrySeq)
	}
	return &Result{Authorization: a, Entry: entries[0], Replayed: true}, true, nil
}

// load reads an authorization, writing its expiry first if it is due.
func (s *Service) load(ctx context.Context, op, merchantID, id string) (*Authorization, error) {
	a, _, err := s.loadExpiring(ctx, op, merchantID, id)
	return a, err
}

// loadExpiring is load that also reports whether it wrote the expiry.
func (s *Service) loadExpiring(ctx context.Context, op, merchantID, id string) (*Authorization, bool, error) {
	for attempt := 0; ; attempt++ {
		a, err := s.store.Get(ctx, merchantID, id)
		if errors.Is(err, ErrNotFound) {
			return nil, false, &Error{Op: op, MerchantID: merchantID, AuthorizationID: id, Err: ErrNotFound}
		}
		if err != nil {
			return nil, false, err
		}
		w := s.expiryDue(a, s.clock.Now())
		if w == nil {
			s.cache.put(a)
			return a, false, nil
		}
		err = s.store.Write(ctx, w)
		switch {
		case err == nil:
			s.cache.put(w.Authorization)
			return w.Authorization, true, nil
		case errors.Is(err, ErrVersionConflict) && attempt < s.maxRetries:
			continue
		case errors.Is(err, ErrVersionConflict):
			return nil, false, &Error{Op: op, MerchantID: merchantID, AuthorizationID: id, Err: ErrVersionConflict}
		default:
			return nil, false, err
		}
	}
}
