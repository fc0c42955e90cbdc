package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
)

// RunStateMachine drives random sequences of every command against a Service
// on stores from newStore and checks each outcome against a small reference
// model of the rules: accepted or rejected (with which sentinel), the
// ledgers, the status, idempotent replays, key reuse with other parameters,
// two-phase captures and clock jumps past expiry. After every step it
// asserts the invariants of the aggregate (see CheckInvariants).
func RunStateMachine(t *testing.T, newStore func(t *testing.T) authcapture.Store) {
	t.Helper()
	rapid.Check(t, func(rt *rapid.T) {
		m := newSMMachine(rt, newStore(t))
		// Most runs start from an approved hold, where most rules live.
		if rapid.Float64Range(0, 1).Draw(rt, "start") < 0.9 {
			m.create(rt)
			if rapid.Float64Range(0, 1).Draw(rt, "startApproved") < 0.85 {
				m.authorize(rt)
			}
		}
		rt.Repeat(m.actions())
	})
}

var smPolicies = []authcapture.Policy{
	authcapture.DefaultPolicy, authcapture.PayMongo, authcapture.Afterpay,
	authcapture.NjiaPay, authcapture.Stripe, authcapture.Adyen, authcapture.Waffo,
}

// smCommand is one issued command, kept so it can be replayed verbatim.
type smCommand struct {
	op     string
	desc   string // equal desc means equal parameters
	key    string
	run    func() (*authcapture.Result, error)
	result *authcapture.Result
}

type smPending struct {
	id     string
	amount int64
	final  bool
}

// smModel is the reference: the rules of DESIGN section 4 in a few lines.
type smModel struct {
	phase                                                     authcapture.Phase
	requested, authorized, captured, pending, voided, expired int64
	captures                                                  int
	pendings                                                  []smPending
	expiresAt                                                 time.Time
	holdExpired                                               bool
	closeReason                                               authcapture.CloseReason
	version                                                   int64
	captureDelay, cancelDelay                                 time.Duration // schedules asked for at creation
	captureAt, cancelAt                                       time.Time     // scheduled actions due
}

// tidy clears the schedules of a closed authorization.
func (m *smModel) tidy() {
	if m.closed() {
		m.captureAt, m.cancelAt = time.Time{}, time.Time{}
	}
}

func (m *smModel) open() int64 {
	if m.phase != authcapture.PhaseApproved {
		return 0
	}
	return m.authorized - m.pending - m.captured - m.voided - m.expired
}

func (m *smModel) closed() bool {
	switch m.phase {
	case authcapture.PhaseDeclined, authcapture.PhaseCanceled:
		return true
	case authcapture.PhaseApproved:
		return m.open() == 0 && m.pending == 0
	}
	return false
}

func (m *smModel) status() authcapture.Status {
	switch m.phase {
	case authcapture.PhaseCreated:
		return authcapture.StatusRequiresAuthorization
	case authcapture.PhasePending:
		return authcapture.StatusPending
	case authcapture.PhaseDeclined:
		return authcapture.StatusDeclined
	case authcapture.PhaseCanceled:
		return authcapture.StatusCanceled
	}
	if m.closed() {
		switch {
		case m.captured > 0:
			return authcapture.StatusCaptured
		case m.closeReason == authcapture.CloseExpired:
			return authcapture.StatusExpired
		}
		return authcapture.StatusVoided
	}
	if m.captured > 0 || m.pending > 0 {
		return authcapture.StatusPartiallyCaptured
	}
	return authcapture.StatusAuthorized
}

// close records the close reason if the command just closed it.
func (m *smModel) close(wasClosed bool, release authcapture.CloseReason) {
	if wasClosed || !m.closed() || m.phase != authcapture.PhaseApproved {
		return
	}
	switch {
	case m.captured == m.authorized:
		m.closeReason = authcapture.CloseFullyCaptured
	case release != "":
		m.closeReason = release
	case m.holdExpired:
		m.closeReason = authcapture.CloseExpired
	case m.captured > 0:
		m.closeReason = authcapture.CloseFullyCaptured
	default:
		m.closeReason = authcapture.CloseVoided
	}
}

