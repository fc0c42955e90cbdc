package authcapture

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Policy is the data that says which commands a payment provider allows. A
// Service knows the presets below and any policy given in Options; each
// authorization names its policy, which is looked up on every command.
// Changing a registered policy's definition therefore changes the rules for
// authorizations already made under it (their ExpiresAt stays as computed):
// register new terms under a new name.
type Policy struct {
	// Name identifies the policy; authorizations record it.
	Name string
	// MultipleCaptures allows more than one capture per authorization.
	// Without it every capture is final, and an explicit non-final capture
	// is rejected with ErrMultipleCaptureNotAllowed.
	MultipleCaptures bool
	// MaxCaptures caps the number of captures (succeeded or pending); 0
	// means no cap.
	MaxCaptures int
	// PartialCapture allows capturing less than the whole authorized amount.
	// Without it the only capture allowed takes all of it.
	PartialCapture bool
	// PartialVoid allows voiding part of the open amount.
	PartialVoid bool
	// FinalByDefault is the final flag of a capture that does not choose.
	FinalByDefault bool
	// MinCapture is the smallest capture allowed, per currency code, as a
	// decimal string ("1.00"). Currencies not listed have no minimum.
	MinCapture map[Currency]string
	// Validity is how long an approved hold lasts before expiry, unless the
	// authorize call sets ExpiresAt.
	Validity time.Duration

	// DefaultCaptureMode is the capture mode of a create that names none:
	// what the provider does when its own call leaves the mode out, so the
	// ledger records what the provider will do. Default: CaptureManual.
	DefaultCaptureMode CaptureMode
	// CaptureModes lists the capture modes an authorization may use; empty
	// allows all of them.
	CaptureModes []CaptureMode
	// CancelModes lists the cancel modes an authorization may use; empty
	// allows all of them.
	CancelModes []CancelMode
	// DefaultCaptureDelay is the delay of a delayed capture that names
	// none. Default: 5 minutes (PT5M).
	DefaultCaptureDelay time.Duration
	// ExpiryAction applies to authorizations that do not choose one.
	// Default: ExpiryRelease.
	ExpiryAction ExpiryAction
	// ScheduleMargin is how long before ExpiresAt a scheduled action must
	// be due at the latest, so the provider can still act on the hold; an
	// ExpiryCapture is scheduled this long before expiry. Default: 5 minutes.
	ScheduleMargin time.Duration
	// ClampSchedules moves a scheduled capture or cancel that would be due
	// later than ExpiresAt-ScheduleMargin to that instant, instead of
	// rejecting it with ErrInvalidSchedule.
	ClampSchedules bool
	// ImmediateCaptureFallback allows Authorize to report that the payment
	// method could not hold funds and the provider captured at once; the
	// authorization then records CaptureAutomatic as the mode used.
	ImmediateCaptureFallback bool
	// CaptureRetries is how often a scheduled capture that the provider
	// declined is tried again before the schedule is dropped. Default: 3;
	// negative means never.
	CaptureRetries int
	// CaptureRetryBackoff is the delay before the first retry, doubling
	// for each further one. Default: 1 minute.
	CaptureRetryBackoff time.Duration

	// Amount changes: incremental and decremental authorization, a
	// provider action (requested, then approved or declined).
	//
	// IncrementalAuthorization allows raising the hold; DecrementalAuthorization
	// lowering it (never below what is captured, pending or released).
	IncrementalAuthorization bool
	DecrementalAuthorization bool
	// AmountChangeTypes lists the authorization types (set at create)
	// whose hold may change; empty allows every type.
	AmountChangeTypes []AuthorizationType
	// AmountChangeBeforeCapture allows changes only before the first
	// capture (Stripe, Checkout.com); without it what is not yet captured
	// may change at any time (Adyen).
	AmountChangeBeforeCapture bool
	// MaxAmountChangeAttempts caps the changes requested, declined ones
	// included (Stripe: 10); 0 means no cap.
	MaxAmountChangeAttempts int
	// AmountChangeValidity, if positive, is how long an approved change
	// keeps the hold from the moment of approval: ExpiresAt moves to that
	// instant when it is later. Zero leaves ExpiresAt as it was.
	AmountChangeValidity time.Duration

	// Overcapture: a single final capture may take more than the hold, by
	// at most OvercapturePercent percent of the authorized amount (rounded
	// down to the minor unit) and, for the currencies listed in
	// OvercaptureMax (decimal strings, such as "75.00"), at most that much
	// more (PayPal: 15 percent and 75 USD, so 100.00 authorized may be
	// captured up to 115.00 and 1000.00 up to 1075.00). Zero
	// OvercapturePercent allows no overcapture; it may be at most 100.
	// Only a final capture that is the authorization's only one, made
	// while the hold is whole (nothing captured, pending, voided, expired
	// or changed), may overcapture (docs/design.md, section 4.3).
	OvercapturePercent int
	OvercaptureMax     map[Currency]string

	// Refunds of captured money. RefundBeforeFinalCapture allows refunding
	// while the authorization is still open to capture (Stripe
	// multicapture, Adyen); without it refunds are refused with
	// ErrRefundNotAllowed until the authorization is closed (its hold:
	// nothing open, nothing pending). RefundWindow, if positive, is how
	// long refunds may come: after the capture a refund names succeeded,
	// or, for a refund against the total captured, after the latest
	// capture succeeded; later is ErrRefundWindowClosed. Zero means no
	// limit; at most ten years.
	RefundBeforeFinalCapture bool
	RefundWindow             time.Duration

	// Reauthorization: the provider places a new hold for the same
	// payment (Service.Reauthorize). MaxReauthorizations caps them (PayPal:
	// 1; 0 allows none); ReauthorizeAfter and ReauthorizeBefore bound
	// when, counted from the original authorization (PayPal: days 4 to
	// 29): a reauthorization earlier than AuthorizedAt+ReauthorizeAfter
	// is refused with ErrReauthorizationWindow (it may succeed later), one
	// later than AuthorizedAt+ReauthorizeBefore with
	// ErrReauthorizationNotAllowed. A zero bound is open. A provider that
	// extends a hold at once (Stripe's extended authorization) needs no
	// reauthorization: Authorize takes the longer ExpiresAt.
	MaxReauthorizations int
	ReauthorizeAfter    time.Duration
	ReauthorizeBefore   time.Duration
	// ReauthorizationValidity, if positive, is when a reauthorized hold
	// lapses when Reauthorize names no ExpiresAt, counted from the
	// original authorization: for PayPal (29 days) a reauthorization
	// renews the honor period, not the 29-day authorization period. Zero
	// counts the policy's Validity from the reauthorization.
	ReauthorizationValidity time.Duration

	// ExpiringSoon, if positive, is how long before ExpiresAt the
	// scheduler emits authorization.expiring_soon, once per hold (again
	// for the new hold of a reauthorization, and for the new expiry of an
	// approved amount change that moved it). A hold placed with no more
	// than ExpiringSoon left gets no notice. Zero is off.
	ExpiringSoon time.Duration

	minCapture     map[Currency]int64
	overcaptureMax map[Currency]int64 // OvercaptureMax in minor units, once registered
}

