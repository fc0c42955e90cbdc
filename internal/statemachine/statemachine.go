// Package statemachine holds the Service's state-machine test: random
// sequences of every command, checked step by step against the reference
// model of the rules (package model). It tests the Service's rules, on
// whichever store each store package's tests give it.
package statemachine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
)

// Run drives random sequences of every command against a Service on stores
// from newStore and checks each outcome against the model: accepted or
// rejected (with which sentinel), the ledgers, the status, idempotent
// replays, key reuse with other parameters, two-phase captures and voids,
// refunds (direct and two-phase, of one capture or the total, before and
// after the authorization closes, within and after a refund window),
// direct captures and voids drawing from voids in flight, the scheduler
// (with a provider that releases all, part or nothing of a scheduled void,
// refuses it, does not answer, or captures first), approvals whose hold is
// shorter than the schedules or already lapsed, clock jumps past expiry,
// and overcaptures (direct and two-phase, confirmed, failed, refused)
// under policies that allow them, and all of these together under a
// policy that turns every feature on (everything): refunds before and
// after amount changes, reauthorizations and expiry, amount changes and
// reauthorizations while refunds are pending, notices for new holds. After every step it checks the invariants of the aggregate
// (model.Check and model.CheckStep).
func Run(t *testing.T, newStore func(t *testing.T) authcapture.Store) {
	t.Helper()
	rapid.Check(t, func(rt *rapid.T) {
		m := newMachine(rt, newStore(t))
		// Most runs start from an approved hold, where most rules live.
		if rapid.Float64Range(0, 1).Draw(rt, "start") < 0.9 {
			m.create(rt)
			if rapid.Float64Range(0, 1).Draw(rt, "startApproved") < 0.85 {
				m.authorize(rt)
				// Under the policy that turns everything on, many start
				// with a refund of a first capture, settled or in flight,
				// and some with a new hold: the amount changes, expiry,
				// notices and commands that follow meet them.
				if m.policy.Name == everything.Name {
					if rapid.Float64Range(0, 1).Draw(rt, "startRefunding") < 0.5 {
						m.startRefunding(rt)
					}
					if rapid.Float64Range(0, 1).Draw(rt, "startReauthorizing") < 0.3 {
						m.clock.Advance(rapid.SampledFrom([]time.Duration{time.Hour, 2 * time.Hour, 50 * time.Hour}).Draw(rt, "reauthAfter"))
						m.reauthorize(rt)
					}
				}
				// Under the policies that change the hold, many start
				// with a change, approved, declined or in flight.
				if p := m.policy; p.IncrementalAuthorization || p.DecrementalAuthorization {
					for range rapid.IntRange(0, 3).Draw(rt, "startChanges") {
						m.changeAmount(rt, rapid.Bool().Draw(rt, "startChangeTwoPhase"))
					}
				}
				// Some meet the delayed cancel at once, while all is open:
				// its void may stay at the provider while commands come.
				if !m.m.CancelAt.IsZero() && rapid.Float64Range(0, 1).Draw(rt, "startCancel") < 0.35 {
					m.sweepDue(rt)
				}
				// Many start with actions in flight, where the rules of
				// two-phase captures and voids live.
				if rapid.Float64Range(0, 1).Draw(rt, "startCapturing") < 0.5 {
					m.startCapturing(rt)
				}
				if rapid.Float64Range(0, 1).Draw(rt, "startVoiding") < 0.3 {
					m.beginVoid(rt)
				}
			}
		}
		rt.Repeat(m.actions())
	})
}

// startCapturing begins a capture. Often it begins one of part of the
// hold and then lets go of the hold while it is in flight, and settles it
// (releaseThenSettle): a sequence rare for a random walk to string
// together.
func (sm *machine) startCapturing(t *rapid.T) {
	open := sm.m.Open()
	if allowance := sm.allowance(); allowance > 0 && open == sm.m.Authorized && rapid.Float64Range(0, 1).Draw(t, "startOvercapture") < 0.4 {
		// An overcapture of the whole hold, often two-phase: it may be
		// confirmed, fail (the hold comes back whole) or outlive the hold.
		sm.captureOf(model.Capture{TwoPhase: rapid.Float64Range(0, 1).Draw(t, "overcaptureTwoPhase") < 0.7,
			Amount: sm.m.Authorized + rapid.Int64Range(1, allowance).Draw(t, "overcapture"), Final: authcapture.Bool(true)})
		return
	}
	if open < 2 || rapid.Float64Range(0, 1).Draw(t, "startReleasing") >= 0.7 {
		sm.capture(t, true)
		return
	}
	c := model.Capture{TwoPhase: true, Amount: rapid.Int64Range(1, open-1).Draw(t, "inFlight")}
	if rapid.Bool().Draw(t, "inFlightFinal") {
		c.Final = authcapture.Bool(true)
	}
	sm.captureOf(c)
	if len(sm.m.Pendings) > 0 {
		sm.releaseThenSettle(t)
	}
}

// startRefunding captures part of the hold and refunds part or all of it,
// directly or two-phase: the hold stays open to amount changes,
// reauthorization and expiry while the refund is pending or made.
func (sm *machine) startRefunding(t *rapid.T) {
	open := sm.m.Open()
	if open < 2 {
		return
	}
	sm.captureOf(model.Capture{Amount: rapid.Int64Range(1, open-1).Draw(t, "refundedCapture"), Final: authcapture.Bool(false)})
	for range rapid.IntRange(1, 2).Draw(t, "startRefunds") {
		sm.refund(t, rapid.Float64Range(0, 1).Draw(t, "startRefundTwoPhase") < 0.7)
	}
}

var policies = []authcapture.Policy{
	authcapture.DefaultPolicy, authcapture.PayMongo, authcapture.Afterpay,
	authcapture.NjiaPay, authcapture.Stripe, authcapture.Adyen, authcapture.Waffo, clamping,
	authcapture.PayPal, overcapturing, refundsEarly,
	reauthorizing, reauthorizing,
}