func (m *smModel) applyExpiry(now time.Time) {
	if m.phase != authcapture.PhaseApproved || m.closed() || m.holdExpired || now.Before(m.expiresAt) {
		return
	}
	m.expired += m.open()
	m.holdExpired = true
	m.captureAt, m.cancelAt = time.Time{}, time.Time{}
	m.version++
	m.close(false, authcapture.CloseExpired)
	m.tidy()
}

type smMachine struct {
	t        *rapid.T
	ctx      context.Context
	clock    *clocktest.Clock
	svc      *authcapture.Service
	policy   authcapture.Policy
	merchant string
	id       string
	currency authcapture.Currency
	m        smModel
	created  bool
	keys     map[string]*smCommand // accepted commands by key
	issued   []*smCommand
	n        int
	prev     *authcapture.Authorization
}

func newSMMachine(t *rapid.T, store authcapture.Store) *smMachine {
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(store, &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	sm := &smMachine{
		t: t, ctx: context.Background(), clock: clock, svc: svc,
		policy:   rapid.SampledFrom(smPolicies).Draw(t, "policy"),
		merchant: "m_" + rapid.StringMatching(`[a-z]{6}`).Draw(t, "merchant"),
		currency: authcapture.Currency(rapid.SampledFrom([]string{"USD", "USD", "JPY", "BHD"}).Draw(t, "currency")),
		keys:     map[string]*smCommand{},
	}
	sm.id = "auth_" + rapid.StringMatching(`[a-z0-9]{8}`).Draw(t, "id")
	return sm
}

func (sm *smMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"create":      sm.rarely(0.2, sm.create),
		"markPending": sm.rarely(0.5, sm.markPending),
		"authorize":   sm.authorize,
		"decline":     sm.rarely(0.1, sm.decline),
		"cancel":      sm.rarely(0.1, sm.cancel),
		"capture":     func(t *rapid.T) { sm.capture(t, false) },
		"captureMore": func(t *rapid.T) { sm.capture(t, false) },
		"begin":       func(t *rapid.T) { sm.capture(t, true) },
		"beginMore":   func(t *rapid.T) { sm.capture(t, true) },
		"confirm":     func(t *rapid.T) { sm.settle(t, true) },
		"fail":        func(t *rapid.T) { sm.settle(t, false) },
		"void":        sm.void,
		"advance":     sm.rarely(0.5, sm.advance),
		"sweep":       sm.sweep,
		"get":         sm.get,
		"replay":      sm.replay,
		"reuseKey":    sm.reuseKey,
		"":            sm.check,
	}
}

// rarely runs action with probability p once the authorization exists, so
// that runs reach the interesting states instead of ending early.
func (sm *smMachine) rarely(p float64, action func(*rapid.T)) func(*rapid.T) {
	return func(t *rapid.T) {
		if sm.created && rapid.Float64Range(0, 1).Draw(t, "rarely") > p {
			t.Skip("not this time")
		}
		action(t)
	}
}

// minor draws an amount in minor units, biased to the interesting edges.
func (sm *smMachine) minor(t *rapid.T, label string) int64 {
	open := sm.m.open()
	choices := []int64{1, 99, 100, 101, 5000, open, open + 1, open - 1, sm.m.authorized}
	v := rapid.OneOf(rapid.SampledFrom(choices), rapid.Int64Range(1, max(2, open/2))).Draw(t, label)
	if v <= 0 {
		v = 1
	}
	return v
}

func (sm *smMachine) dec(minor int64) decimal.Decimal { return sm.currency.FromMinor(minor) }

func (sm *smMachine) key(t *rapid.T) string {
	sm.n++
	return fmt.Sprintf("k%d", sm.n)
}

