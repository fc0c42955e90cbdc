package authcapture

import (
	"context"
	"fmt"
	"time"
)

// Store is the storage backend the Service runs on. Application code uses
// the Service, never a Store directly: the Service validates every command,
// applies the rules and builds each Write; a Store only keeps what it is
// given, atomically.
//
// Each method says what the Service has already checked of its arguments,
// so that no store validates them again in its own way. The IDs it passes
// as arguments (merchant, authorization) are 1 to 64 characters from A-Z a-z 0-9 _ - . :
// or were returned by the store; idempotency keys are 1 to 255 bytes of
// printable ASCII, space included (U+0020 to U+007E).
//
// Implementations must be safe for concurrent use by many goroutines and, for
// shared backends, by many processes. The storetest package holds a
// conformance suite every implementation must pass.
//
// Errors: a Store returns ErrNotFound, ErrAlreadyExists, ErrVersionConflict
// and ErrIdempotencyKeyExists (possibly wrapped) for the conditions below,
// and ErrInvalidArgument for a malformed Write (one CheckWrite refuses, or
// whose entries do not continue the stored log); any other error means the
// backend failed, and for a Write it may mean the outcome is unknown (a
// reply lost after commit). The Service resolves such outcomes only through
// idempotency keys, so a store must never report failure for a write that
// committed unless it cannot know.
type Store interface {
	// Get returns the authorization id of merchantID, or ErrNotFound if
	// there is none (including when it belongs to another merchant). The
	// result must share no memory with the store's copy.
	Get(ctx context.Context, merchantID, id string) (*Authorization, error)

	// Entries returns the log entries of an authorization with Seq > after,
	// in Seq order, at most limit of them (limit <= 0 means all). It returns
	// ErrNotFound if the authorization does not exist for merchantID. The
	// Service has already checked that after >= 0.
	Entries(ctx context.Context, merchantID, id string, after int64, limit int) ([]Entry, error)

	// Idempotency returns the record of key for merchantID, or ErrNotFound.
	Idempotency(ctx context.Context, merchantID, key string) (*IdempotencyRecord, error)

	// Write applies w atomically: all of it or nothing.
	//
	// The Service has already checked w with CheckWrite, and built it on
	// the state it read at w.Authorization.Version-1 (or as a new
	// authorization at version 1): the entries continue that state's log,
	// the events its sequence. A store still calls CheckWrite first, so
	// that a write from elsewhere (a tool, a test) is refused the same way
	// by every store; what needs the stored state is checked below.
	//
	// If w.Authorization.Version == 1 the authorization must not exist for
	// its merchant (otherwise ErrAlreadyExists). Else the stored version
	// must equal w.Authorization.Version-1 (otherwise ErrVersionConflict,
	// or ErrNotFound if it does not exist), and the stored state is
	// replaced. w.Entries are appended to the log (their Seq continue it
	// without gaps); w.Events are appended to the outbox with a Position
	// the store assigns; w.Idempotency, if not nil, is recorded under its
	// merchant and key, and if that key is already recorded the whole write
	// fails with ErrIdempotencyKeyExists. A store may keep a due index
	// keyed on the authorization's NextDue, written in the same write, and
	// keeps the index Unsettled reads, keyed on its PendingSince.
	//
	// Every non-empty ProviderRef of w.Entries is indexed under the
	// merchant, naming the authorization, in the same atomic write (so
	// that FindByProviderRef finds it). A provider's IDs are unique, so a
	// reference the merchant's index already holds for another
	// authorization is a bug of the host: the whole write then fails with
	// ErrAlreadyExists, and nothing changes. The same reference on several
	// entries of one authorization is indexed once.
	//
	// The store must not retain w or anything it points to.
	Write(ctx context.Context, w *Write) error

	// Events returns up to limit events of merchantID with Position >
	// after, in Position order. A store must never return an event at a
	// position if an event at a lower position could still become visible
	// later: a relay that remembers the last position it saw misses
	// nothing. The Service has already checked that after >= 0 and that
	// limit is between 1 and 10,000.
	Events(ctx context.Context, merchantID string, after int64, limit int) ([]Event, error)

	// AllEvents returns up to limit events of every merchant with Position
	// > after, in Position order: the store-wide outbox a relay across
	// merchants reads. It gives the guarantee Events gives: it never
	// returns an event at a position if an event at a lower position could
	// still become visible later. The Service has already checked that
	// after >= 0 and that limit is between 1 and 10,000.
	AllEvents(ctx context.Context, after int64, limit int) ([]Event, error)

	// Due returns up to limit references to open authorizations whose
	// next due time (Authorization.NextDue, or the end of a claim on it:
	// DueClaimer) is at or before t, earliest first. It must cost O(limit log n) or better, not a scan of every
	// authorization. The Service has already checked that limit > 0.
	Due(ctx context.Context, t time.Time, limit int) ([]DueRef, error)

	// FindByProviderRef returns the ID of the authorization of merchantID
	// whose log holds an entry with ProviderRef ref, or ErrNotFound if
	// there is none (including when only another merchant's does). The
	// Service has already checked that ref is not empty.
	FindByProviderRef(ctx context.Context, merchantID, ref string) (string, error)

	// Unsettled returns up to limit references to authorizations with
	// provider actions in flight since t or earlier (a PendingSince not
	// zero and at or before t), oldest first, across all merchants; each
	// DueRef's DueAt is the PendingSince. Like Due it must cost
	// O(limit log n) or better, not a scan of every authorization. The
	// Service has already checked that limit > 0.
	Unsettled(ctx context.Context, t time.Time, limit int) ([]DueRef, error)
}