// everything turns on every knob that may be combined, so that the
// features meet: overcapture, incremental and decremental authorization of
// estimated holds (at most 8 attempts, each approved change keeping the
// hold 4 days from then), refunds before the final capture within a day
// and a half, two reauthorizations from an hour to four days after
// approval, an expiring-soon notice twelve hours ahead, partial voids,
// multiple captures and schedules clamped to the three-day hold.
var everything = authcapture.Policy{Name: "everything", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 3 * 24 * time.Hour, ScheduleMargin: 10 * time.Minute, ClampSchedules: true,
	OvercapturePercent: 20, OvercaptureMax: map[authcapture.Currency]string{"USD": "1.00", "JPY": "100", "BHD": "0.500"},
	IncrementalAuthorization: true, DecrementalAuthorization: true,
	AmountChangeTypes:       []authcapture.AuthorizationType{authcapture.AuthorizationEstimated},
	MaxAmountChangeAttempts: 8, AmountChangeValidity: 4 * 24 * time.Hour,
	RefundBeforeFinalCapture: true, RefundWindow: 36 * time.Hour,
	MaxReauthorizations: 2, ReauthorizeAfter: time.Hour, ReauthorizeBefore: 4 * 24 * time.Hour, ExpiringSoon: 12 * time.Hour}

// overcapturing is a policy with an overcapture allowance (20 percent, at
// most 1.00 USD, JPY 100 or BHD 0.500) and partial voids: a void or a
// capture before the overcapture leaves the hold no longer whole.
var overcapturing = authcapture.Policy{Name: "overcapturing", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, OvercapturePercent: 20,
	OvercaptureMax: map[authcapture.Currency]string{"USD": "1.00", "JPY": "100", "BHD": "0.500"}}

// allowance is the overcapture allowance of the authorization's policy.
func (sm *machine) allowance() int64 { return model.Allowance(sm.policy, sm.currency, sm.m.Authorized) }

// refundsEarly is Adyen's preset with refunds allowed while the
// authorization is still open to capture, within a day and a half of the
// capture refunded (or the latest).
var refundsEarly = func() authcapture.Policy {
	p := authcapture.Adyen
	p.Name, p.RefundBeforeFinalCapture, p.RefundWindow = "refunds_early", true, 36*time.Hour
	return p
}()

// changing are the policies under which the hold's amount may change; a
// share of the runs draws from them.
var changing = []authcapture.Policy{adjusting, incrementing}

// adjusting changes the hold up or down, for estimated authorizations, at
// any time for what is not captured, at most 6 times, each approved change
// keeping the hold 3 days from then (Adyen-like), and warns twelve hours
// before expiry, so that the notice follows the expiry a change moves. Its
// overcapture allowance (20 percent) races overcaptures with changes.
var adjusting = authcapture.Policy{Name: "adjusting", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true,
	AmountChangeTypes:       []authcapture.AuthorizationType{authcapture.AuthorizationEstimated},
	MaxAmountChangeAttempts: 6, AmountChangeValidity: 3 * 24 * time.Hour, ExpiringSoon: 12 * time.Hour, OvercapturePercent: 20}

// incrementing raises the hold only, before the first capture, at most 10
// times (Stripe-like).
var incrementing = authcapture.Policy{Name: "incrementing", MultipleCaptures: true, MaxCaptures: 50, PartialCapture: true,
	FinalByDefault: true, Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, AmountChangeBeforeCapture: true,
	MaxAmountChangeAttempts: 10}

// clamping is a policy whose schedules are clamped to a short hold rather
// than dropped: its validity is shorter than the longest delays drawn.
var clamping = authcapture.Policy{Name: "clamping", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 2 * 24 * time.Hour, ScheduleMargin: 10 * time.Minute, ClampSchedules: true}

// reauthorizing is a policy that reauthorizes twice, from an hour to four
// days after approval, clamps schedules to its three-day hold, and warns
// twelve hours before expiry.
var reauthorizing = authcapture.Policy{Name: "reauthorizing", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 3 * 24 * time.Hour, ScheduleMargin: 10 * time.Minute, ClampSchedules: true,
	MaxReauthorizations: 2, ReauthorizeAfter: time.Hour, ReauthorizeBefore: 4 * 24 * time.Hour, ExpiringSoon: 12 * time.Hour}

// command is one accepted command, kept so it can be replayed verbatim.
type command struct {
	op     string
	key    string
	run    func() (*authcapture.Result, error)
	result *authcapture.Result
}

type machine struct {
	t        *rapid.T
	ctx      context.Context
	clock    *clocktest.Clock
	svc      *authcapture.Service
	policy   authcapture.Policy
	merchant string
	id       string
	currency authcapture.Currency
	m        model.Ledger
	issued   []*command
	n        int
	prev     *authcapture.Authorization
	calls    []voidCall // the scheduler's calls of the executor's Void in this sweep
}

func newMachine(t *rapid.T, store authcapture.Store) *machine {
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(store, &authcapture.Options{Clock: clock, Policies: []authcapture.Policy{clamping, overcapturing, refundsEarly, adjusting, incrementing, reauthorizing, everything}})
	if err != nil {
		t.Fatal(err)
	}
	sm := &machine{
		t: t, ctx: context.Background(), clock: clock, svc: svc,
		policy:   rapid.SampledFrom(policies).Draw(t, "policy"),
		merchant: "m_" + rapid.StringMatching(`[a-z]{6}`).Draw(t, "merchant"),
		currency: authcapture.Currency(rapid.SampledFrom([]string{"USD", "USD", "JPY", "BHD"}).Draw(t, "currency")),
	}
	if rapid.Float64Range(0, 1).Draw(t, "changingPolicy") < 0.35 {
		sm.policy = rapid.SampledFrom(changing).Draw(t, "changing")
	}
	if rapid.Float64Range(0, 1).Draw(t, "everythingPolicy") < 0.3 {
		sm.policy = everything
	}
	sm.id = "auth_" + rapid.StringMatching(`[a-z0-9]{8}`).Draw(t, "id")
	return sm
}

func (sm *machine) created() bool { return sm.m.Phase != "" }