// issue runs a new command; expect returns the model's verdict: nil to
// accept (and it then updates the model), or the sentinel to reject with.
func (sm *smMachine) issue(op, desc, key string, run func() (*authcapture.Result, error), expect func() error) {
	cmd := &smCommand{op: op, desc: desc, key: key, run: run}
	now := sm.clock.Now()
	if sm.created {
		sm.m.applyExpiry(now)
	}
	want := expect()
	res, err := run()
	if want != nil {
		if !errors.Is(err, want) {
			sm.t.Fatalf("%s %s: want %v, got %v (model status %s open %d)", op, desc, want, err, sm.m.status(), sm.m.open())
		}
		var typed *authcapture.Error
		if !errors.As(err, &typed) {
			sm.t.Fatalf("%s: error %v is not an *authcapture.Error", op, err)
		}
		return
	}
	if err != nil {
		sm.t.Fatalf("%s %s: want success, got %v (model status %s open %d)", op, desc, err, sm.m.status(), sm.m.open())
	}
	if res.Replayed {
		sm.t.Fatalf("%s: a new key was reported as a replay", op)
	}
	sm.m.version++
	sm.m.tidy()
	cmd.result = res
	sm.keys[key] = cmd
	sm.issued = append(sm.issued, cmd)
	sm.compare(res.Authorization)
}

func (sm *smMachine) create(t *rapid.T) {
	amount := rapid.OneOf(rapid.Int64Range(1, 100), rapid.Int64Range(1000, 100000)).Draw(t, "requested")
	req := authcapture.CreateRequest{MerchantID: sm.merchant, ID: sm.id, Currency: string(sm.currency),
		Amount: sm.dec(amount), Policy: sm.policy.Name, IdempotencyKey: sm.key(t),
		CaptureMode: authcapture.CaptureManual} // the model holds; some presets default to automatic
	if len(sm.policy.CaptureModes) == 0 { // the policy allows schedules
		kind := rapid.IntRange(0, 3).Draw(t, "schedule")
		if kind&1 != 0 {
			req.CaptureMode = authcapture.CaptureDelayed
			req.CaptureDelay = rapid.SampledFrom([]time.Duration{time.Minute, time.Hour, 24 * time.Hour}).Draw(t, "captureDelay")
		}
		if kind&2 != 0 {
			req.CancelMode = authcapture.CancelDelayed
			req.CancelDelay = req.CaptureDelay + rapid.SampledFrom([]time.Duration{time.Hour, 48 * time.Hour}).Draw(t, "cancelDelay")
		}
	}
	sm.issue("create", fmt.Sprint(amount, req.CaptureDelay, req.CancelDelay), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Create(sm.ctx, req) },
		func() error {
			if sm.created {
				return authcapture.ErrAlreadyExists
			}
			sm.created = true
			sm.m = smModel{phase: authcapture.PhaseCreated, requested: amount,
				captureDelay: req.CaptureDelay, cancelDelay: req.CancelDelay}
			return nil
		})
}

func (sm *smMachine) preApproval(op authcapture.Command) error {
	if !sm.created {
		return authcapture.ErrNotFound
	}
	if !sm.m.status().Accepts(op) {
		return authcapture.ErrInvalidStatus
	}
	return nil
}

func (sm *smMachine) markPending(t *rapid.T) {
	req := authcapture.MarkPendingRequest{MerchantID: sm.merchant, ID: sm.id, IdempotencyKey: sm.key(t)}
	sm.issue("markPending", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.MarkPending(sm.ctx, req) },
		func() error {
			if err := sm.preApproval(authcapture.CmdMarkPending); err != nil {
				return err
			}
			sm.m.phase = authcapture.PhasePending
			return nil
		})
}

func (sm *smMachine) authorize(t *rapid.T) {
	amount := rapid.OneOf(rapid.Just(sm.m.requested), rapid.Int64Range(1, sm.m.requested+10)).Draw(t, "approved")
	if amount <= 0 {
		amount = 1
	}
	var explicit time.Time
	if rapid.Bool().Draw(t, "explicitExpiry") {
		explicit = sm.clock.Now().Add(time.Duration(rapid.IntRange(1, 72).Draw(t, "hours")) * time.Hour)
	}
	req := authcapture.AuthorizeRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(amount),
		ExpiresAt: explicit, IdempotencyKey: sm.key(t)}
	sm.issue("authorize", fmt.Sprint(amount, explicit), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Authorize(sm.ctx, req) },
		func() error {
			if err := sm.preApproval(authcapture.CmdAuthorize); err != nil {
				return err
			}
			if amount > sm.m.requested {
				return authcapture.ErrExceedsRequested
			}
			now := sm.clock.Now()
			expiresAt := explicit
			if explicit.IsZero() {
				expiresAt = now.Add(sm.policy.Validity)
			}
			latest := expiresAt.Add(-smScheduleMargin)
			var captureAt, cancelAt time.Time
			for _, d := range []struct {
				delay time.Duration
				at    *time.Time
			}{{sm.m.captureDelay, &captureAt}, {sm.m.cancelDelay, &cancelAt}} {
				if d.delay == 0 {
					continue
				}
				if *d.at = now.Add(d.delay); !latest.After(now) || d.at.After(latest) {
					return authcapture.ErrInvalidSchedule
				}
			}
			sm.m.phase = authcapture.PhaseApproved
			sm.m.authorized = amount
			sm.m.expiresAt = expiresAt
			sm.m.captureAt, sm.m.cancelAt = captureAt, cancelAt
			return nil
		})
}

