package authcapture

import (
	"errors"
	"net/http"
	"strings"
)

// Sentinel errors. Every rejection the service returns matches one of these
// with errors.Is and carries an *Error with the operation, the authorization
// and its status, reachable with errors.As. Compare by identity, never by
// message text. An error that matches none of them comes from the store or
// the context (a lost connection, a deadline): the command's outcome is then
// unknown, and retrying it with the same idempotency key resolves it.
var (
	// ErrInvalidArgument: a required field is empty, too long or malformed
	// (IDs, idempotency keys, references, metadata, reasons, options).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidAmount: an amount is zero, negative or malformed.
	ErrInvalidAmount = errors.New("amount must be a positive decimal")
	// ErrAmountPrecision: an amount has more fractional digits than its
	// currency's minor unit (10.001 USD).
	ErrAmountPrecision = errors.New("amount is more precise than the currency allows")
	// ErrAmountTooLarge: an amount exceeds MaxMinorUnits.
	ErrAmountTooLarge = errors.New("amount is too large")
	// ErrUnknownCurrency: not an ISO 4217 code the library knows.
	ErrUnknownCurrency = errors.New("unknown currency")
	// ErrCurrencyMismatch: a command names another currency than the
	// authorization's.
	ErrCurrencyMismatch = errors.New("currency does not match the authorization")
	// ErrExceedsRequested: an approval is larger than the requested amount.
	ErrExceedsRequested = errors.New("authorized amount exceeds the requested amount")
	// ErrBelowMinimum: a capture is below the policy's minimum for the
	// currency.
	ErrBelowMinimum = errors.New("amount is below the policy's minimum capture")
	// ErrExceedsCapturable: a capture or void asks for more than is open;
	// under a policy that allows overcapture, a capture asks for more than
	// the authorized amount and the overcapture allowance together.
	ErrExceedsCapturable = errors.New("amount exceeds the amount open to capture")
	// ErrInvalidStatus: the command is not allowed in the authorization's
	// current status. The *Error carries the status.
	ErrInvalidStatus = errors.New("command not allowed in the current status")
	// ErrExpired: the hold has expired (now >= ExpiresAt); nothing more can
	// be captured or voided.
	ErrExpired = errors.New("authorization has expired")
	// ErrMultipleCaptureNotAllowed: the policy allows a single capture.
	ErrMultipleCaptureNotAllowed = errors.New("policy does not allow multiple captures")
	// ErrPartialCaptureNotAllowed: the policy allows only a capture of the
	// whole authorized amount.
	ErrPartialCaptureNotAllowed = errors.New("policy does not allow partial capture")
	// ErrPartialVoidNotAllowed: the policy allows only a void of the whole
	// open amount.
	ErrPartialVoidNotAllowed = errors.New("policy does not allow partial void")
	// ErrTooManyCaptures: the policy's maximum number of captures is reached.
	ErrTooManyCaptures = errors.New("policy's maximum number of captures reached")
	// ErrOvercaptureNotAllowed: a capture asks for more than is open,
	// within the policy's overcapture allowance, but is no overcapture the
	// policy allows: it is not final, not the authorization's only
	// capture, or the hold is no longer whole (part of it was captured,
	// voided, reserved or changed).
	ErrOvercaptureNotAllowed = errors.New("overcapture not allowed")
	// ErrAmountChangeNotAllowed: the policy does not allow raising (or
	// lowering) the hold.
	ErrAmountChangeNotAllowed = errors.New("policy does not allow this amount change")
	// ErrAuthorizationTypeNotAllowed: the policy allows amount changes only
	// for other authorization types (Policy.AmountChangeTypes).
	ErrAuthorizationTypeNotAllowed = errors.New("policy does not allow amount changes for this authorization type")
	// ErrAmountChangeAfterCapture: the policy allows amount changes only
	// before the first capture (Policy.AmountChangeBeforeCapture).
	ErrAmountChangeAfterCapture = errors.New("policy allows amount changes only before the first capture")
	// ErrTooManyAmountChanges: the policy's cap on amount-change attempts,
	// declined ones included, is reached.
	ErrTooManyAmountChanges = errors.New("policy's maximum number of amount change attempts reached")
	// ErrBelowCaptured: a decrease would lower the hold to or below what
	// is captured, pending or released: it may take only part of what is
	// open (Void releases all of it).
	ErrBelowCaptured = errors.New("amount change would lower the hold below what is captured, pending or released")
	// ErrCapturePending: a final capture is in flight; no other capture may
	// begin until it is confirmed or failed.
	ErrCapturePending = errors.New("a final capture is pending")
	// ErrActionInFlight: the command asks for more than is open, and
	// provider actions in flight (two-phase captures or voids not yet
	// settled, a decrease of the hold not yet answered) hold the rest; or
	// an amount change is asked for while another is in flight. It is
	// temporary: retry once they settle.
	ErrActionInFlight = errors.New("provider actions in flight hold the amount; retry once they settle")
	// ErrCaptureSettled: a settlement names a capture that is no longer
	// pending: it was confirmed or failed already, or captured directly.
	// The *Error carries the capture's state (CaptureState).
	ErrCaptureSettled = errors.New("capture already settled")
	// ErrOutcomeConflict: a provider's outcome contradicts what is
	// recorded for the action it names: the action settled the other way
	// (or under another provider reference), it is of the other kind, the
	// amounts differ, or the reference is another authorization's. The
	// *Error's Detail names both sides. Reconcile with the provider.
	ErrOutcomeConflict = errors.New("provider outcome conflicts with the recorded one")
	// ErrExceedsRefundable: a refund asks for more than is captured and not
	// yet refunded, in total or of the capture it names.
	ErrExceedsRefundable = errors.New("amount exceeds the amount refundable")
	// ErrRefundNotAllowed: the policy refunds only once the authorization
	// is closed (Policy.RefundBeforeFinalCapture is not set), and it is
	// still open to capture.
	ErrRefundNotAllowed = errors.New("policy does not allow refunds before the final capture")
	// ErrRefundWindowClosed: the policy's RefundWindow has passed since
	// the capture refunded (or, against the total, the latest capture).
	ErrRefundWindowClosed = errors.New("refund window has closed")
	// ErrCaptureNotRefundable: a refund names a capture that failed.
	ErrCaptureNotRefundable = errors.New("capture did not succeed; nothing to refund")
	// ErrReauthorizationWindow: a reauthorization comes before the
	// policy's ReauthorizeAfter, counted from the original authorization
	// (PayPal: from day 4); it may succeed later. One after the window
	// closed is ErrReauthorizationNotAllowed.
	ErrReauthorizationWindow = errors.New("reauthorization before the policy's window opens")
	// ErrIdempotencyMismatch: an idempotency key was reused with different
	// parameters or for a different command.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with different parameters")
	// ErrNotFound: no such authorization (or capture) for this merchant.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an authorization with this ID already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrVersionConflict: a concurrent writer changed the authorization
	// between read and write, and the bounded retries ran out.
	ErrVersionConflict = errors.New("version conflict")
	// ErrReauthorizationNotAllowed: the policy allows no reauthorization
	// (MaxReauthorizations is 0), as many as it allows were recorded, or
	// its window has closed (after ReauthorizeBefore, or a hold reauthorized
	// now would already have lapsed under ReauthorizationValidity).
	ErrReauthorizationNotAllowed = errors.New("policy allows no (further) reauthorization")
	// ErrUnknownPolicy: no policy is registered under that name.
	ErrUnknownPolicy = errors.New("unknown policy")
	// ErrInvalidPolicy: a policy's definition is inconsistent.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrInvalidSchedule: a delay is malformed, zero, negative or too long,
	// a mode is not allowed by the policy, or a schedule could never fire
	// (a capture delay at or after the cancel delay, a delay at or past
	// expiry when the policy does not clamp).
	ErrInvalidSchedule = errors.New("invalid schedule")
	// ErrProviderDeclined is what an Executor returns, wrapped, when the
	// provider definitively refused a scheduled capture or void. Any other
	// executor error means the outcome is unknown and the action is retried.
	ErrProviderDeclined = errors.New("provider declined")
	// ErrIdempotencyKeyExists is returned by a Store when a write's
	// idempotency key is already recorded for the merchant. The service
	// turns it into a replay or an ErrIdempotencyMismatch; callers of the
	// service never see it.
	ErrIdempotencyKeyExists = errors.New("idempotency key already recorded")
)