func (sm *machine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"create":        sm.rarely(0.2, sm.create),
		"markPending":   sm.rarely(0.5, sm.markPending),
		"authorize":     sm.authorize,
		"decline":       sm.rarely(0.1, sm.decline),
		"cancel":        sm.rarely(0.1, sm.cancel),
		"capture":       func(t *rapid.T) { sm.capture(t, false) },
		"captureMore":   func(t *rapid.T) { sm.capture(t, false) },
		"begin":         func(t *rapid.T) { sm.capture(t, true) },
		"beginMore":     func(t *rapid.T) { sm.capture(t, true) },
		"confirm":       func(t *rapid.T) { sm.settle(t, true) },
		"release":       sm.releaseThenSettle,
		"fail":          func(t *rapid.T) { sm.settle(t, false) },
		"void":          sm.void,
		"voidMore":      sm.void,
		"beginVoid":     sm.beginVoid,
		"beginVoid2":    sm.beginVoid,
		"confirmVoid":   func(t *rapid.T) { sm.settleVoid(t, true) },
		"failVoid":      func(t *rapid.T) { sm.settleVoid(t, false) },
		"advance":       sm.rarely(0.5, sm.advance),
		"sweep":         sm.sweep,
		"sweepDue":      sm.sweepDue,
		"sweepDue2":     sm.sweepDue,
		"refund":        func(t *rapid.T) { sm.refund(t, false) },
		"beginRefund":   func(t *rapid.T) { sm.refund(t, true) },
		"confirmRefund": func(t *rapid.T) { sm.settleRefund(t, true) },
		"failRefund":    func(t *rapid.T) { sm.settleRefund(t, false) },
		"change":        func(t *rapid.T) { sm.changeAmount(t, false) },
		"beginChange":   func(t *rapid.T) { sm.changeAmount(t, true) },
		"change2":       func(t *rapid.T) { sm.changeAmount(t, false) },
		"confirmChg":    func(t *rapid.T) { sm.settleChange(t, true) },
		"declineChg":    func(t *rapid.T) { sm.settleChange(t, false) },
		"reauthorize":   sm.reauthorize,
		"get":           sm.get,
		"replay":        sm.replay,
		"reuseKey":      sm.reuseKey,
		"":              sm.check,
	}
}

// rarely runs action with probability p once the authorization exists, so
// that runs reach the interesting states instead of ending early.
func (sm *machine) rarely(p float64, action func(*rapid.T)) func(*rapid.T) {
	return func(t *rapid.T) {
		if sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > p {
			t.Skip("not this time")
		}
		action(t)
	}
}

// minor draws an amount in minor units, biased to the interesting edges.
func (sm *machine) minor(t *rapid.T, label string) int64 {
	open, held := sm.m.Open(), sm.m.PendingVoid
	choices := []int64{1, 99, 100, 101, 5000, open, open + 1, open - 1, sm.m.Authorized,
		held, open + held, open + held + 1, open + held + sm.m.Pending, open + held + sm.m.Pending + 1}
	gens := []*rapid.Generator[int64]{rapid.SampledFrom(choices), rapid.Int64Range(1, max(2, open/2))}
	if allowance := sm.allowance(); allowance > 0 { // beyond the hold: within the allowance, at its edge, past it
		gens = append(gens, rapid.SampledFrom([]int64{sm.m.Authorized + 1, sm.m.Authorized + allowance,
			sm.m.Authorized + allowance + 1}), rapid.Int64Range(sm.m.Authorized+1, sm.m.Authorized+allowance))
	}
	if held > 0 { // beyond what is open, into what voids in flight reserve
		gens = append(gens, rapid.Int64Range(open+1, open+held), rapid.Int64Range(open+1, open+held))
	}
	v := rapid.OneOf(gens...).Draw(t, label)
	if v <= 0 {
		v = 1
	}
	return v
}

func (sm *machine) dec(minor int64) decimal.Decimal { return sm.currency.FromMinor(minor) }

func (sm *machine) key() string {
	sm.n++
	return fmt.Sprintf("k%d", sm.n)
}

// issue runs a new command and checks it against the model's verdict:
// the ledger after it, or the sentinel to reject it with. verdict gets the
// command's result (nil if it failed).
func (sm *machine) issue(op, desc, key string, run func() (*authcapture.Result, error),
	verdict func(res *authcapture.Result) (model.Ledger, error)) {
	sm.m = sm.m.Expire(sm.clock.Now())
	res, err := run()
	next, want := verdict(res)
	if want != nil {
		if !errors.Is(err, want) {
			sm.t.Fatalf("%s %s: want %v, got %v (model status %s open %d)", op, desc, want, err, sm.m.Status(), sm.m.Open())
		}
		var typed *authcapture.Error
		if !errors.As(err, &typed) {
			sm.t.Fatalf("%s: error %v is not an *authcapture.Error", op, err)
		}
		return
	}
	if err != nil {
		sm.t.Fatalf("%s %s: want success, got %v (model status %s open %d)", op, desc, err, sm.m.Status(), sm.m.Open())
	}
	if res.Replayed {
		sm.t.Fatalf("%s: a new key was reported as a replay", op)
	}
	sm.m = next
	sm.issued = append(sm.issued, &command{op: op, key: key, run: run, result: res})
	sm.compare(res.Authorization)
}

func (sm *machine) create(t *rapid.T) {
	amount := rapid.OneOf(rapid.Int64Range(1, 100), rapid.Int64Range(1000, 100000), rapid.Just[int64](10000)).Draw(t, "requested")
	req := authcapture.CreateRequest{MerchantID: sm.merchant, ID: sm.id, Currency: string(sm.currency),
		Amount: sm.dec(amount), Policy: sm.policy.Name, IdempotencyKey: sm.key(),
		CaptureMode: authcapture.CaptureManual, // the model holds; some presets default to automatic
		AuthorizationType: rapid.SampledFrom([]authcapture.AuthorizationType{"", authcapture.AuthorizationFinal,
			authcapture.AuthorizationEstimated, authcapture.AuthorizationEstimated, authcapture.AuthorizationEstimated,
			authcapture.AuthorizationEstimated}).Draw(t, "authorizationType")}
	if len(sm.policy.CaptureModes) == 0 { // the policy allows schedules
		// Cancels in most (they are two-phase voids), first among the
		// draws, which lean to small numbers.
		kind := rapid.IntRange(0, 5).Draw(t, "schedule")
		if kind == 1 || kind == 3 {
			req.CaptureMode = authcapture.CaptureDelayed
			delays := []time.Duration{time.Minute, time.Hour, 24 * time.Hour}
			if sm.policy.ClampSchedules { // longer than the hold: clamped
				delays = append(delays, 96*time.Hour)
			}
			req.CaptureDelay = rapid.SampledFrom(delays).Draw(t, "captureDelay")
		}
		if kind <= 2 {
			req.CancelMode = authcapture.CancelDelayed
			req.CancelDelay = req.CaptureDelay + rapid.SampledFrom([]time.Duration{time.Minute, time.Hour, 48 * time.Hour}).Draw(t, "cancelDelay")
		}
	}
	sm.issue("create", fmt.Sprint(amount, req.CaptureDelay, req.CancelDelay), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Create(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) {
			n, err := sm.m.Create(sm.policy, sm.currency, amount, req.CaptureDelay, req.CancelDelay)
			if err == nil {
				n.AuthType = req.AuthorizationType
			}
			return n, err
		})
}

