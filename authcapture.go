// Package authcapture holds the money logic of two-step card payments: an
// authorization puts a hold on a customer's funds, and the merchant later
// captures it in full, in part or in several parts, voids what it will not
// take, or lets the hold expire.
//
// The library has no network code. The host service talks to its payment
// provider and records each answer through a Service, which validates every
// transition against a Policy, keeps exact ledgers in the currency's minor
// units, makes every command idempotent by key, retries optimistic version
// conflicts (queueing under a lock, on stores that are Lockers, when
// writers contend), applies expiry on every read and command, and writes
// events to an outbox in the same atomic write as the change.
//
// The happy path, on the embedded store:
//
//	svc, _ := authcapture.New(memstore.New(), nil)
//	a, _ := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD",
//		Amount: decimal.RequireFromString("10.00"), IdempotencyKey: "order-1"})
//	svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: a.Authorization.ID,
//		Amount: decimal.RequireFromString("10.00"), IdempotencyKey: "order-1-auth"})
//	svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.Authorization.ID,
//		Amount: decimal.RequireFromString("4.50"), Final: authcapture.Bool(true), IdempotencyKey: "job-1"})
//
// Every mutating command takes an idempotency key, scoped by merchant. An
// accepted command records it in the same atomic write as the change; the
// same key with the same parameters returns the original result (Replayed),
// with other parameters ErrIdempotencyMismatch. A rejected command records
// nothing, its key included, so the key may be used again once the request
// is fixed.
//
// Authorizations may schedule a delayed capture, a delayed cancel, or a
// capture before expiry; a Scheduler applies them, and expiry, through the
// store's due index, handing the provider calls to a host Executor.
//
// Stores are pluggable: memstore is the embedded default, pgstore keeps
// everything in PostgreSQL. Both pass the conformance suite in storetest.
package authcapture

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a Service. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// Clock tells the time. Default: SystemClock.
	Clock Clock
	// Policies are registered beside the presets (Presets); a policy with
	// a preset's name replaces it.
	Policies []Policy
	// DefaultPolicy names the policy of a create that names none.
	// Default: "default".
	DefaultPolicy string
	// MaxRetries bounds how often a command is retried after a version
	// conflict with a concurrent writer before ErrVersionConflict is
	// returned. Default: 16. Negative means no retry.
	MaxRetries int
	// NewID generates authorization IDs when the caller gives none; prefix
	// is "auth". Default: prefix, "_", and 26 random base32 characters.
	NewID func(prefix string) string
	// CacheSize is how many authorization states the Service remembers from
	// its own writes and reads, so that a command on a recently used
	// authorization writes without reading first (one round trip instead of
	// two on a database). A stale state costs only a retry: the write's
	// version check catches it. Default: 10,000; negative disables it. It is
	// always off for stores that declare CheapReads.
	CacheSize int
}

// Service is the type applications use: every command and read goes
// through it. It is safe for concurrent use, and several Services (in one
// process or many) may share one Store.
type Service struct {
	store         Store
	clock         Clock
	policies      map[string]*Policy
	defaultPolicy string
	maxRetries    int
	newID         func(prefix string) string
	cache         *stateCache
	locker        Locker // the store, if it can lock; else nil
}

// New returns a Service over store. It returns an error wrapping
// ErrInvalidPolicy or ErrUnknownPolicy if the options are inconsistent.
func New(store Store, opts *Options) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("authcapture: New: store is nil: %w", ErrInvalidArgument)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Service{
		store:         store,
		clock:         o.Clock,
		policies:      map[string]*Policy{},
		defaultPolicy: o.DefaultPolicy,
		maxRetries:    o.MaxRetries,
		newID:         o.NewID,
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.defaultPolicy == "" {
		s.defaultPolicy = DefaultPolicy.Name
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = 16
	case s.maxRetries < 0:
		s.maxRetries = 0
	}
	if s.newID == nil {
		s.newID = randomID
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10_000
	}
	s.locker, _ = store.(Locker)
	if cr, ok := store.(CheapReads); !ok || !cr.CheapReads() {
		s.cache = newStateCache(o.CacheSize)
	}
	for _, p := range append(Presets(), o.Policies...) {
		mins, err := p.compile()
		if err != nil {
			return nil, err
		}
		p = p.withDefaults()
		p.minCapture = mins
		p.MinCapture = nil // compiled; the caller's map is not kept
		p.CaptureModes = slices.Clone(p.CaptureModes)
		p.CancelModes = slices.Clone(p.CancelModes)
		s.policies[p.Name] = &p
	}
	if _, ok := s.policies[s.defaultPolicy]; !ok {
		return nil, fmt.Errorf("authcapture: New: default policy %q: %w", s.defaultPolicy, ErrUnknownPolicy)
	}
	return s, nil
}