func (sm *smMachine) decline(t *rapid.T) {
	req := authcapture.DeclineRequest{MerchantID: sm.merchant, ID: sm.id, Reason: "insufficient_funds", IdempotencyKey: sm.key(t)}
	sm.issue("decline", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Decline(sm.ctx, req) },
		func() error {
			if err := sm.preApproval(authcapture.CmdDecline); err != nil {
				return err
			}
			sm.m.phase = authcapture.PhaseDeclined
			sm.m.closeReason = authcapture.CloseDeclined
			return nil
		})
}

func (sm *smMachine) cancel(t *rapid.T) {
	req := authcapture.CancelRequest{MerchantID: sm.merchant, ID: sm.id, Reason: authcapture.ReasonAbandoned, IdempotencyKey: sm.key(t)}
	sm.issue("cancel", "", req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Cancel(sm.ctx, req) },
		func() error {
			if err := sm.preApproval(authcapture.CmdCancel); err != nil {
				return err
			}
			sm.m.phase = authcapture.PhaseCanceled
			sm.m.closeReason = authcapture.CloseCanceled
			return nil
		})
}

// openFor mirrors the service's checks before a capture or a void.
func (sm *smMachine) openFor(op authcapture.Command) error {
	if !sm.created {
		return authcapture.ErrNotFound
	}
	if sm.m.holdExpired {
		return authcapture.ErrExpired
	}
	if !sm.m.status().Accepts(op) {
		return authcapture.ErrInvalidStatus
	}
	return nil
}

func (sm *smMachine) capture(t *rapid.T, twoPhase bool) {
	all := rapid.Float64Range(0, 1).Draw(t, "all") < 0.15
	var amount int64
	if !all {
		amount = sm.minor(t, "capture")
	}
	tooPrecise := !all && rapid.Float64Range(0, 1).Draw(t, "precise") < 0.05
	var final *bool
	switch rapid.IntRange(0, 2).Draw(t, "final") {
	case 1:
		final = authcapture.Bool(true)
	case 2:
		final = authcapture.Bool(false)
	}
	d := sm.dec(amount)
	if tooPrecise {
		d = d.Add(decimal.New(1, int32(-sm.currency.Exponent()-1)))
	}
	op, cmd := "capture", authcapture.CmdCapture
	if twoPhase {
		op, cmd = "begin", authcapture.CmdBeginCapture
	}
	req := authcapture.CaptureRequest{MerchantID: sm.merchant, ID: sm.id, Amount: d, All: all, Final: final,
		IdempotencyKey: sm.key(t)}
	run := func() (*authcapture.Result, error) {
		if twoPhase {
			return sm.svc.BeginCapture(sm.ctx, req)
		}
		return sm.svc.Capture(sm.ctx, req)
	}
	defer func() {
		if c := sm.keys[req.IdempotencyKey]; twoPhase && c != nil && c.result != nil {
			if n := len(sm.m.pendings); n > 0 && sm.m.pendings[n-1].id == "" {
				sm.m.pendings[n-1].id = c.result.Entry.CaptureID
			}
		}
	}()
	sm.issue(op, fmt.Sprint(d, all, final), req.IdempotencyKey, run, func() error {
		if err := sm.openFor(cmd); err != nil {
			return err
		}
		m := &sm.m
		for _, p := range m.pendings {
			if p.final {
				return authcapture.ErrCapturePending
			}
		}
		open := m.open()
		if open <= 0 {
			return authcapture.ErrExceedsCapturable
		}
		if all {
			amount = open
		} else if tooPrecise {
			return authcapture.ErrAmountPrecision
		}
		if amount > open {
			return authcapture.ErrExceedsCapturable
		}
		p := sm.policy
		if !p.PartialCapture && (amount != m.authorized || m.captures > 0) {
			return authcapture.ErrPartialCaptureNotAllowed
		}
		if !p.MultipleCaptures && (m.captures > 0 || (final != nil && !*final)) {
			return authcapture.ErrMultipleCaptureNotAllowed
		}
		if p.MaxCaptures > 0 && m.captures >= p.MaxCaptures {
			return authcapture.ErrTooManyCaptures
		}
		if s, ok := p.MinCapture[sm.currency]; ok {
			if min, _ := authcapture.ParseAmount(s, sm.currency); amount < min {
				return authcapture.ErrBelowMinimum
			}
		}
		isFinal := p.FinalByDefault
		if final != nil {
			isFinal = *final
		}
		if !p.MultipleCaptures {
			isFinal = true
		}
		m.captures++
		m.captureAt = time.Time{} // an explicit capture overrides the delayed one
		if twoPhase {
			m.pending += amount
			// The service names the capture; its ID is taken from the result below.
			m.pendings = append(m.pendings, smPending{amount: amount, final: isFinal})
			return nil
		}
		was := m.closed()
		m.captured += amount
		release := authcapture.CloseNone
		if isFinal && m.open() > 0 {
			m.voided += m.open()
			release = authcapture.CloseFinalCapture
		}
		m.close(was, release)
		return nil
	})
}