func (sm *machine) markPending(*rapid.T) {
	req := authcapture.MarkPendingRequest{MerchantID: sm.merchant, ID: sm.id, IdempotencyKey: sm.key()}
	sm.issue("markPending", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.MarkPending(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.MarkPending() })
}

func (sm *machine) authorize(t *rapid.T) {
	amount := rapid.OneOf(rapid.Just(sm.m.Requested), rapid.Int64Range(1, sm.m.Requested+10)).Draw(t, "approved")
	if amount <= 0 {
		amount = 1
	}
	var explicit time.Time
	now := sm.clock.Now()
	switch rapid.IntRange(0, 7).Draw(t, "explicitExpiry") {
	case 0, 1, 2: // the policy's validity
	case 3, 4: // hours: shorter than the longer schedules
		explicit = now.Add(time.Duration(rapid.IntRange(1, 72).Draw(t, "hours")) * time.Hour)
	case 5: // minutes: within the schedule margin, or just past it
		explicit = now.Add(time.Duration(rapid.IntRange(1, 90).Draw(t, "minutes")) * time.Minute)
	case 6: // already past: the provider's answer came late
		explicit = now.Add(-rapid.SampledFrom([]time.Duration{0, time.Nanosecond, time.Minute, 30 * time.Hour}).Draw(t, "late"))
	default: // too far ahead, or just within bounds
		explicit = now.Add(model.MaxValidity + rapid.SampledFrom([]time.Duration{0, time.Nanosecond, time.Hour}).Draw(t, "far"))
	}
	req := authcapture.AuthorizeRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(amount),
		ExpiresAt: explicit, IdempotencyKey: sm.key()}
	sm.issue("authorize", fmt.Sprint(amount, explicit), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Authorize(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) {
			return sm.m.Authorize(amount, explicit, sm.clock.Now())
		})
}

func (sm *machine) reauthorize(t *rapid.T) {
	var explicit time.Time
	now := sm.clock.Now()
	switch rapid.IntRange(0, 6).Draw(t, "reauthExpiry") {
	case 0, 1, 2: // the policy's validity
	case 3: // hours: shorter or longer than the schedules
		explicit = now.Add(time.Duration(rapid.IntRange(1, 120).Draw(t, "reauthHours")) * time.Hour)
	case 4: // minutes: within the schedule margin, or just past it
		explicit = now.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "reauthMinutes")) * time.Minute)
	case 5: // now or already past
		explicit = now.Add(-rapid.SampledFrom([]time.Duration{0, time.Nanosecond, time.Hour}).Draw(t, "reauthPast"))
	default: // too far ahead, or just within bounds
		explicit = now.Add(model.MaxValidity + rapid.SampledFrom([]time.Duration{0, time.Nanosecond}).Draw(t, "reauthFar"))
	}
	req := authcapture.ReauthorizeRequest{MerchantID: sm.merchant, ID: sm.id, ExpiresAt: explicit, IdempotencyKey: sm.key()}
	if rapid.Bool().Draw(t, "reauthRef") {
		req.ProviderRef = "pr_" + req.IdempotencyKey
	}
	sm.issue("reauthorize", fmt.Sprint(explicit), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Reauthorize(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.Reauthorize(explicit, sm.clock.Now()) })
}

func (sm *machine) decline(*rapid.T) {
	req := authcapture.DeclineRequest{MerchantID: sm.merchant, ID: sm.id, Reason: "insufficient_funds", IdempotencyKey: sm.key()}
	sm.issue("decline", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Decline(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.Decline() })
}

func (sm *machine) cancel(*rapid.T) { sm.cancelNow() }

func (sm *machine) cancelNow() {
	req := authcapture.CancelRequest{MerchantID: sm.merchant, ID: sm.id, Reason: authcapture.ReasonAbandoned, IdempotencyKey: sm.key()}
	sm.issue("cancel", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Cancel(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.Cancel() })
}

func (sm *machine) capture(t *rapid.T, twoPhase bool) {
	c := model.Capture{TwoPhase: twoPhase}
	c.All = rapid.Float64Range(0, 1).Draw(t, "all") < 0.15
	if !c.All {
		c.Amount = sm.minor(t, "capture")
	}
	c.TooPrecise = !c.All && rapid.Float64Range(0, 1).Draw(t, "precise") < 0.05
	switch rapid.IntRange(0, 2).Draw(t, "final") {
	case 1:
		c.Final = authcapture.Bool(true)
	case 2:
		c.Final = authcapture.Bool(false)
	}
	sm.captureOf(c)
}

// captureOf issues the capture c: direct, or begun if c.TwoPhase.
func (sm *machine) captureOf(c model.Capture) {
	twoPhase := c.TwoPhase
	d := sm.dec(c.Amount)
	if c.TooPrecise {
		d = d.Add(decimal.New(1, int32(-sm.currency.Exponent()-1)))
	}
	op := "capture"
	if twoPhase {
		op = "begin"
	}
	req := authcapture.CaptureRequest{MerchantID: sm.merchant, ID: sm.id, Amount: d, All: c.All, Final: c.Final,
		IdempotencyKey: sm.key()}
	run := func() (*authcapture.Result, error) {
		if twoPhase {
			return sm.svc.BeginCapture(sm.ctx, req)
		}
		return sm.svc.Capture(sm.ctx, req)
	}
	sm.issue(op, fmt.Sprint(d, c.All, c.Final), req.IdempotencyKey, run, func(res *authcapture.Result) (model.Ledger, error) {
		if res != nil {
			c.ID = res.Entry.CaptureID // the Service names the capture
		}
		c.Now = sm.clock.Now()
		return sm.m.Capture(c)
	})
}

func (sm *machine) settle(t *rapid.T, confirm bool) {
	if len(sm.m.Pendings) == 0 && sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > 0.1 {
		t.Skip("no pending capture")
	}
	id := "cap_none"
	switch k := rapid.Float64Range(0, 1).Draw(t, "known"); {
	case len(sm.m.Pendings) > 0 && k < 0.9:
		id = sm.m.Pendings[rapid.IntRange(0, len(sm.m.Pendings)-1).Draw(t, "which")].ID
	case len(sm.m.Settled) > 0 && k < 0.95: // settled already, or captured directly
		id = rapid.SampledFrom(sm.m.Settled).Draw(t, "settled")
	}
	sm.settleCapture(id, confirm)
}