// Policy returns the policy registered under name.
func (s *Service) Policy(name string) (Policy, bool) {
	p, ok := s.policies[name]
	if !ok {
		return Policy{}, false
	}
	return *p, true
}

func randomID(prefix string) string {
	return prefix + "_" + strings.ToLower(rand.Text()) // 26 base32 characters, 130 random bits
}

// Bool returns a pointer to v, for CaptureRequest.Final.
func Bool(v bool) *bool { return &v }

// Result is what a command returns: the authorization after the command and
// the command's main log entry (the capture, the void, ...).
//
// A replay (the same idempotency key and the same parameters as an earlier
// accepted command) returns the original entry, the authorization as it is
// now, and Replayed set; nothing is applied again.
type Result struct {
	Authorization *Authorization
	Entry         Entry
	Replayed      bool
}

// Get returns an authorization of a merchant, with expiry applied: if the
// hold's time has come, the expiry is written first.
func (s *Service) Get(ctx context.Context, merchantID, id string) (*Authorization, error) {
	if err := checkContext(ctx, "get"); err != nil {
		return nil, err
	}
	if err := checkRef(merchantID, id); err != nil {
		return nil, &Error{Op: "get", MerchantID: merchantID, AuthorizationID: truncate(id, maxIDLen), Err: ErrInvalidArgument, Detail: err.Error()}
	}
	return s.load(ctx, "get", merchantID, id)
}

// Log returns an authorization's append-only log, oldest first.
func (s *Service) Log(ctx context.Context, merchantID, id string) ([]Entry, error) {
	if err := checkContext(ctx, "log"); err != nil {
		return nil, err
	}
	if err := checkRef(merchantID, id); err != nil {
		return nil, &Error{Op: "log", MerchantID: merchantID, Err: ErrInvalidArgument, Detail: err.Error()}
	}
	if _, err := s.load(ctx, "log", merchantID, id); err != nil { // applies expiry
		return nil, err
	}
	entries, err := s.store.Entries(ctx, merchantID, id, 0, 0)
	if errors.Is(err, ErrNotFound) {
		return nil, &Error{Op: "log", MerchantID: merchantID, AuthorizationID: id, Err: ErrNotFound}
	}
	return entries, err
}

// Events returns up to limit events of a merchant after the cursor position
// after (0 for the start), oldest first. A relay delivers them and keeps the
// last Position it saw; it never misses an event.
func (s *Service) Events(ctx context.Context, merchantID string, after int64, limit int) ([]Event, error) {
	if err := checkContext(ctx, "events"); err != nil {
		return nil, err
	}
	if err := checkToken("merchant ID", merchantID, maxIDLen); err != nil {
		return nil, &Error{Op: "events", Err: ErrInvalidArgument, Detail: err.Error()}
	}
	if after < 0 || limit <= 0 || limit > 10_000 {
		return nil, &Error{Op: "events", MerchantID: merchantID, Err: ErrInvalidArgument,
			Detail: "after must be >= 0 and limit between 1 and 10000"}
	}
	return s.store.Events(ctx, merchantID, after, limit)
}