func (sm *smMachine) settle(t *rapid.T, confirm bool) {
	id := "cap_none"
	idx := -1
	if len(sm.m.pendings) > 0 && rapid.Float64Range(0, 1).Draw(t, "known") < 0.9 {
		idx = rapid.IntRange(0, len(sm.m.pendings)-1).Draw(t, "which")
		id = sm.m.pendings[idx].id
	}
	req := authcapture.SettleCaptureRequest{MerchantID: sm.merchant, ID: sm.id, CaptureID: id, IdempotencyKey: sm.key(t)}
	op := "fail"
	run := func() (*authcapture.Result, error) { return sm.svc.FailCapture(sm.ctx, req) }
	if confirm {
		op = "confirm"
		run = func() (*authcapture.Result, error) { return sm.svc.ConfirmCapture(sm.ctx, req) }
	}
	sm.issue(op, id, req.IdempotencyKey, run, func() error {
		if !sm.created {
			return authcapture.ErrNotFound
		}
		m := &sm.m
		if idx < 0 {
			return authcapture.ErrNotFound
		}
		p := m.pendings[idx]
		m.pendings = append(m.pendings[:idx:idx], m.pendings[idx+1:]...)
		m.pending -= p.amount
		was := false
		release := authcapture.CloseNone
		if confirm {
			m.captured += p.amount
			if p.final && m.open() > 0 {
				m.voided += m.open()
				release = authcapture.CloseFinalCapture
			}
		} else {
			m.captures--
			if m.holdExpired {
				m.expired += p.amount
				release = authcapture.CloseExpired
			}
		}
		m.close(was, release)
		return nil
	})
}

func (sm *smMachine) void(t *rapid.T) {
	all := rapid.Float64Range(0, 1).Draw(t, "all") < 0.3
	var amount int64
	if !all {
		amount = sm.minor(t, "void")
	}
	req := authcapture.VoidRequest{MerchantID: sm.merchant, ID: sm.id, Amount: sm.dec(amount), All: all,
		Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: sm.key(t)}
	sm.issue("void", fmt.Sprint(amount, all), req.IdempotencyKey,
		func() (*authcapture.Result, error) { return sm.svc.Void(sm.ctx, req) },
		func() error {
			if err := sm.openFor(authcapture.CmdVoid); err != nil {
				return err
			}
			m := &sm.m
			open := m.open()
			if open <= 0 {
				return authcapture.ErrExceedsCapturable
			}
			if all {
				amount = open
			}
			if amount > open {
				return authcapture.ErrExceedsCapturable
			}
			if amount != open && !sm.policy.PartialVoid {
				return authcapture.ErrPartialVoidNotAllowed
			}
			was := m.closed()
			m.voided += amount
			m.cancelAt = time.Time{} // an explicit void overrides the delayed cancel
			release := authcapture.CloseNone
			if amount == open {
				release = authcapture.CloseVoided
			}
			m.close(was, release)
			return nil
		})
}