// settleCapture confirms or fails the capture id.
func (sm *machine) settleCapture(id string, confirm bool) {
	req := authcapture.SettleCaptureRequest{MerchantID: sm.merchant, ID: sm.id, CaptureID: id, IdempotencyKey: sm.key()}
	op := "fail"
	run := func() (*authcapture.Result, error) { return sm.svc.FailCapture(sm.ctx, req) }
	if confirm {
		op = "confirm"
		run = func() (*authcapture.Result, error) { return sm.svc.ConfirmCapture(sm.ctx, req) }
	}
	sm.issue(op, id, req.IdempotencyKey, run,
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.SettleAt(id, confirm, sm.clock.Now()) })
}

// drawVoid draws a void: of all that is open (three times in ten), or
// of an amount drawn under the label what.
func (sm *machine) drawVoid(t *rapid.T, what string) (amount int64, all bool) {
	if rapid.Float64Range(0, 1).Draw(t, "all") < 0.3 {
		return 0, true
	}
	return sm.minor(t, what), false
}

func (sm *machine) void(t *rapid.T) { sm.voidOf(sm.drawVoid(t, "void")) }

// voidOf records a direct void of amount, or of all that is open.
func (sm *machine) voidOf(amount int64, all bool) {
	req := authcapture.VoidRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(amount), All: all,
		Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: sm.key()}
	sm.issue("void", fmt.Sprint(amount, all), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Void(sm.ctx, req) },
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.Void(amount, all) })
}

func (sm *machine) beginVoid(t *rapid.T) { sm.beginVoidOf(sm.drawVoid(t, "beginVoid")) }

// beginVoidOf begins a two-phase void of amount, or of all that is open.
func (sm *machine) beginVoidOf(amount int64, all bool) {
	req := authcapture.VoidRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(amount), All: all,
		Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: sm.key()}
	sm.issue("beginVoid", fmt.Sprint(amount, all), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.BeginVoid(sm.ctx, req) },
		func(res *authcapture.Result) (model.Ledger, error) {
			var id string
			if res != nil {
				id = res.Entry.VoidID // the Service names the void
			}
			return sm.m.BeginVoid(id, amount, all)
		})
}

// releaseThenSettle lets go of the whole hold while a capture is in flight
// (a direct void of everything, a cancel, or a two-phase void of
// everything, confirmed) and then settles that capture, mostly as failed:
// what a failed capture gives back is released too, and a confirmed final
// capture does not rename the release. Or it begins a void of everything,
// fails the capture (its amount returns to open) and confirms the void
// with up to what is open too.
func (sm *machine) releaseThenSettle(t *rapid.T) {
	if len(sm.m.Pendings) == 0 {
		t.Skip("no pending capture")
	}
	capture := func() string { return sm.m.Pendings[rapid.IntRange(0, len(sm.m.Pendings)-1).Draw(t, "which")].ID }
	confirm := rapid.Float64Range(0, 1).Draw(t, "confirmCapture") < 0.2
	switch rapid.IntRange(0, 4).Draw(t, "release") {
	case 0:
		sm.voidOf(0, true)
	case 1:
		sm.cancelNow()
	case 2:
		sm.beginVoidOf(0, true)
		if n := len(sm.m.Voids); n > 0 {
			sm.settleVoidID(sm.m.Voids[n-1].ID, true, nil)
		}
	default: // the capture fails while the void of everything is in flight
		sm.beginVoidOf(0, true)
		sm.settleCapture(capture(), false)
		if n := len(sm.m.Voids); n > 0 {
			pv := sm.m.Voids[n-1]
			r := sm.released(t, pv)
			sm.settleVoidID(pv.ID, true, &r)
		}
		return
	}
	if len(sm.m.Pendings) > 0 {
		sm.settleCapture(capture(), confirm)
	}
}

// settleVoid confirms (with what the provider released: all it still
// reserves, or a drawn amount) or fails a pending void.
func (sm *machine) settleVoid(t *rapid.T, confirm bool) {
	if len(sm.m.Voids) == 0 && sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > 0.1 {
		t.Skip("no pending void")
	}
	pv := model.PendingVoid{ID: "void_none"}
	if len(sm.m.Voids) > 0 && rapid.Float64Range(0, 1).Draw(t, "known") < 0.9 {
		pv = sm.m.Voids[rapid.IntRange(0, len(sm.m.Voids)-1).Draw(t, "which")]
	}
	var released *int64
	if confirm && rapid.Bool().Draw(t, "releasedGiven") {
		r := sm.released(t, pv)
		released = &r
	}
	sm.settleVoidID(pv.ID, confirm, released)
}

// released draws what the provider reports a confirmed void released:
// part or all of what it reserves, one unit more, and for a void of the
// whole hold up to what is open too (a capture failed meanwhile).
func (sm *machine) released(t *rapid.T, pv model.PendingVoid) int64 {
	reserved := pv.Amount
	gens := []*rapid.Generator[int64]{rapid.Int64Range(0, reserved), rapid.Just(reserved), rapid.Just(reserved + 1)}
	if open := sm.m.Open(); pv.Whole && open > 0 {
		gens = append(gens, rapid.Just(reserved+open), rapid.Just(reserved+open), rapid.Int64Range(reserved, reserved+open),
			rapid.Just(reserved+open+1))
	}
	return rapid.OneOf(gens...).Draw(t, "released")
}

// settleVoidID confirms (with released, nil for all it reserves) or fails
// the void id.
func (sm *machine) settleVoidID(id string, confirm bool, released *int64) {
	req := authcapture.SettleVoidRequest{MerchantID: sm.merchant, ID: sm.id, VoidID: id, IdempotencyKey: sm.key()}
	if released != nil {
		d := sm.dec(*released)
		req.Released = &d
	}
	op, desc := "failVoid", id
	run := func() (*authcapture.Result, error) { return sm.svc.FailVoid(sm.ctx, req) }
	if confirm {
		op = "confirmVoid"
		if released != nil {
			desc += fmt.Sprint(" released ", *released)
		}
		run = func() (*authcapture.Result, error) { return sm.svc.ConfirmVoid(sm.ctx, req) }
	}
	sm.issue(op, desc, req.IdempotencyKey, run, func(*authcapture.Result) (model.Ledger, error) {
		if confirm {
			return sm.m.ConfirmVoid(id, released)
		}
		return sm.m.FailVoid(id)
	})
}