// withDefaults returns p with the documented defaults filled in.
func (p Policy) withDefaults() Policy {
	if p.DefaultCaptureMode == "" {
		p.DefaultCaptureMode = CaptureManual
	}
	if p.DefaultCaptureDelay == 0 {
		p.DefaultCaptureDelay = 5 * time.Minute
	}
	if p.ExpiryAction == "" {
		p.ExpiryAction = ExpiryRelease
	}
	if p.ScheduleMargin == 0 {
		p.ScheduleMargin = 5 * time.Minute
	}
	switch {
	case p.CaptureRetries == 0:
		p.CaptureRetries = 3
	case p.CaptureRetries < 0:
		p.CaptureRetries = 0
	}
	if p.CaptureRetryBackoff == 0 {
		p.CaptureRetryBackoff = time.Minute
	}
	return p
}

// clone returns a copy of p that shares no map or slice with it.
func (p Policy) clone() Policy {
	p.MinCapture = maps.Clone(p.MinCapture)
	p.CaptureModes = slices.Clone(p.CaptureModes)
	p.CancelModes = slices.Clone(p.CancelModes)
	p.AmountChangeTypes = slices.Clone(p.AmountChangeTypes)
	p.OvercaptureMax = maps.Clone(p.OvercaptureMax)
	return p
}

func (p *Policy) allowsCapture(m CaptureMode) bool {
	return len(p.CaptureModes) == 0 || slices.Contains(p.CaptureModes, m)
}

func (p *Policy) allowsCancel(m CancelMode) bool {
	return len(p.CancelModes) == 0 || slices.Contains(p.CancelModes, m)
}