// Locker is a capability a Store may declare: it can lock an authorization
// against other writers while the Service applies a command to it, so that
// writers contending for one authorization queue for it instead of failing
// their version checks again and again. The Service locks only after a
// write built on a fresh read lost a version conflict, so an uncontended
// command keeps the optimistic path; and it always ends the lock it took.
// storetest checks a Locker with the rest of the Store contract.
//
// A Store that wraps another (to count or log its calls, say) hides this
// capability unless it declares Lock itself.
type Locker interface {
	// Lock returns the authorization id of merchantID, as Get does, and
	// locks it: until the Lock ends, no other writer can change it. It
	// waits while another Lock holds it. It returns ErrNotFound if there
	// is none, ErrVersionConflict if the backend refused to wait (a
	// serialization failure, a deadlock), and then nothing is locked.
	Lock(ctx context.Context, merchantID, id string) (*Authorization, Lock, error)
}

// DueClaimer is a capability a Store may declare: it can claim due
// authorizations for a while, many in one call, so that several schedulers
// sharing the store each take different ones instead of racing for the
// same. A claim is only a hint for Due: it changes no authorization (not
// its version, nor its state), and the Service's versioned writes still
// decide who applies an action. The Scheduler claims instead of calling
// Due when the store declares it. storetest checks a DueClaimer with the
// rest of the Store contract.
//
// A Store that wraps another hides this capability unless it declares
// ClaimDue itself.
type DueClaimer interface {
	// ClaimDue returns up to limit references to authorizations due at or
	// before t, earliest first, as Due does, and claims them until until:
	// Due and ClaimDue see a claimed authorization as due at until (the
	// DueAt they report then), until its next Write, whose NextDue counts
	// again. An authorization another call
	// is claiming at the same moment is left for a later call. Like Due it
	// must cost O(limit log n) or better. The Service has already checked
	// that limit > 0 and that until is after t.
	ClaimDue(ctx context.Context, t, until time.Time, limit int) ([]DueRef, error)
}

// Lock is an authorization locked by Locker.Lock. Write or Release ends
// it, whatever they return; the holder must end every lock it takes.
type Lock interface {
	// Write applies w as Store.Write does (version check included),
	// atomically with the lock, and ends the lock. The Service has already
	// checked w as for Store.Write, and built it on the locked state. An
	// error that is none of Store.Write's sentinels means the outcome may
	// be unknown. Write after the lock ended writes nothing and returns
	// ErrInvalidArgument.
	Write(ctx context.Context, w *Write) error
	// Release ends the lock without writing. After the lock ended it does
	// nothing and returns nil, so a holder may always defer it.
	Release(ctx context.Context) error
}

// Write is one atomic change of one authorization. See Store.Write.
type Write struct {
	Authorization *Authorization
	Entries       []Entry
	Events        []Event
	Idempotency   *IdempotencyRecord
}

// IdempotencyRecord remembers an accepted command by its key, so a retry
// with the same key returns the original result instead of applying the
// command twice.
type IdempotencyRecord struct {
	MerchantID      string    `json:",omitzero"`
	Key             string    `json:",omitzero"`
	Op              string    `json:",omitzero"` // the command, such as "capture"
	Fingerprint     uint64    `json:",omitzero"` // hash of the command's parameters
	AuthorizationID string    `json:",omitzero"`
	Version         int64     `json:",omitzero"` // the version the command produced
	EntrySeq        int64     `json:",omitzero"` // the command's main log entry
	CreatedAt       time.Time `json:",omitzero"`
}

// DueRef names an authorization that has something due (Store.Due), or
// provider actions in flight (Store.Unsettled).
type DueRef struct {
	MerchantID string
	ID         string
	DueAt      time.Time
}