// changeAmount asks for an amount change, as a new total or a delta, up
// or down by amounts at the edges of what is open and in flight: recorded
// as approved or declined, or begun.
func (sm *machine) changeAmount(t *rapid.T, twoPhase bool) {
	open, held := sm.m.Open(), sm.m.Pending+sm.m.PendingVoid
	edges := rapid.SampledFrom([]int64{1, 100, 5000, -1, -(open - 1), -(open - 1), -open, -open, -(open + held - 1), -(open + held), 0})
	delta := rapid.OneOf(edges, edges, rapid.Int64Range(-open, open)).Draw(t, "delta")
	c := model.AmountChange{TwoPhase: twoPhase, ByTotal: rapid.Bool().Draw(t, "byTotal"), Delta: delta,
		Total: sm.m.Authorized + delta, TooPrecise: rapid.IntRange(0, 19).Draw(t, "precise") == 19}
	if !twoPhase {
		c.Declined = rapid.IntRange(0, 9).Draw(t, "declined") >= 7
	}
	req := authcapture.AmountChangeRequest{MerchantID: sm.merchant, ID: sm.id, Declined: c.Declined, IdempotencyKey: sm.key()}
	if c.ByTotal {
		if c.Total <= 0 {
			return // no such total
		}
		req.Total = sm.dec(c.Total)
	} else {
		if delta == 0 {
			return // a zero delta is refused before the rules
		}
		req.Delta = sm.dec(delta)
	}
	if c.TooPrecise {
		tiny := decimal.New(1, int32(-sm.currency.Exponent()-1))
		req.Total, req.Delta = req.Total.Add(tiny), req.Delta.Add(tiny)
		if !c.ByTotal {
			req.Total = decimal.Zero
		} else {
			req.Delta = decimal.Zero
		}
	}
	if c.Declined {
		req.Reason = "insufficient_funds"
	}
	op := "change"
	run := func() (*authcapture.Result, error) { return sm.svc.ChangeAmount(sm.ctx, req) }
	if twoPhase {
		op = "beginChange"
		run = func() (*authcapture.Result, error) { return sm.svc.BeginAmountChange(sm.ctx, req) }
	}
	sm.issue(op, fmt.Sprint(req.Total, req.Delta, c.Declined), req.IdempotencyKey, run, func(res *authcapture.Result) (model.Ledger, error) {
		if res != nil {
			c.ID = res.Entry.ChangeID // the Service names the change
		}
		return sm.m.ChangeAmount(c, sm.clock.Now())
	})
}

// settleChange confirms or declines the pending amount change (or one
// that is not pending).
func (sm *machine) settleChange(t *rapid.T, confirm bool) {
	if sm.m.Change.ID == "" && sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > 0.1 {
		t.Skip("no pending change")
	}
	id := sm.m.Change.ID
	if id == "" || rapid.Float64Range(0, 1).Draw(t, "known") > 0.95 {
		id = "chg_none"
	}
	req := authcapture.SettleAmountChangeRequest{MerchantID: sm.merchant, ID: sm.id, ChangeID: id, IdempotencyKey: sm.key()}
	op := "declineChange"
	run := func() (*authcapture.Result, error) { return sm.svc.DeclineAmountChange(sm.ctx, req) }
	if confirm {
		op = "confirmChange"
		run = func() (*authcapture.Result, error) { return sm.svc.ConfirmAmountChange(sm.ctx, req) }
	}
	sm.issue(op, id, req.IdempotencyKey, run, func(*authcapture.Result) (model.Ledger, error) {
		return sm.m.SettleChange(id, confirm, sm.clock.Now())
	})
}

func (sm *machine) advance(t *rapid.T) {
	var d time.Duration
	switch k := rapid.IntRange(0, 9).Draw(t, "advance"); {
	case k <= 6:
		d = rapid.SampledFrom([]time.Duration{time.Nanosecond, time.Second, time.Minute, time.Hour}).Draw(t, "small")
	case k == 7 && sm.m.Phase == authcapture.PhaseApproved && !sm.m.HoldExpired:
		// Land exactly on, or one nanosecond before, the expiry instant.
		d = max(0, sm.m.ExpiresAt.Sub(sm.clock.Now())-time.Duration(rapid.IntRange(0, 1).Draw(t, "before")))
	default:
		d = rapid.SampledFrom([]time.Duration{24 * time.Hour, 8 * 24 * time.Hour, 30 * 24 * time.Hour}).Draw(t, "large")
	}
	sm.clock.Advance(d)
}

func (sm *machine) get(t *rapid.T) {
	a, err := sm.svc.Get(sm.ctx, sm.merchant, sm.id)
	if !sm.created() {
		if !errors.Is(err, authcapture.ErrNotFound) {
			t.Fatalf("get before create: want ErrNotFound, got %v", err)
		}
		return
	}
	sm.m = sm.m.Expire(sm.clock.Now())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sm.compare(a)
	// Another merchant never sees it.
	if _, err := sm.svc.Get(sm.ctx, sm.merchant+"x", sm.id); !errors.Is(err, authcapture.ErrNotFound) {
		t.Fatalf("another merchant's get: want ErrNotFound, got %v", err)
	}
}

// lease is the scheduler's default lease.
const lease = time.Minute

// executor accepts every scheduled capture; its voids are the machine's
// provider (machine.providerVoid).
type executor struct {
	sm *machine
	t  *rapid.T
}

func (executor) Capture(context.Context, authcapture.CaptureTask) error { return nil }
func (e executor) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	return e.sm.providerVoid(e.t, task)
}

// voidCall is one call of the executor's Void: the task, the provider's
// answer, and the capture the host recorded meanwhile, if any.
type voidCall struct {
	task     authcapture.VoidTask
	answer   model.VoidAnswer
	captured int64 // the amount of the direct capture recorded during the call; 0 for none
	result   *authcapture.Result
	err      error
	key      string
	run      func() (*authcapture.Result, error)
}

var errNoAnswer = errors.New("the provider did not answer")

