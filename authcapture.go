// Package authcapture holds the money logic of two-step card payments: an
// authorization puts a hold on a customer's funds, and the merchant later
// captures it in full, in part or in several parts, voids what it will not
// take, or lets the hold expire; captured money may be refunded, in full,
// in part or several times, against one capture or the total.
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
// An approved hold's amount may change (ChangeAmount, BeginAmountChange):
// the host records the provider's answer to an incremental or decremental
// authorization under the policy's rules. A policy may also let a single
// final capture of the whole hold take more than it (overcapture, within
// Policy.OvercaptureAllowance).
//
// Authorizations may schedule a delayed capture, a delayed cancel, or a
// capture before expiry; a Scheduler applies them, and expiry, through the
// store's due index, handing the provider calls to a host Executor. It also
// emits authorization.expiring_soon a policy-set lead time before a hold
// lapses. When the provider places a new hold for the payment (a
// reauthorization), Reauthorize records its expiry and fits the schedules
// to it.
//
// Stores are pluggable: memstore is the embedded default, pgstore keeps
// everything in PostgreSQL. Both pass the conformance suite in storetest.
// Service.Prune deletes old idempotency records and events and, only if
// the host sets a retention, closed authorizations with their logs.
// docs/design.md describes the model, its invariants, the rules and their limits.
package authcapture

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Defaults of Options.
const (
	// DefaultMaxRetries is how often a command is retried after a version
	// conflict when Options.MaxRetries is zero.
	DefaultMaxRetries = 16
	// DefaultCacheSize is how many authorization states a Service
	// remembers when Options.CacheSize is zero.
	DefaultCacheSize = 10_000
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
	// returned. Default: DefaultMaxRetries (16). Negative means no retry.
	MaxRetries int
	// NewID generates authorization IDs when the caller gives none; prefix
	// is "auth". Default: prefix, "_", and 26 random base32 characters.
	NewID func(prefix string) string
	// CacheSize is how many authorization states the Service remembers from
	// its own writes and reads, so that a command on a recently used
	// authorization writes without reading first (one round trip instead of
	// two on a database). A stale state costs only a retry: the write's
	// version check catches it. Default: DefaultCacheSize (10,000);
	// negative disables it. It is always off for stores that declare
	// CheapReads.
	CacheSize int
	// Logger receives what the Service and its Schedulers do: rejected,
	// replayed and failed commands, version conflicts and locks at debug
	// level; sweeps that found something due and declined executor calls
	// at info; unknown executor outcomes and failed authorizations of a
	// sweep at warn. Default: nil, which logs nothing.
	Logger *slog.Logger
	// Hooks receives every finished command, and, if it is also a
	// SchedulerHooks, every sweep and executor call, for metrics.
	// Default: nil.
	Hooks Hooks
}

// withDefaults returns the options o stands for (nil for all defaults) with
// the documented defaults filled in. Negative MaxRetries and CacheSize keep
// their meaning (no retry, no cache).
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.DefaultPolicy == "" {
		c.DefaultPolicy = DefaultPolicy.Name
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.NewID == nil {
		c.NewID = randomID
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}

// validate reports whether the options, with defaults filled in, are
// consistent: every policy given is valid (an error wrapping
// ErrInvalidPolicy), and DefaultPolicy names a preset or one of them (an
// error wrapping ErrUnknownPolicy).
func (o *Options) validate() error {
	known := false
	for _, p := range Presets() {
		known = known || p.Name == o.DefaultPolicy
	}
	for i := range o.Policies {
		p := &o.Policies[i]
		if err := p.Validate(); err != nil {
			return err
		}
		known = known || p.Name == o.DefaultPolicy
	}
	if !known {
		return fmt.Errorf("authcapture: New: Options.DefaultPolicy %q names neither a preset nor one of Options.Policies: %w",
			truncate(o.DefaultPolicy, MaxIDLen), ErrUnknownPolicy)
	}
	return nil
}

// Service is the type applications use: every command and read goes
// through it. It is safe for concurrent use, and several Services (in one
// process or many) may share one Store.
type Service struct {
	store         Store
	clock         Clock
	policies      map[string]*Policy
	defaultPolicy string
	maxRetries    int // never negative
	newID         func(prefix string) string
	cache         *stateCache
	locker        Locker         // the store, if it can lock; else nil
	log           *slog.Logger   // never nil
	hooks         Hooks          // nil without Options.Hooks
	schedHooks    SchedulerHooks // Options.Hooks, if it is one; else nil
}

// New returns a Service over store. It returns an error wrapping
// ErrInvalidPolicy or ErrUnknownPolicy if the options are inconsistent.
func New(store Store, opts *Options) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("authcapture: New: store is nil: %w", ErrInvalidArgument)
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Service{
		store:         store,
		clock:         o.Clock,
		policies:      map[string]*Policy{},
		defaultPolicy: o.DefaultPolicy,
		maxRetries:    max(o.MaxRetries, 0),
		newID:         o.NewID,
	}
	s.locker, _ = store.(Locker)
	s.log = o.Logger
	if s.log == nil {
		s.log = discardLogger
	}
	s.hooks = o.Hooks
	s.schedHooks, _ = o.Hooks.(SchedulerHooks)
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
		p.overcaptureMax, _ = p.overcaptureMaxima() // checked by compile
		p = p.clone()                               // the caller's maps and slices are not kept
		s.policies[p.Name] = &p
	}
	return s, nil
}

// Policy returns a copy of the policy registered under name, as it was
// registered, with the documented defaults filled in.
func (s *Service) Policy(name string) (Policy, bool) {
	p, ok := s.policies[name]
	if !ok {
		return Policy{}, false
	}
	c := p.clone()
	c.overcaptureMax = nil // OvercaptureAllowance reads the copy's OvercaptureMax
	return c, true
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
		return nil, &Error{Op: "get", MerchantID: merchantID, AuthorizationID: truncate(id, MaxIDLen), Err: ErrInvalidArgument, Detail: err.Error()}
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
	if err := checkToken("merchant ID", merchantID, MaxIDLen); err != nil {
		return nil, &Error{Op: "events", Err: ErrInvalidArgument, Detail: err.Error()}
	}
	if after < 0 || limit <= 0 || limit > 10_000 {
		return nil, &Error{Op: "events", MerchantID: merchantID, Err: ErrInvalidArgument,
			Detail: "after must be >= 0 and limit between 1 and 10000"}
	}
	return s.store.Events(ctx, merchantID, after, limit)
}

func checkRef(merchantID, id string) error {
	if err := checkToken("merchant ID", merchantID, MaxIDLen); err != nil {
		return err
	}
	return checkToken("authorization ID", id, MaxIDLen)
}