// Validate reports whether the policy is consistent, with an error wrapping
// ErrInvalidPolicy that says what is wrong.
func (p *Policy) Validate() error {
	_, err := p.compile()
	return err
}

func (p *Policy) compile() (map[Currency]int64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("authcapture: policy %q: %s: %w", p.Name, fmt.Sprintf(format, args...), ErrInvalidPolicy)
	}
	if err := checkToken("policy name", p.Name, MaxIDLen); err != nil {
		return nil, bad("name: %v", err)
	}
	if p.MaxCaptures < 0 {
		return nil, bad("MaxCaptures %d is negative", p.MaxCaptures)
	}
	if !p.MultipleCaptures && p.MaxCaptures > 1 {
		return nil, bad("MaxCaptures %d without MultipleCaptures", p.MaxCaptures)
	}
	if p.Validity <= 0 {
		return nil, bad("Validity must be positive")
	}
	if p.Validity > maxValidity {
		return nil, bad("Validity %s exceeds %s", p.Validity, maxValidity)
	}
	for _, m := range p.CaptureModes {
		if m != CaptureManual && m != CaptureAutomatic && m != CaptureDelayed {
			return nil, bad("unknown capture mode %q", m)
		}
	}
	if m := p.DefaultCaptureMode; m != "" {
		if m != CaptureManual && m != CaptureAutomatic && m != CaptureDelayed {
			return nil, bad("unknown default capture mode %q", m)
		}
		if !p.allowsCapture(m) {
			return nil, bad("default capture mode %s is not among CaptureModes", m)
		}
	}
	for _, m := range p.CancelModes {
		if m != CancelManual && m != CancelDelayed {
			return nil, bad("unknown cancel mode %q", m)
		}
	}
	if p.ExpiryAction != "" && p.ExpiryAction != ExpiryRelease && p.ExpiryAction != ExpiryCapture {
		return nil, bad("unknown expiry action %q", p.ExpiryAction)
	}
	if p.DefaultCaptureDelay < 0 || p.ScheduleMargin < 0 || p.CaptureRetryBackoff < 0 {
		return nil, bad("negative schedule durations")
	}
	if p.ScheduleMargin >= p.Validity {
		return nil, bad("ScheduleMargin %s must be shorter than Validity %s", p.ScheduleMargin, p.Validity)
	}
	if _, err := p.overcaptureMaxima(); err != nil {
		return nil, bad("%v", err)
	}
	if p.RefundWindow < 0 {
		return nil, bad("RefundWindow %s is negative", p.RefundWindow)
	}
	if p.RefundWindow > maxRefundWindow {
		return nil, bad("RefundWindow %s exceeds %s", p.RefundWindow, maxRefundWindow)
	}
	changes := p.IncrementalAuthorization || p.DecrementalAuthorization
	if p.MaxAmountChangeAttempts < 0 {
		return nil, bad("MaxAmountChangeAttempts %d is negative", p.MaxAmountChangeAttempts)
	}
	if p.AmountChangeValidity < 0 || p.AmountChangeValidity > maxValidity {
		return nil, bad("AmountChangeValidity %s must be between 0 and %s", p.AmountChangeValidity, maxValidity)
	}
	for _, t := range p.AmountChangeTypes {
		if t != AuthorizationFinal && t != AuthorizationEstimated {
			return nil, bad("unknown authorization type %q in AmountChangeTypes", t)
		}
	}
	if !changes && (len(p.AmountChangeTypes) > 0 || p.AmountChangeBeforeCapture || p.MaxAmountChangeAttempts > 0 ||
		p.AmountChangeValidity > 0) {
		return nil, bad("amount-change settings without IncrementalAuthorization or DecrementalAuthorization")
	}
	if err := p.checkReauthorization(); err != nil {
		return nil, bad("%v", err)
	}
	mins := make(map[Currency]int64, len(p.MinCapture))
	for c, s := range p.MinCapture {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return nil, bad("MinCapture[%s] %q is not a decimal", c, s)
		}
		m, err := c.ToMinor(d)
		if err != nil {
			return nil, bad("MinCapture[%s]: %v", c, err)
		}
		mins[c] = m
	}
	return mins, nil
}

// maxOvercapturePercent bounds Policy.OvercapturePercent: no provider
// lets a capture take more than twice the hold.
const maxOvercapturePercent = 100