// providerVoid is the provider's answer to a scheduled void: it releases
// all it was asked to, or less, or refuses, or does not answer, or it
// captured part of the hold first (the host records that capture with
// Service.Capture while the void is pending) and releases the rest.
func (sm *machine) providerVoid(t *rapid.T, task authcapture.VoidTask) (int64, error) {
	c := voidCall{task: task, answer: model.VoidAnswer{Released: task.Amount}}
	defer func() { sm.calls = append(sm.calls, c) }()
	switch rapid.IntRange(0, 6).Draw(t, "provider") {
	case 1:
		if task.Amount > 0 {
			c.answer.Released = rapid.Int64Range(0, task.Amount-1).Draw(t, "released")
		}
	case 2:
		c.answer = model.VoidAnswer{Declined: true}
		return 0, fmt.Errorf("provider: %w", authcapture.ErrProviderDeclined)
	case 3, 6: // the void stays pending: commands meet a scheduled void in flight
		c.answer = model.VoidAnswer{Unknown: true}
		return 0, errNoAnswer
	case 4:
		if task.Amount == 0 {
			break
		}
		c.captured = rapid.OneOf(rapid.Just(task.Amount), rapid.Int64Range(1, task.Amount)).Draw(t, "capturedFirst")
		req := authcapture.CaptureRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(c.captured), IdempotencyKey: sm.key()}
		c.key = req.IdempotencyKey
		c.run = func() (*authcapture.Result, error) { return sm.svc.Capture(sm.ctx, req) }
		c.result, c.err = c.run()
		if c.err == nil {
			c.answer.Released = task.Amount - c.captured
		}
	}
	return c.answer.Released, nil
}

// provider answers the model's scheduled void as the executor answered the
// scheduler's, and checks that the two asked the same.
func (sm *machine) provider(t *rapid.T) model.Provider {
	return func(l model.Ledger, id string, amount int64) (model.Ledger, model.VoidAnswer) {
		if len(sm.calls) == 0 {
			t.Fatalf("sweep: the model voids %d under %s, the scheduler called no executor", amount, id)
		}
		c := sm.calls[0]
		sm.calls = sm.calls[1:]
		if c.task.VoidID != id || c.task.Amount != amount || c.task.Key != authcapture.ProviderKey(sm.merchant, sm.id, id) {
			t.Fatalf("sweep: the executor was asked %+v, the model voids %d under %s", c.task, amount, id)
		}
		if c.run == nil {
			return l, c.answer
		}
		var capID string
		if c.result != nil {
			capID = c.result.Entry.CaptureID
		}
		next, want := l.Capture(model.Capture{Amount: c.captured, ID: capID, Now: sm.clock.Now()})
		switch {
		case want != nil && !errors.Is(c.err, want):
			t.Fatalf("capture of %d during the scheduled void: want %v, got %v", c.captured, want, c.err)
		case want == nil && c.err != nil:
			t.Fatalf("capture of %d during the scheduled void: want success, got %v", c.captured, c.err)
		case want == nil:
			if got := model.ViewOf(c.result.Authorization); got != next.View() {
				t.Fatalf("capture during the scheduled void: the Service reports\n\t%+v\nthe model\n\t%+v", got, next.View())
			}
			sm.issued = append(sm.issued, &command{op: "captureDuringVoid", key: c.key, run: c.run, result: c.result})
			l = next
		}
		return l, c.answer
	}
}

// sweepDue moves the clock to the scheduled capture or cancel that is due
// next, if any, and runs the scheduler.
func (sm *machine) sweepDue(t *rapid.T) {
	var due time.Time
	for _, at := range []time.Time{sm.m.CaptureAt, sm.m.CancelAt, sm.m.NoticeAt} {
		if !at.IsZero() && (due.IsZero() || at.Before(due)) {
			due = at
		}
	}
	if due.IsZero() {
		t.Skip("nothing scheduled")
	}
	if d := due.Sub(sm.clock.Now()); d > 0 {
		sm.clock.Advance(d)
	}
	sm.sweep(t)
}