// CheckWrite reports, as an error wrapping ErrInvalidArgument, whether w is
// malformed in a way that needs no stored state to see: no authorization,
// one without merchant, ID or a positive version, entries whose Seq do not
// run without gaps up to Authorization.Entries (from 1 for a new
// authorization), or an event or idempotency record of another merchant or
// authorization.
//
// The Service only hands a Store writes that pass CheckWrite. Every Store
// calls it first in Write (and Lock.Write), so that a write from anywhere
// else (a tool, a test) is refused the same way by every store; what needs
// the stored state (the version check, entries continuing the stored log)
// is each store's.
func CheckWrite(w *Write) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("authcapture: malformed write: %s: %w", fmt.Sprintf(format, args...), ErrInvalidArgument)
	}
	if w == nil || w.Authorization == nil {
		return invalid("no authorization")
	}
	a := w.Authorization
	if a.MerchantID == "" || a.ID == "" {
		return invalid("authorization without merchant or ID")
	}
	if a.Version < 1 {
		return invalid("authorization %q at version %d", a.ID, a.Version)
	}
	first := a.Entries - int64(len(w.Entries)) + 1
	if a.Version == 1 && first != 1 && len(w.Entries) > 0 {
		return invalid("entries %d to %d do not start the log of new authorization %q", first, a.Entries, a.ID)
	}
	for i, e := range w.Entries {
		if e.Seq != first+int64(i) {
			return invalid("entry seq %d where %d was expected (the last entry's seq is Authorization.Entries, %d)", e.Seq, first+int64(i), a.Entries)
		}
	}
	for _, ev := range w.Events {
		if ev.MerchantID != a.MerchantID || ev.AuthorizationID != a.ID {
			return invalid("event of %s/%s in a write of %s/%s", ev.MerchantID, ev.AuthorizationID, a.MerchantID, a.ID)
		}
	}
	if r := w.Idempotency; r != nil && (r.MerchantID != a.MerchantID || r.AuthorizationID != a.ID || r.Key == "") {
		return invalid("idempotency record %q of %s/%s in a write of %s/%s", r.Key, r.MerchantID, r.AuthorizationID, a.MerchantID, a.ID)
	}
	return nil
}

// Pruner is a capability a Store may declare: it can delete idempotency
// records, events and closed authorizations that are past their
// retention (and, for authorizations, past their refund window), a small batch at a time, so that a long-running store does
// not grow without bound. Service.Prune calls it; storetest checks a
// Pruner with the rest of the Store contract. An authorization that is
// not closed, or has a provider action in flight, is never pruned.
//
// A Store that wraps another hides this capability unless it declares the
// methods itself.
type Pruner interface {
	// PruneIdempotency deletes up to limit idempotency records (of any
	// merchant) whose CreatedAt is before before, and returns how many it
	// deleted. A key whose record is gone is free again: a command sent
	// with it later is applied as a new command. A store that keeps times
	// to the microsecond may keep a record less than a microsecond older
	// than before. The Service has already checked that limit > 0.
	PruneIdempotency(ctx context.Context, before time.Time, limit int) (int, error)

	// PruneEvents deletes events from the front of the store-wide outbox
	// (AllEvents' order): in Position order, it deletes each event whose
	// Position is below keepFrom and whose At is before before, and stops
	// at the first event that is not, or after limit events. It returns how
	// many it deleted. An event at keepFrom or above is never deleted, nor
	// an event that has no position yet, so a relay that passes the
	// position after its saved cursor (cursor+1) loses nothing it has not
	// read. Because it stops at the first event too young to go, an old
	// event behind a younger one (clocks of several hosts disagree) goes
	// once that one does. Times compare as for PruneIdempotency. The
	// Service has already checked that limit > 0 and keepFrom >= 0.
	PruneEvents(ctx context.Context, before time.Time, keepFrom int64, limit int) (int, error)

	// PruneAuthorizations deletes up to limit authorizations (of any
	// merchant) whose Authorization.PrunableSince is not zero and before
	// before, oldest first, and returns how many it deleted:
	// PrunableSince is the later of ClosedAt and RefundableUntil (the end
	// of the refund window) of an authorization that is closed
	// (Authorization.Closed) with ClosedAt set and no provider action in
	// flight (PendingSince zero), so none is deleted while a refund may
	// still be recorded under its policy's RefundWindow. A write that
	// changes PrunableSince (a later capture, an action begun or settled)
	// moves the authorization's place. Each goes with its log, the provider references its log
	// recorded (FindByProviderRef no longer finds them) and the
	// idempotency records that name it under a key its entries carry
	// (Entry.IdempotencyKey, which the Service sets on the entries of
	// every command sent with a key); any other record naming it waits
	// for PruneIdempotency. Its events stay: PruneEvents deletes them in
	// their turn. Once deleted, Get and Entries return ErrNotFound for it
	// and its provider references are free again; its ID is not to be
	// used again (a store may refuse a new authorization under it, with
	// ErrAlreadyExists, while the old one's events are kept). Like Due it must
	// cost O(limit log n) or better, not a scan of every authorization.
	// Times compare as for PruneIdempotency. The Service has already
	// checked that limit > 0.
	PruneAuthorizations(ctx context.Context, before time.Time, limit int) (int, error)
}
