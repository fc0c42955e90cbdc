package storetest

import (
	"errors"
	"fmt"

	"github.com/anishathalye/porcupine"
	"github.com/authcapture/authcapture"
)

// The linearizability model: one authorization's ledger, changed by direct
// captures, voids and the hold's expiry, and observed by reads. Every
// operation is checked against it with what it returned: an accepted
// command or a read by the whole ledger it reported, a rejection by its
// sentinel.

// linKind is what an operation of a history does.
type linKind uint8

const (
	linGet          linKind = iota // Service.Get
	linCapture                     // a non-final direct capture of Amount
	linFinalCapture                // a final direct capture of Amount: the rest is released
	linVoid                        // a void of Amount
	linVoidAll                     // a void of everything open
	linExpire                      // the shared clock is set to ExpiresAt
)

func (k linKind) String() string {
	return [...]string{"get", "capture", "final capture", "void", "void all", "clock to expiry"}[k]
}

// linInput is an operation's input. Key is the command's idempotency key,
// kept for retries; the model ignores it.
type linInput struct {
	Kind   linKind
	Amount int64
	Key    string
}

// linOutcome is how an operation ended.
type linOutcome uint8

const (
	// linOK: the command was accepted, or the read returned.
	linOK linOutcome = iota
	// linRejected: the Service rejected the command with a library
	// sentinel; nothing was applied.
	linRejected
	// linUnknown: the call failed with an error that is no sentinel (a
	// lost connection): it may or may not have been applied. Its return
	// time in the history is infinite, so the checker may place it
	// anywhere after its call, including after everything else.
	linUnknown
)

// linOutput is what an operation returned.
type linOutput struct {
	Outcome linOutcome
	Reason  error  // the sentinel of a rejection
	Ledger  ledger // after an accepted command, or what a read saw
	Detail  string // the error text, for the visualization only
}

// ledger is the model's state: what the Service reports of the
// authorization. It is comparable, so porcupine's default equality works.
type ledger struct {
	Authorized, Open, Pending, Captured, Voided, Expired int64
	Version                                              int64
	Status                                               authcapture.Status
	HoldExpired                                          bool
}

func ledgerOf(a *authcapture.Authorization) ledger {
	return ledger{
		Authorized: a.Authorized, Open: a.Open(), Pending: a.Pending, Captured: a.Captured, Voided: a.Voided,
		Expired: a.Expired, Version: a.Version, Status: a.Status(), HoldExpired: a.HoldExpired(),
	}
}

func (l ledger) closed() bool { return l.Open == 0 && l.Pending == 0 }

// status derives the status as the Service does, for an approved
// authorization with direct captures only.
func (l ledger) status() authcapture.Status {
	switch {
	case l.closed() && l.Captured > 0:
		return authcapture.StatusCaptured
	case l.closed() && l.HoldExpired:
		return authcapture.StatusExpired
	case l.closed():
		return authcapture.StatusVoided
	case l.Captured > 0 || l.Pending > 0:
		return authcapture.StatusPartiallyCaptured
	}
	return authcapture.StatusAuthorized
}

// apply returns the ledger after in, or the sentinel the Service must
// reject in with (and l unchanged).
func (l ledger) apply(in linInput) (ledger, error) {
	switch in.Kind {
	case linGet:
		return l, nil
	case linExpire:
		// From now on every read and command applies the expiry first,
		// in one write of its own, if anything is still open.
		if l.closed() || l.HoldExpired {
			return l, nil
		}
		l.Expired += l.Open
		l.Open = 0
		l.HoldExpired = true
		l.Version++
		l.Status = l.status()
		return l, nil
	}
	if l.HoldExpired {
		return l, authcapture.ErrExpired
	}
	if l.closed() {
		return l, authcapture.ErrInvalidStatus
	}
	amount := in.Amount
	if in.Kind == linVoidAll {
		amount = l.Open
	}
	if amount > l.Open {
		return l, authcapture.ErrExceedsCapturable
	}
	l.Open -= amount
	switch in.Kind {
	case linCapture:
		l.Captured += amount
	case linFinalCapture:
		l.Captured += amount
		l.Voided += l.Open
		l.Open = 0
	case linVoid, linVoidAll:
		l.Voided += amount
	}
	l.Version++
	l.Status = l.status()
	return l, nil
}

// step is the model's step function for porcupine.
func step(state, input, output any) (bool, any) {
	l, in, out := state.(ledger), input.(linInput), output.(linOutput)
	next, rejection := l.apply(in)
	switch out.Outcome {
	case linUnknown:
		return true, next // a rejection leaves next == l
	case linRejected:
		if errors.Is(out.Reason, authcapture.ErrVersionConflict) {
			return true, l // gave up on contention: valid at any point, nothing changed
		}
		return rejection != nil && errors.Is(out.Reason, rejection), l
	}
	if rejection != nil {
		return false, l
	}
	if in.Kind == linExpire {
		return true, next
	}
	return out.Ledger == next, next
}

// ledgerModel returns the model of an authorization whose ledger starts at
// initial.
func ledgerModel(initial ledger) porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return initial },
		Step:              step,
		DescribeOperation: describeOperation,
		DescribeState:     func(state any) string { return describeLedger(state.(ledger)) },
	}
}

func describeOperation(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	op := in.Kind.String()
	switch in.Kind {
	case linCapture, linFinalCapture, linVoid:
		op += fmt.Sprintf(" %d", in.Amount)
	}
	switch out.Outcome {
	case linRejected:
		return fmt.Sprintf("%s -> rejected: %v", op, out.Reason)
	case linUnknown:
		return fmt.Sprintf("%s -> unknown: %s", op, out.Detail)
	}
	if in.Kind == linExpire {
		return op
	}
	return fmt.Sprintf("%s -> %s", op, describeLedger(out.Ledger))
}

func describeLedger(l ledger) string {
	s := fmt.Sprintf("v%d %s open=%d captured=%d voided=%d expired=%d", l.Version, l.Status, l.Open, l.Captured, l.Voided, l.Expired)
	if l.Pending != 0 {
		s += fmt.Sprintf(" pending=%d", l.Pending)
	}
	return s
}