// overcaptureMaxima checks the overcapture knobs and returns
// OvercaptureMax in minor units.
func (p *Policy) overcaptureMaxima() (map[Currency]int64, error) {
	if p.OvercapturePercent < 0 || p.OvercapturePercent > maxOvercapturePercent {
		return nil, fmt.Errorf("OvercapturePercent %d is outside 0 to %d", p.OvercapturePercent, maxOvercapturePercent)
	}
	if p.OvercapturePercent == 0 && len(p.OvercaptureMax) > 0 {
		return nil, fmt.Errorf("OvercaptureMax without OvercapturePercent")
	}
	maxima := make(map[Currency]int64, len(p.OvercaptureMax))
	for c, s := range p.OvercaptureMax {
		d, err := decimal.NewFromString(s)
		if err != nil {
			return nil, fmt.Errorf("OvercaptureMax[%s] %q is not a decimal", c, truncate(s, 32))
		}
		if d.Sign() <= 0 {
			return nil, fmt.Errorf("OvercaptureMax[%s] %s is not positive", c, amountString(d))
		}
		m, err := c.ToMinor(d)
		if err != nil {
			return nil, fmt.Errorf("OvercaptureMax[%s]: %v", c, err)
		}
		maxima[c] = m
	}
	return maxima, nil
}

// OvercaptureAllowance returns how much more than authorized minor units
// of currency c a single final capture may take under p: OvercapturePercent
// percent of authorized, rounded down to the minor unit, and at most
// OvercaptureMax[c] when c is listed. It is exact for every amount (no
// overflow, no floating point); 0 when the policy allows no overcapture or
// its knobs are invalid.
func (p *Policy) OvercaptureAllowance(c Currency, authorized int64) int64 {
	if p.OvercapturePercent <= 0 || p.OvercapturePercent > maxOvercapturePercent || authorized <= 0 {
		return 0
	}
	// floor(authorized * percent / 100), in big integers: authorized may
	// be up to MaxMinorUnits, and no product may wrap.
	n := new(big.Int).Mul(big.NewInt(authorized), big.NewInt(int64(p.OvercapturePercent)))
	n.Quo(n, big.NewInt(100))
	allowance := n.Int64() // <= authorized: percent is at most 100
	maxima := p.overcaptureMax
	if maxima == nil && len(p.OvercaptureMax) > 0 { // a policy not registered with a Service
		var err error
		if maxima, err = p.overcaptureMaxima(); err != nil {
			return 0
		}
	}
	if most, ok := maxima[c]; ok {
		allowance = min(allowance, most)
	}
	return allowance
}

// maxRefundWindow bounds a policy's RefundWindow: card networks take
// disputes for at most about 540 days, and no provider documents refunds
// later than that; ten years leaves room and keeps times far from overflow.
const maxRefundWindow = 10 * 365 * day

// checkReauthorization checks the reauthorization and expiring-soon knobs.
func (p *Policy) checkReauthorization() error {
	switch {
	case p.MaxReauthorizations < 0:
		return fmt.Errorf("MaxReauthorizations %d is negative", p.MaxReauthorizations)
	case p.ReauthorizeAfter < 0 || p.ReauthorizeBefore < 0:
		return fmt.Errorf("negative reauthorization bounds")
	case p.MaxReauthorizations == 0 && (p.ReauthorizeAfter != 0 || p.ReauthorizeBefore != 0):
		return fmt.Errorf("reauthorization bounds without MaxReauthorizations")
	case p.ReauthorizeBefore != 0 && p.ReauthorizeBefore <= p.ReauthorizeAfter:
		return fmt.Errorf("ReauthorizeBefore %s must be later than ReauthorizeAfter %s", p.ReauthorizeBefore, p.ReauthorizeAfter)
	case p.ReauthorizeAfter > maxValidity || p.ReauthorizeBefore > maxValidity:
		return fmt.Errorf("reauthorization bounds beyond %s", maxValidity)
	case p.ReauthorizationValidity < 0 || p.ReauthorizationValidity > maxValidity:
		return fmt.Errorf("ReauthorizationValidity %s must be between 0 and %s", p.ReauthorizationValidity, maxValidity)
	case p.ReauthorizationValidity > 0 && p.MaxReauthorizations == 0:
		return fmt.Errorf("ReauthorizationValidity without MaxReauthorizations")
	case p.ReauthorizationValidity > 0 && p.ReauthorizationValidity <= p.ReauthorizeAfter:
		return fmt.Errorf("ReauthorizationValidity %s must be later than ReauthorizeAfter %s", p.ReauthorizationValidity, p.ReauthorizeAfter)
	case p.ExpiringSoon < 0:
		return fmt.Errorf("ExpiringSoon %s is negative", p.ExpiringSoon)
	case p.ExpiringSoon >= p.Validity:
		return fmt.Errorf("ExpiringSoon %s must be shorter than Validity %s", p.ExpiringSoon, p.Validity)
	}
	return nil
}