func (sm *smMachine) advance(t *rapid.T) {
	var d time.Duration
	switch k := rapid.IntRange(0, 9).Draw(t, "advance"); {
	case k <= 6:
		d = rapid.SampledFrom([]time.Duration{time.Nanosecond, time.Second, time.Minute, time.Hour}).Draw(t, "small")
	case k == 7 && sm.created && sm.m.phase == authcapture.PhaseApproved && !sm.m.holdExpired:
		// Land exactly on, or one nanosecond before, the expiry instant.
		d = max(0, sm.m.expiresAt.Sub(sm.clock.Now())-time.Duration(rapid.IntRange(0, 1).Draw(t, "before")))
	default:
		d = rapid.SampledFrom([]time.Duration{24 * time.Hour, 8 * 24 * time.Hour, 30 * 24 * time.Hour}).Draw(t, "large")
	}
	sm.clock.Advance(d)
}

func (sm *smMachine) get(t *rapid.T) {
	a, err := sm.svc.Get(sm.ctx, sm.merchant, sm.id)
	if !sm.created {
		if !errors.Is(err, authcapture.ErrNotFound) {
			t.Fatalf("get before create: want ErrNotFound, got %v", err)
		}
		return
	}
	sm.m.applyExpiry(sm.clock.Now())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sm.compare(a)
	// Another merchant never sees it.
	if _, err := sm.svc.Get(sm.ctx, sm.merchant+"x", sm.id); !errors.Is(err, authcapture.ErrNotFound) {
		t.Fatalf("another merchant's get: want ErrNotFound, got %v", err)
	}
}

// smScheduleMargin is the presets' default ScheduleMargin, and smLease the
// scheduler's default lease.
const (
	smScheduleMargin = 5 * time.Minute
	smLease          = time.Minute
)

// smExecutor accepts every scheduled capture and void.
type smExecutor struct{}

func (smExecutor) Capture(context.Context, authcapture.CaptureTask) error { return nil }
func (smExecutor) Void(context.Context, authcapture.VoidTask) error       { return nil }