func checkRef(merchantID, id string) error {
	if err := checkToken("merchant ID", merchantID, maxIDLen); err != nil {
		return err
	}
	return checkToken("authorization ID", id, maxIDLen)
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

// command is one mutating command as the engine runs it: its names, key
// and fingerprint. What it does is the function given to run beside it.
type command struct {
	op       Command
	merchant string
	id       string // empty for a create with a generated ID
	key      string
	print    uint64
	create   bool // builds a new authorization instead of changing one
	// pinned commands apply only to the version their caller found (the
	// scheduler's): after a conflict they will be rejected, and locking
	// would only make the rejection dearer.
	pinned bool
}

// run executes a command: it reads the authorization, applies the command's
// rules (fn) to a copy, and writes the result together with its entries,
// events and idempotency record, retrying on version conflicts. For a
// create, fn builds the authorization on a change without one. A command
// that fn rejects writes nothing; if its key was already recorded by an
// accepted command, the original result is returned instead of the
// rejection.
func (s *Service) run(ctx context.Context, cmd *command, fn func(ch *change) error) (*Result, error) {
	var ch *change
	defer func() { ch.recycle() }()
	// locked is set once a write built on a fresh read lost a version
	// conflict: writers are contending for this authorization, and if the
	// store is a Locker the command queues for it from then on. A conflict
	// on a cached state only means the cache was stale (another instance
	// wrote), which a fresh read settles in fewer round trips than a lock.
	locked := false
	for attempt := 0; ; attempt++ {
		switched := false // to the locked path, by this attempt's conflict
		now := s.clock.Now()
		ch.recycle()
		ch = nil
		var err error
		switch {
		case cmd.create:
			ch = s.newChange(nil, now, cmd)
			if err := fn(ch); err != nil {
				return nil, err
			}
			err = s.write(ctx, ch)
		case locked:
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
			if rejection := fn(ch); rejection != nil {
				if cached {
					// Never reject on a guess: read and evaluate again.
					s.cache.drop(cmd.merchant, cmd.id)
					attempt--
					continue
				}
				return s.rejected(ctx, cmd, rejection)
			}
			err = s.write(ctx, ch)
			if s.locker != nil && !cached && !cmd.pinned && errors.Is(err, ErrVersionConflict) {
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
				return nil, &Error{Op: string(cmd.op), MerchantID: cmd.merchant, AuthorizationID: ch.a.ID, Err: ErrAlreadyExists}
			}
			// The key's record vanished between the write and the read
			// (a store that expires records): run again, within the bound.
			if attempt >= s.maxRetries {
				return nil, fmt.Errorf("authcapture: %s: the store reports key %q as recorded but has no record of it", cmd.op, truncate(cmd.key, 64))
			}
		case errors.Is(err, ErrVersionConflict):
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
	if rejection := fn(ch); rejection != nil {
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

// change accumulates what one command does to an authorization. The
// Write it builds points into the change's own buffers, so a change lives
// until the store has taken the write; run recycles it after that.
type change struct {
	svc     *Service
	a       *Authorization // the working copy
	before  Status
	now     time.Time
	cmd     command
	entries []Entry
	events  []Event
	main    int         // index in entries of the command's main entry
	release CloseReason // how the last open amount was released, if it was
	open0   int64

	// Most commands fit these; more grow the slices past them.
	entryBuf [3]Entry
	eventBuf [4]Event
	write    Write
	record   IdempotencyRecord
}

var changes = sync.Pool{New: func() any { return new(change) }}

// newChange starts a change of a (nil for a create) at now, on a recycled
// change.
func (s *Service) newChange(a *Authorization, now time.Time, cmd *command) *change {
	ch := changes.Get().(*change)
	ch.start(s, a, now, cmd)
	return ch
}

// start makes ch, a zero change, a change of a (nil for a create) at now.
func (ch *change) start(s *Service, a *Authorization, now time.Time, cmd *command) {
	ch.svc, ch.now = s, now
	ch.cmd = *cmd
	ch.entries, ch.events = ch.entryBuf[:0], ch.eventBuf[:0]
	if a != nil {
		ch.a = a // the store returned a private copy
		ch.before = a.Status()
		ch.open0 = a.Open()
		a.Version++
	}
}

// recycle returns ch to the pool. Nothing may use ch, or the Write it
// built, afterwards; the Authorization is not the change's and stays.
func (ch *change) recycle() {
	if ch == nil {
		return
	}
	*ch = change{} // the pool keeps no strings or authorization alive
	changes.Put(ch)
}

// entry appends a log entry, fills its bookkeeping fields and returns its Seq.
func (ch *change) entry(e Entry) int64 {
	ch.a.Entries++
	e.Seq = ch.a.Entries
	e.Version = ch.a.Version
	e.At = ch.now
	if e.IdempotencyKey == "" {
		e.IdempotencyKey = ch.cmd.key
	}
	ch.entries = append(ch.entries, e)
	return e.Seq
}

// markMain makes the last entry the command's main entry.
func (ch *change) markMain() { ch.main = len(ch.entries) - 1 }

func (ch *change) event(t EventType, entrySeq, amount int64) {
	ch.a.Events++
	ch.events = append(ch.events, Event{
		MerchantID: ch.a.MerchantID, AuthorizationID: ch.a.ID, Seq: ch.a.Events,
		Version: ch.a.Version, Type: t, At: ch.now, EntrySeq: entrySeq, Amount: amount,
	})
}

func (ch *change) mainEntry() Entry { return ch.entries[ch.main] }

// policy returns the authorization's policy.
func (ch *change) policy() (*Policy, bool) {
	if ch.svc == nil {
		return nil, false
	}
	p, ok := ch.svc.policies[ch.a.Policy]
	return p, ok
}

func (ch *change) reject(sentinel error, format string, args ...any) error {
	e := &Error{Op: string(ch.cmd.op), MerchantID: ch.cmd.merchant, AuthorizationID: ch.cmd.id, Status: ch.before, Err: sentinel}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

// finish closes the authorization if nothing is left, sets the due time,
// checks the transition against the table and builds the Write.
func (ch *change) finish() (*Write, error) {
	a := ch.a
	if a.Phase == PhaseApproved && a.Closed() && a.ClosedAt.IsZero() {
		a.ClosedAt = ch.now
		switch {
		case a.Captured == a.Authorized:
			a.CloseReason = CloseFullyCaptured
		case ch.release != CloseNone:
			a.CloseReason = ch.release
		case a.HoldExpired():
			a.CloseReason = CloseExpired
		case a.Captured > 0:
			a.CloseReason = CloseFullyCaptured // captures took the last open amount
		default:
			a.CloseReason = CloseVoided
		}
	}
	// Captures and voids report the new open amount on their own events;
	// this one says that open grew back (a failed capture returned its
	// amount).
	if open := a.Open(); open > ch.open0 && !a.Closed() && ch.cmd.op != CmdAuthorize {
		ch.event(EventAmountCapturableUpdated, ch.entries[len(ch.entries)-1].Seq, open)
	}
	if a.Closed() {
		a.CaptureAt, a.CancelAt = time.Time{}, time.Time{}
	}
	a.NextDue = nextDue(a)
	after := a.Status()
	if !edges[edge{ch.before, ch.cmd.op, after}] {
		return nil, fmt.Errorf("authcapture: internal error: %s from %q to %q is not in the transition table", ch.cmd.op, ch.before, after)
	}
	open := a.Open()
	for i := range ch.events {
		ch.events[i].Open = open
		ch.events[i].Status = after
	}
	w := &ch.write
	*w = Write{Authorization: a, Entries: ch.entries, Events: ch.events}
	if ch.cmd.key != "" {
		ch.record = IdempotencyRecord{
			MerchantID: a.MerchantID, Key: ch.cmd.key, Op: string(ch.cmd.op), Fingerprint: ch.cmd.print,
			AuthorizationID: a.ID, Version: a.Version, EntrySeq: ch.entries[ch.main].Seq, CreatedAt: ch.now,
		}
		w.Idempotency = &ch.record
	}
	return w, nil
}