// maxValidity bounds a hold's validity; card networks allow at most about a
// month, and some providers' extended holds 31 days.
const maxValidity = 90 * 24 * time.Hour

// finalFor resolves a capture's final flag from the call and the policy.
func (p *Policy) finalFor(requested *bool) bool {
	if !p.MultipleCaptures {
		return true
	}
	if requested != nil {
		return *requested
	}
	return p.FinalByDefault
}

const day = 24 * time.Hour

// The presets. Each is tested against its provider's documented behaviour
// (policy_test.go). DefaultPolicy is used when a create names none.
//
// The knobs for amounts that move after approval (amount changes,
// overcapture, refunds, reauthorization, expiring soon) are set from each
// provider's documentation; a provider whose documentation offers a
// feature to no merchant by default (Stripe's overcapture, an IC+ pricing
// feature limited by card brand and merchant category) has it off: a
// merchant who has it registers a policy of its own.
var (
	// DefaultPolicy: multiple partial captures and partial voids, non-final
	// by default, a 7-day hold. It names no provider, and leaves the knobs
	// for amounts that move after approval at their zero values.
	DefaultPolicy = Policy{Name: "default", MultipleCaptures: true, PartialCapture: true,
		PartialVoid: true, Validity: 7 * day}
	// Waffo: manual capture of all or part of the hold, once, or a void;
	// holds last 7 days. A payment whose capture_method is not set is
	// captured at once, so a create that names no mode is automatic. Its
	// documentation describes no incremental or decremental
	// authorization, overcapture, reauthorization or refund window: all
	// off, refunds without a window.
	Waffo = Policy{Name: "waffo", PartialCapture: true, FinalByDefault: true, Validity: 7 * day,
		DefaultCaptureMode: CaptureAutomatic}
	// PayMongo: a single capture, partial allowed, the remainder released;
	// the hold is voided automatically after 7 days. A payment intent
	// whose capture_type is not set is captured at once, so a create that
	// names no mode is automatic. Paid card payments may be refunded, in
	// full or in parts, within 60 days of the payment. No amount changes,
	// overcapture or reauthorization.
	PayMongo = Policy{Name: "paymongo", PartialCapture: true, FinalByDefault: true, Validity: 7 * day,
		DefaultCaptureMode: CaptureAutomatic, RefundWindow: 60 * day}
	// Afterpay (Cash App Afterpay): multiple captures and partial voids,
	// a minimum capture of 1.00, a 13-day hold whose remainder is voided
	// at expiry, captures idempotent by request ID. Captured amounts may
	// be refunded, in full or in parts, within 120 days, also while part
	// of the hold is still open (deferred payment flow). No amount
	// changes, overcapture or reauthorization.
	Afterpay = Policy{Name: "afterpay", MultipleCaptures: true, PartialCapture: true,
		PartialVoid: true, Validity: 13 * day,
		MinCapture:               map[Currency]string{"USD": "1.00", "CAD": "1.00", "AUD": "1.00", "NZD": "1.00", "GBP": "1.00", "EUR": "1.00"},
		RefundBeforeFinalCapture: true, RefundWindow: 120 * day}
	// Payrails: partial and multiple captures, non-final by default, a
	// 7-day hold; capture modes instant (automatic), manual and delayed
	// (captureDelay, default PT5M), cancel modes manual and delayed; an
	// explicit capture or cancel overrides the schedule. Its documentation
	// describes no amount changes, overcapture, reauthorization or refund
	// window: off, refunds without a window, also before the final
	// capture.
	Payrails = Policy{Name: "payrails", MultipleCaptures: true, PartialCapture: true,
		Validity: 7 * day, DefaultCaptureDelay: 5 * time.Minute,
		CaptureModes:             []CaptureMode{CaptureAutomatic, CaptureManual, CaptureDelayed},
		CancelModes:              []CancelMode{CancelManual, CancelDelayed},
		RefundBeforeFinalCapture: true}
	// NjiaPay: no partial and no multiple capture: one capture of the whole
	// authorized amount, or a void; a 7-day hold. Capture modes immediate
	// (automatic) and prefer_delay (manual), where a payment method that
	// cannot hold falls back to immediate capture and the mode used is
	// recorded. Its documentation describes no amount changes,
	// overcapture, reauthorization or refund window: off, refunds without
	// a window.
	NjiaPay = Policy{Name: "njiapay", Validity: 7 * day, FinalByDefault: true,
		CaptureModes: []CaptureMode{CaptureAutomatic, CaptureManual}, CancelModes: []CancelMode{CancelManual},
		ImmediateCaptureFallback: true}
	// Stripe: partial captures, final by default, up to 50 captures when
	// the call asks for a non-final one (multicapture), no partial void
	// (a cancel releases everything), a 7-day hold. A payment intent whose
	// capture_method is not set is captured automatically, so a create
	// that names no mode is automatic. Incremental authorization: only on
	// a payment that asked for it at confirmation (an estimated
	// authorization), only before any capture, at most 10 attempts per
	// payment, declines included; it does not extend the hold. No
	// decremental authorization (capture less instead). Overcapture is an
	// IC+ feature limited by card brand, country and merchant category:
	// off. Refunds of captured money at any time, also before the final
	// capture of a multicapture payment. Extended authorization (up to 30
	// days) is chosen at confirmation, not a reauthorization: none.
	Stripe = Policy{Name: "stripe", MultipleCaptures: true, MaxCaptures: 50, PartialCapture: true,
		FinalByDefault: true, Validity: 7 * day, DefaultCaptureMode: CaptureAutomatic,
		IncrementalAuthorization: true, AmountChangeTypes: []AuthorizationType{AuthorizationEstimated},
		AmountChangeBeforeCapture: true, MaxAmountChangeAttempts: 10,
		RefundBeforeFinalCapture: true}
	// Adyen: multiple partial captures, the remainder staying authorized
	// until cancelled or expired, partial cancels through amount
	// adjustment, a 28-day hold. A merchant account captures immediately
	// unless set otherwise, so a create that names no mode is automatic.
	// Authorization adjustment, up or down, on pre-authorisations
	// (estimated), at any time for what is not yet captured, without an
	// attempt cap; an approved adjustment renews the hold (taken here as
	// the preset's 28 days from the adjustment). No overcapture, no
	// reauthorization (an adjustment extends the hold instead). Refunds of
	// captured money, in full or in parts, also before the final capture.
	Adyen = Policy{Name: "adyen", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 28 * day, DefaultCaptureMode: CaptureAutomatic,
		IncrementalAuthorization: true, DecrementalAuthorization: true,
		AmountChangeTypes: []AuthorizationType{AuthorizationEstimated}, AmountChangeValidity: 28 * day,
		RefundBeforeFinalCapture: true}
	// PayPal (Payments v2, intent AUTHORIZE): an authorization holds the
	// funds for 29 days (Validity); the first 3 days are its honor period,
	// in which PayPal recommends capturing and after which a capture may
	// fail for risk or funds (the ledger does not change at the end of the
	// honor period: Validity is the 29 days the hold lasts). Partial
	// captures, several of them, each naming final_capture (non-final
	// unless it says so); a void releases the whole authorization. A
	// single final capture may take up to 115 percent of the authorized
	// amount, and at most 75 USD more: 100.00 authorized may be captured
	// up to 115.00, 1000.00 up to 1075.00. Reauthorization once, from 4
	// days after the authorization (past the honor period) to day 29; it
	// renews the honor period, not the authorization period, so the hold
	// still lapses 29 days after the authorization. No
	// incremental or decremental authorization. Captures may be refunded,
	// in full or in parts, within 180 days, also while the authorization
	// is still open.
	PayPal = Policy{Name: "paypal", MultipleCaptures: true, PartialCapture: true, Validity: 29 * day,
		OvercapturePercent: 15, OvercaptureMax: map[Currency]string{"USD": "75.00"},
		MaxReauthorizations: 1, ReauthorizeAfter: 4 * day, ReauthorizeBefore: 29 * day, ReauthorizationValidity: 29 * day,
		RefundBeforeFinalCapture: true, RefundWindow: 180 * day}
)

// Presets returns the built-in policies, DefaultPolicy first.
func Presets() []Policy {
	return []Policy{DefaultPolicy, Waffo, PayMongo, Afterpay, Payrails, NjiaPay, Stripe, Adyen, PayPal}
}