// Error is the typed error of a rejected command. It matches its Err
// sentinel with errors.Is.
type Error struct {
	Op              string // the command, such as "capture"
	MerchantID      string
	AuthorizationID string
	Status          Status // the authorization's status when rejected, if known
	Err             error  // the sentinel
	Detail          string // what exactly was wrong, for people
	// CaptureState, with ErrCaptureSettled, is the state of the capture
	// named: CaptureSucceeded or CaptureFailed.
	CaptureState CaptureState
}

// Error says what was rejected and why, once: "authcapture: capture a1
// (authorized): amount exceeds the amount open to capture: 20.00 > 10.00
// open". The operation, the authorization and its status come first, then
// the sentinel's text, then the Detail.
func (e *Error) Error() string {
	msg := "authcapture: " + e.Op
	if e.AuthorizationID != "" {
		msg += " " + e.AuthorizationID
	}
	if e.Status != "" {
		msg += " (" + string(e.Status) + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if d := trimDetail(e.Detail, e.Err); d != "" {
		msg += ": " + d
	}
	return msg
}

// detail returns the text of err, the cause of a rejection, as the Detail
// of its *Error: what Error already says left out.
func detail(err error) string { return trimDetail(err.Error(), rootSentinel(err)) }

// trimDetail leaves out of a detail what Error already says: the
// "authcapture: " prefix and the sentinel's text, which a detail taken from
// a wrapping error repeats.
func trimDetail(d string, sentinel error) string {
	d = strings.TrimPrefix(d, "authcapture: ")
	if sentinel == nil {
		return d
	}
	s := sentinel.Error()
	if d == s {
		return ""
	}
	d = strings.TrimSuffix(d, ": "+s)
	return strings.TrimPrefix(d, s+": ")
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus maps an error from the service to the HTTP status code a
// payments API would answer with: 404 for ErrNotFound, 409 for conflicts of
// state or of concurrency (ErrInvalidStatus, ErrExpired, ErrCapturePending,
// ErrActionInFlight, ErrCaptureSettled, ErrRefundNotAllowed, ErrOutcomeConflict,
// ErrReauthorizationWindow, ErrVersionConflict, ErrIdempotencyMismatch,
// ErrAlreadyExists), 422 for a
// request that can never succeed as written (amounts, currencies, policy
// limits, schedules, invalid arguments), and 500 for anything else.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// sentinels lists every sentinel a caller of the service can receive, with
// the HTTP status HTTPStatus maps it to, in the order HTTPStatus tries them.
// (ErrProviderDeclined comes from the host's Executor and
// ErrIdempotencyKeyExists from a Store; neither reaches a caller.) A test
// checks that every sentinel is here and in the README's table.
var sentinels = []struct {
	err    error
	name   string
	status int
}{
	{ErrNotFound, "ErrNotFound", http.StatusNotFound},

	{ErrInvalidStatus, "ErrInvalidStatus", http.StatusConflict},
	{ErrExpired, "ErrExpired", http.StatusConflict},
	{ErrCapturePending, "ErrCapturePending", http.StatusConflict},
	{ErrActionInFlight, "ErrActionInFlight", http.StatusConflict},
	{ErrCaptureSettled, "ErrCaptureSettled", http.StatusConflict},
	{ErrRefundNotAllowed, "ErrRefundNotAllowed", http.StatusConflict},
	{ErrOutcomeConflict, "ErrOutcomeConflict", http.StatusConflict},
	{ErrReauthorizationWindow, "ErrReauthorizationWindow", http.StatusConflict},
	{ErrVersionConflict, "ErrVersionConflict", http.StatusConflict},
	{ErrIdempotencyMismatch, "ErrIdempotencyMismatch", http.StatusConflict},
	{ErrAlreadyExists, "ErrAlreadyExists", http.StatusConflict},

	{ErrInvalidAmount, "ErrInvalidAmount", http.StatusUnprocessableEntity},
	{ErrAmountPrecision, "ErrAmountPrecision", http.StatusUnprocessableEntity},
	{ErrAmountTooLarge, "ErrAmountTooLarge", http.StatusUnprocessableEntity},
	{ErrUnknownCurrency, "ErrUnknownCurrency", http.StatusUnprocessableEntity},
	{ErrCurrencyMismatch, "ErrCurrencyMismatch", http.StatusUnprocessableEntity},
	{ErrExceedsRequested, "ErrExceedsRequested", http.StatusUnprocessableEntity},
	{ErrBelowMinimum, "ErrBelowMinimum", http.StatusUnprocessableEntity},
	{ErrExceedsCapturable, "ErrExceedsCapturable", http.StatusUnprocessableEntity},
	{ErrMultipleCaptureNotAllowed, "ErrMultipleCaptureNotAllowed", http.StatusUnprocessableEntity},
	{ErrPartialCaptureNotAllowed, "ErrPartialCaptureNotAllowed", http.StatusUnprocessableEntity},
	{ErrPartialVoidNotAllowed, "ErrPartialVoidNotAllowed", http.StatusUnprocessableEntity},
	{ErrTooManyCaptures, "ErrTooManyCaptures", http.StatusUnprocessableEntity},
	{ErrOvercaptureNotAllowed, "ErrOvercaptureNotAllowed", http.StatusUnprocessableEntity},
	{ErrExceedsRefundable, "ErrExceedsRefundable", http.StatusUnprocessableEntity},
	{ErrRefundWindowClosed, "ErrRefundWindowClosed", http.StatusUnprocessableEntity},
	{ErrCaptureNotRefundable, "ErrCaptureNotRefundable", http.StatusUnprocessableEntity},
	{ErrAmountChangeNotAllowed, "ErrAmountChangeNotAllowed", http.StatusUnprocessableEntity},
	{ErrAuthorizationTypeNotAllowed, "ErrAuthorizationTypeNotAllowed", http.StatusUnprocessableEntity},
	{ErrAmountChangeAfterCapture, "ErrAmountChangeAfterCapture", http.StatusUnprocessableEntity},
	{ErrTooManyAmountChanges, "ErrTooManyAmountChanges", http.StatusUnprocessableEntity},
	{ErrBelowCaptured, "ErrBelowCaptured", http.StatusUnprocessableEntity},
	{ErrReauthorizationNotAllowed, "ErrReauthorizationNotAllowed", http.StatusUnprocessableEntity},
	{ErrUnknownPolicy, "ErrUnknownPolicy", http.StatusUnprocessableEntity},
	{ErrInvalidPolicy, "ErrInvalidPolicy", http.StatusUnprocessableEntity},
	{ErrInvalidSchedule, "ErrInvalidSchedule", http.StatusUnprocessableEntity},
	// Last: the more precise sentinels above name a bad argument better.
	{ErrInvalidArgument, "ErrInvalidArgument", http.StatusUnprocessableEntity},
}