// sweep runs the scheduler once; the model predicts what it applies.
func (sm *smMachine) sweep(t *rapid.T) {
	s, err := authcapture.NewScheduler(sm.svc, smExecutor{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RunDue(sm.ctx, 10)
	if err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	m, now := &sm.m, sm.clock.Now()
	if !sm.created || m.phase != authcapture.PhaseApproved || m.closed() {
		return
	}
	if !m.holdExpired && !now.Before(m.expiresAt) {
		m.applyExpiry(now)
		if res.Expired != 1 {
			t.Fatalf("sweep: want one expiry, got %+v", res)
		}
		return
	}
	captureDue := !m.captureAt.IsZero() && !now.Before(m.captureAt)
	cancelDue := !m.cancelAt.IsZero() && !now.Before(m.cancelAt)
	switch {
	case captureDue && (!cancelDue || m.captureAt.Before(m.cancelAt)):
		sm.modelScheduledCapture(t, now, res)
	case cancelDue:
		m.version++ // the claim
		m.cancelAt = now.Add(smLease)
		if open := m.open(); open > 0 {
			was := m.closed()
			m.voided += open
			m.version++
			m.cancelAt = time.Time{}
			m.close(was, authcapture.CloseVoided)
			m.tidy()
			if res.Canceled != 1 {
				t.Fatalf("sweep: want one cancel, got %+v", res)
			}
		}
	default:
		if res.Due != 0 {
			t.Fatalf("sweep: nothing is due in the model, the scheduler found %+v", res)
		}
	}
}

func (sm *smMachine) modelScheduledCapture(t *rapid.T, now time.Time, res authcapture.SweepResult) {
	m, p := &sm.m, sm.policy
	open := m.open()
	retry, drop := false, false
	finalPending := false
	for _, pc := range m.pendings {
		finalPending = finalPending || pc.final
	}
	switch {
	case finalPending:
		retry = true
	case open <= 0:
		retry, drop = m.pending > 0, m.pending == 0
	case !p.PartialCapture && (open != m.authorized || m.captures > 0),
		!p.MultipleCaptures && m.captures > 0,
		p.MaxCaptures > 0 && m.captures >= p.MaxCaptures:
		drop = true
	default:
		if s, ok := p.MinCapture[sm.currency]; ok {
			if min, _ := authcapture.ParseAmount(s, sm.currency); open < min {
				drop = true
			}
		}
	}
	switch {
	case retry:
		m.version++
		m.captureAt = now.Add(smLease)
	case drop:
		m.version++
		m.captureAt = time.Time{}
	default:
		was := m.closed()
		m.version += 2 // begin, confirm
		m.captures++
		m.captured += open
		m.captureAt = time.Time{}
		m.close(was, authcapture.CloseNone)
		m.tidy()
		if res.Captured != 1 {
			t.Fatalf("sweep: want one capture, got %+v", res)
		}
	}
}

// replay re-issues an accepted command verbatim: it must return the
// original entry, marked Replayed, and change nothing.
func (sm *smMachine) replay(t *rapid.T) {
	if len(sm.issued) == 0 {
		t.Skip("nothing to replay")
	}
	cmd := rapid.SampledFrom(sm.issued).Draw(t, "replay")
	if sm.created {
		sm.m.applyExpiry(sm.clock.Now())
	}
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
func (sm *smMachine) reuseKey(t *rapid.T) {
	if len(sm.issued) == 0 {
		t.Skip("no key to reuse")
	}
	cmd := rapid.SampledFrom(sm.issued).Draw(t, "reuse")
	if sm.created {
		sm.m.applyExpiry(sm.clock.Now())
	}
	_, err := sm.svc.Void(sm.ctx, authcapture.VoidRequest{MerchantID: sm.merchant, ID: sm.id,
		Amount: sm.dec(7), IdempotencyKey: cmd.key})
	if !errors.Is(err, authcapture.ErrIdempotencyMismatch) {
		t.Fatalf("void under %s's key %s: want ErrIdempotencyMismatch, got %v", cmd.op, cmd.key, err)
	}
}

// compare checks a returned authorization against the model.
func (sm *smMachine) compare(a *authcapture.Authorization) {
	t, m := sm.t, &sm.m
	got := [...]int64{a.Requested, a.Authorized, a.Captured, a.Pending, a.Voided, a.Expired, a.Version}
	want := [...]int64{m.requested, m.authorized, m.captured, m.pending, m.voided, m.expired, m.version}
	if got != want {
		t.Fatalf("ledgers [requested authorized captured pending voided expired version]: got %v, model %v", got, want)
	}
	if !a.CaptureAt.Equal(m.captureAt) || !a.CancelAt.Equal(m.cancelAt) {
		t.Fatalf("schedule: capture at %s cancel at %s, model %s and %s", a.CaptureAt, a.CancelAt, m.captureAt, m.cancelAt)
	}
	if a.Status() != m.status() {
		t.Fatalf("status: got %s, model %s", a.Status(), m.status())
	}
	if m.closed() && a.CloseReason != m.closeReason {
		t.Fatalf("close reason: got %s, model %s", a.CloseReason, m.closeReason)
	}
}

// check runs after every action: the invariants hold, and ledgers that
// never decrease did not.
func (sm *smMachine) check(t *rapid.T) {
	if !sm.created {
		return
	}
	a, err := sm.svc.Get(sm.ctx, sm.merchant, sm.id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	sm.m.applyExpiry(sm.clock.Now())
	sm.compare(a)
	log, err := sm.svc.Log(sm.ctx, sm.merchant, sm.id)
	if err != nil {
		t.Fatalf("log: %v", err)
	}
	if err := CheckInvariants(a, log); err != nil {
		t.Fatal(err)
	}
	if p := sm.prev; p != nil {
		if a.Captured < p.Captured || a.Voided < p.Voided || a.Expired < p.Expired || a.Version < p.Version {
			t.Fatalf("a ledger decreased: before %+v, after %+v", p, a)
		}
		if p.Closed() && a.Version != p.Version {
			t.Fatalf("a closed authorization changed: version %d -> %d", p.Version, a.Version)
		}
	}
	sm.prev = a
}