// sweep runs the scheduler once; the model predicts what it applies.
func (sm *machine) sweep(t *rapid.T) {
	// One call at a time: the executor records its calls for the model.
	s, err := authcapture.NewScheduler(sm.svc, executor{sm: sm, t: t}, &authcapture.SchedulerOptions{Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	sm.calls = nil
	res, err := s.RunDue(sm.ctx, 10)
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	var swept model.Swept
	notices := sm.m.Notices
	sm.m, swept = sm.m.Sweep(sm.clock.Now(), lease, sm.provider(t))
	if got, want := res.Notified, sm.m.Notices-notices; got != want {
		t.Fatalf("sweep: %d expiring-soon notices, the model sends %d (%+v)", got, want, res)
	}
	if len(sm.calls) != 0 {
		t.Fatalf("sweep: the scheduler called the executor with %+v, the model voids nothing", sm.calls[0].task)
	}
	switch {
	case swept == model.SweptExpiry && res.Expired != 1:
		t.Fatalf("sweep: want one expiry, got %+v", res)
	case swept == model.SweptCapture && res.Captured != 1:
		t.Fatalf("sweep: want one capture, got %+v", res)
	case swept == model.SweptCancel && res.Canceled != 1:
		t.Fatalf("sweep: want one cancel, got %+v", res)
	case swept == model.SweptCancelFailed && res.CancelFailed != 1:
		t.Fatalf("sweep: want one refused cancel, got %+v", res)
	case swept == model.SweptUnknown && res.Unknown != 1:
		t.Fatalf("sweep: want one unknown outcome, got %+v", res)
	case swept == model.SweptNotDue && res.Due != 0:
		t.Fatalf("sweep: nothing is due in the model, the scheduler found %+v", res)
	}
}

// replay re-issues an accepted command verbatim: it must return the
// original entry, marked Replayed, and change nothing.
func (sm *machine) replay(t *rapid.T) {
	if len(sm.issued) == 0 {
		t.Skip("nothing to replay")
	}
	cmd := rapid.SampledFrom(sm.issued).Draw(t, "replay")
	sm.m = sm.m.Expire(sm.clock.Now())
	res, err := cmd.run()
	if err != nil {
		t.Fatalf("replay of %s %s: %v", cmd.op, cmd.key, err)
	}
	if !res.Replayed {
		t.Fatalf("replay of %s %s: not marked Replayed", cmd.op, cmd.key)
	}
	if res.Entry != cmd.result.Entry {
		t.Fatalf("replay of %s: entry %+v, original %+v", cmd.op, res.Entry, cmd.result.Entry)
	}
	sm.compare(res.Authorization)
}

// reuseKey sends a different command under an accepted command's key.
func (sm *machine) reuseKey(t *rapid.T) {
	if len(sm.issued) == 0 {
		t.Skip("no key to reuse")
	}
	cmd := rapid.SampledFrom(sm.issued).Draw(t, "reuse")
	sm.m = sm.m.Expire(sm.clock.Now())
	_, err := sm.svc.Void(sm.ctx, authcapture.VoidRequest{MerchantID: sm.merchant, ID: sm.id,
		Amount: sm.dec(7), IdempotencyKey: cmd.key})
	if !errors.Is(err, authcapture.ErrIdempotencyMismatch) {
		t.Fatalf("void under %s's key %s: want ErrIdempotencyMismatch, got %v", cmd.op, cmd.key, err)
	}
}

// compare checks a returned authorization against the model.
func (sm *machine) compare(a *authcapture.Authorization) {
	if got, want := model.ViewOf(a), sm.m.View(); got != want {
		sm.t.Fatalf("the Service reports\n\t%+v\nthe model\n\t%+v", got, want)
	}
	if got := model.Of(a, sm.policy).Voids; !slices.Equal(got, sm.m.Voids) {
		sm.t.Fatalf("the Service lists pending voids %+v, the model %+v", got, sm.m.Voids)
	}
	if got, want := model.Of(a, sm.policy).PendingRefunds(), sm.m.PendingRefunds(); !slices.Equal(got, want) {
		sm.t.Fatalf("the Service lists pending refunds %+v, the model %+v", got, want)
	}
	if !a.ExpiresAt.Equal(sm.m.ExpiresAt) {
		sm.t.Fatalf("the Service's hold expires at %s, the model's at %s", a.ExpiresAt, sm.m.ExpiresAt)
	}
}

// check runs after every action: the authorization is what the model
// says, and the invariants hold, on it and since the last check.
func (sm *machine) check(t *rapid.T) {
	if !sm.created() {
		return
	}
	a, err := sm.svc.Get(sm.ctx, sm.merchant, sm.id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sm.m = sm.m.Expire(sm.clock.Now())
	sm.compare(a)
	log, err := sm.svc.Log(sm.ctx, sm.merchant, sm.id)
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	if err := model.Check(a, log); err != nil {
		t.Fatal(err)
	}
	if err := model.CheckPolicy(a, sm.policy); err != nil {
		t.Fatal(err)
	}
	if sm.prev != nil {
		if err := model.CheckStep(sm.prev, a); err != nil {
			t.Fatal(err)
		}
	}
	sm.prev = a
}

// refund records (or begins) a refund of a drawn amount, against the total
// or naming a capture: one that succeeded, is pending, failed, or none.
func (sm *machine) refund(t *rapid.T, twoPhase bool) {
	if sm.m.Captured == 0 && sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > 0.1 {
		t.Skip("nothing captured")
	}
	left := sm.m.Refundable()
	r := model.Refund{TwoPhase: twoPhase}
	r.Amount = rapid.SampledFrom([]int64{1, 99, left, left + 1, left + sm.m.PendingRefund, left + sm.m.PendingRefund + 1,
		max(1, left/2), sm.m.Captured, 1 + left/3}).Draw(t, "refund")
	if r.Amount <= 0 {
		r.Amount = 1
	}
	r.TooPrecise = rapid.Float64Range(0, 1).Draw(t, "precise") < 0.03
	switch k := rapid.IntRange(0, 9).Draw(t, "refundOf"); {
	case k < 4: // the total
	case k < 8 && len(sm.m.Succeeded) > 0:
		c := sm.m.Succeeded[rapid.IntRange(0, len(sm.m.Succeeded)-1).Draw(t, "capture")]
		r.CaptureID = c.ID
		if rapid.Bool().Draw(t, "wholeCapture") {
			r.Amount = c.Amount
		}
	case k == 8 && len(sm.m.Pendings) > 0:
		r.CaptureID = sm.m.Pendings[0].ID
	case len(sm.m.Settled) > 0 && rapid.Bool().Draw(t, "settledCapture"):
		r.CaptureID = rapid.SampledFrom(sm.m.Settled).Draw(t, "settled")
	default:
		r.CaptureID = rapid.SampledFrom([]string{"cap_none", "cap_999", "sched_1"}).Draw(t, "unknownCapture")
	}
	d := sm.dec(r.Amount)
	if r.TooPrecise {
		d = d.Add(decimal.New(1, int32(-sm.currency.Exponent()-1)))
	}
	req := authcapture.RefundRequest{MerchantID: sm.merchant, ID: sm.id, Amount: d, CaptureID: r.CaptureID,
		Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: sm.key()}
	op := "refund"
	run := func() (*authcapture.Result, error) { return sm.svc.Refund(sm.ctx, req) }
	if twoPhase {
		op = "beginRefund"
		run = func() (*authcapture.Result, error) { return sm.svc.BeginRefund(sm.ctx, req) }
	}
	sm.issue(op, fmt.Sprint(d, " of ", r.CaptureID), req.IdempotencyKey, run, func(res *authcapture.Result) (model.Ledger, error) {
		if res != nil {
			r.ID = res.Entry.RefundID // the Service names the refund
		}
		r.Now = sm.clock.Now()
		return sm.m.Refund(r)
	})
}

// settleRefund confirms or fails a pending refund (or one that is not).
func (sm *machine) settleRefund(t *rapid.T, confirm bool) {
	pending := sm.m.PendingRefunds()
	if len(pending) == 0 && sm.created() && rapid.Float64Range(0, 1).Draw(t, "rarely") > 0.1 {
		t.Skip("no pending refund")
	}
	id := "refund_none"
	switch k := rapid.Float64Range(0, 1).Draw(t, "known"); {
	case len(pending) > 0 && k < 0.9:
		id = pending[rapid.IntRange(0, len(pending)-1).Draw(t, "which")].ID
	case len(sm.m.Refunds) > 0 && k < 0.95: // settled already, or recorded directly
		id = sm.m.Refunds[rapid.IntRange(0, len(sm.m.Refunds)-1).Draw(t, "settledRefund")].ID
	}
	req := authcapture.SettleRefundRequest{MerchantID: sm.merchant, ID: sm.id, RefundID: id, IdempotencyKey: sm.key()}
	op := "failRefund"
	run := func() (*authcapture.Result, error) { return sm.svc.FailRefund(sm.ctx, req) }
	if confirm {
		op = "confirmRefund"
		run = func() (*authcapture.Result, error) { return sm.svc.ConfirmRefund(sm.ctx, req) }
	}
	sm.issue(op, id, req.IdempotencyKey, run,
		func(*authcapture.Result) (model.Ledger, error) { return sm.m.SettleRefund(id, confirm) })
}
