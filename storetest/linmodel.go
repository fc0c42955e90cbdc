package storetest

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/anishathalye/porcupine"
	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/model"
)

// The linearizability model: one authorization's ledger (model.Ledger),
// changed by direct captures and voids (which may draw from voids in
// flight), two-phase voids of part or all of what is open (begun, then
// confirmed with all, part or, for a void of everything, more than it
// reserved released, or failed) and the hold's expiry, and observed by
// reads; under a policy with an overcapture allowance, a final capture may
// ask for more than the hold, which only the single capture of a whole
// hold may take (model.Ledger.Capture); and refunds (direct, or begun then
// confirmed or failed) of one capture or the total captured, which the
// default policy accepts only once the authorization is closed. Every
// operation is checked against it with what it returned: an
// accepted command or a read by what the Service reported (model.View), a
// rejection by its sentinel.

// linKind is what an operation of a history does.
type linKind uint8

const (
	linGet           linKind = iota // Service.Get
	linCapture                      // a non-final direct capture of Amount
	linFinalCapture                 // a final direct capture of Amount: the rest is released; more than the hold is an overcapture
	linVoid                         // a void of Amount
	linVoidAll                      // a void of everything open
	linExpire                       // the shared clock is set to ExpiresAt
	linBeginVoid                    // a two-phase void of Amount is begun
	linConfirmVoid                  // the void VoidID is confirmed: Released if HasReleased, else all it reserves
	linFailVoid                     // the void VoidID failed
	linBeginVoidAll                 // a two-phase void of everything open is begun
	linRefund                       // a direct refund of Amount, of CaptureID or (empty) the total captured
	linBeginRefund                  // a two-phase refund of Amount is begun
	linConfirmRefund                // the refund RefundID is confirmed
	linFailRefund                   // the refund RefundID failed
)

func (k linKind) String() string {
	return [...]string{"get", "capture", "final capture", "void", "void all", "clock to expiry",
		"begin void", "confirm void", "fail void", "begin void all", "refund", "begin refund", "confirm refund",
		"fail refund"}[k]
}

// linInput is an operation's input. Key is the command's idempotency key,
// kept for retries; the model ignores it.
type linInput struct {
	Kind        linKind
	Amount      int64
	VoidID      string // the void a confirm or fail settles
	Released    int64  // what a confirm reports released, if HasReleased
	HasReleased bool
	RefundID    string // the refund a confirm or fail settles
	CaptureID   string // the capture a refund names; empty for the total
	Key         string
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
	Outcome   linOutcome
	Reason    error      // the sentinel of a rejection
	View      model.View // after an accepted command, or what a read saw
	VoidID    string     // the void an accepted begin void began
	RefundID  string     // the refund an accepted begin refund began
	CaptureID string     // the capture an accepted capture made
	Amount    int64      // what an accepted begin void reserved, for the clients' next draws only
	Detail    string     // the error text, for the visualization only
}

// apply returns the ledger after in, or the sentinel the Service must
// reject in with (and l unchanged). The history's authorization is under
// the default policy or one that allows overcapture (l.Policy), and the
// clock moves only to ExpiresAt. voidID names the void a begin void begins,
// the refund a begin refund begins or the capture a capture makes (empty if
// its outcome is unknown: no client settles or refunds it then).
func apply(l model.Ledger, in linInput, voidID string) (model.Ledger, error) {
	switch in.Kind {
	case linExpire:
		// From now on every read and command applies the expiry first,
		// in one write of its own, if anything is still open.
		return l.Expire(l.ExpiresAt), nil
	case linCapture, linFinalCapture:
		return l.Capture(model.Capture{Amount: in.Amount, Final: authcapture.Bool(in.Kind == linFinalCapture), ID: voidID})
	case linVoid:
		return l.Void(in.Amount, false)
	case linVoidAll:
		return l.Void(0, true)
	case linBeginVoid:
		return l.BeginVoid(voidID, in.Amount, false)
	case linBeginVoidAll:
		return l.BeginVoid(voidID, 0, true)
	case linConfirmVoid:
		if in.HasReleased {
			return l.ConfirmVoid(in.VoidID, &in.Released)
		}
		return l.ConfirmVoid(in.VoidID, nil)
	case linFailVoid:
		return l.FailVoid(in.VoidID)
	case linRefund:
		return l.Refund(model.Refund{Amount: in.Amount, CaptureID: in.CaptureID})
	case linBeginRefund:
		return l.Refund(model.Refund{Amount: in.Amount, CaptureID: in.CaptureID, TwoPhase: true, ID: voidID})
	case linConfirmRefund, linFailRefund:
		return l.SettleRefund(in.RefundID, in.Kind == linConfirmRefund)
	}
	return l, nil
}

// step is the model's step function for porcupine.
func step(state, input, output any) (bool, any) {
	l, in, out := state.(model.Ledger), input.(linInput), output.(linOutput)
	begun := out.VoidID
	switch in.Kind {
	case linBeginRefund:
		begun = out.RefundID
	case linCapture, linFinalCapture:
		begun = out.CaptureID
	}
	next, rejection := apply(l, in, begun)
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
	return out.View == next.View(), next
}

// ledgerModel returns the model of an authorization whose ledger starts at
// initial.
func ledgerModel(initial model.Ledger) porcupine.Model {
	return porcupine.Model{
		Init:              func() any { return initial },
		Step:              step,
		Equal:             reflect.DeepEqual,
		DescribeOperation: describeOperation,
		DescribeState:     func(state any) string { return state.(model.Ledger).View().String() },
	}
}

func describeOperation(input, output any) string {
	in, out := input.(linInput), output.(linOutput)
	op := in.Kind.String()
	switch in.Kind {
	case linCapture, linFinalCapture, linVoid, linBeginVoid, linRefund, linBeginRefund:
		op += fmt.Sprintf(" %d", in.Amount)
		if in.CaptureID != "" {
			op += " of " + in.CaptureID
		}
	case linConfirmRefund, linFailRefund:
		op += " " + in.RefundID
	case linConfirmVoid, linFailVoid:
		op += " " + in.VoidID
		if in.HasReleased {
			op += fmt.Sprintf(" released %d", in.Released)
		}
	}
	if out.VoidID != "" {
		op += " as " + out.VoidID
	}
	if out.RefundID != "" {
		op += " as " + out.RefundID
	}
	if out.CaptureID != "" {
		op += " as " + out.CaptureID
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
	return fmt.Sprintf("%s -> %s", op, out.View)
}
