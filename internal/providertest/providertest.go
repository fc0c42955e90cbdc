// Package providertest checks that the ledger ends equal to a payment
// provider's books however the provider's answers and the host's records
// of them interleave: host commands (direct and two-phase captures, voids,
// refunds and amount changes, and reauthorizations), scheduler sweeps whose executor is backed by a provider model,
// accepted, declined and unknown outcomes, and deliveries that are
// duplicated, reordered and late. Each interleaving is a random order of
// steps on one goroutine drawn from a seed, so a failure names the seed
// that reproduces it.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/storetest"
)

// policyName is the policy every authorization of the races uses: multiple
// partial captures and partial voids. The second Service of race 2 does not
// know it.
const policyName = "boundary"

var boundary = authcapture.Policy{Name: policyName, MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour}

// refunding is the boundary policy with refunds while the authorization
// is still open to capture (race 7).
var refunding = authcapture.Policy{Name: "boundary-refunds", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, RefundBeforeFinalCapture: true}

// adjusting is the boundary policy whose hold may be raised and lowered
// at any time for what is not captured (race 8).
var adjusting = authcapture.Policy{Name: "boundary-adjust", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true}

// clamping is the boundary policy that clamps a schedule that does not fit
// the hold to the hold's margin (race 6).
var clamping = authcapture.Policy{Name: "boundary-clamp", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, ClampSchedules: true}

// reauthorizing is the clamping policy with reauthorizations and a
// ten-minute expiring-soon notice (race 9).
var reauthorizing = authcapture.Policy{Name: "boundary-reauth", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, ClampSchedules: true, MaxReauthorizations: 1, ExpiringSoon: 10 * time.Minute}

const (
	amount = 10_000 // minor units of USD: 100.00
	lease  = time.Minute
	// spacing separates the clocks of successive interleavings on one
	// store: each starts this much earlier than the one before, so that
	// what is still open from earlier ones is never due for a later one.
	spacing = 10 * 24 * time.Hour
)

var base = time.Date(2060, 1, 1, 9, 0, 0, 0, time.UTC)

// Race is one of the provider-boundary races.
type Race struct {
	Name string
	run  func(w *world)
}

// Races returns the races, in order.
func Races() []Race {
	return []Race{
		{"1-colliding-keys", raceCollidingKeys},
		{"2-unknown-policy", raceUnknownPolicy},
		{"3-two-phase-capture-vs-cancel", raceTwoPhaseCaptureVsCancel},
		{"4-direct-capture-vs-cancel", raceDirectCaptureVsCancel},
		{"5-scheduled-capture-vs-host", raceScheduledCaptureVsHost},
		{"6-short-hold-approval", raceShortHold},
		{"7-refunds-vs-webhooks", raceRefunds},
		{"8-amount-change-vs-captures", raceAmountChange},
		{"9-reauthorization-vs-expiry", raceReauthorization},
	}
}

// Run runs every race interleavings times on a store from newStore (one
// store per race; the races run in parallel), and fails t with the seed of each interleaving whose
// ledger does not end equal to the provider's books.
func Run(t *testing.T, newStore func(*testing.T) authcapture.Store, interleavings int) {
	for _, r := range Races() {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			RunRace(t, r, newStore(t), 0, interleavings)
		})
	}
}

// RunRace runs race r on store for the seeds from first to first+n-1.
func RunRace(t *testing.T, r Race, store authcapture.Store, first, n int) {
	t.Helper()
	failed := 0
	for i := range n {
		seed := uint64(first + i)
		w := newWorld(t, store, seed, i)
		r.run(w)
		if w.skip != "" {
			t.Skip(w.skip)
		}
		w.check()
		if len(w.problems) > 0 {
			failed++
			if failed <= 3 {
				t.Errorf("race %s, seed %d:\n%s\ntrace:\n%s", r.Name, seed, join(w.problems), join(w.trace))
			}
		}
	}
	if failed > 0 {
		t.Errorf("race %s: %d of %d interleavings end with the ledger unequal to the provider's books", r.Name, failed, n)
	}
}

func join(lines []string) string {
	s := ""
	for _, l := range lines {
		s += "  " + l + "\n"
	}
	return s
}

// world is one interleaving: services on a shared store and fake clock,
// the provider model, the authorizations under test and the host's flows.
type world struct {
	t     *testing.T
	ctx   context.Context
	rng   *rand.Rand
	seed  uint64
	n     int // the interleaving's index on its store
	clock *clocktest.Clock
	store authcapture.Store
	svc   *authcapture.Service
	prov  *provider
	exec  *executor
	sched []*authcapture.Scheduler
	auths []holdRef
	flows []*flow
	keys  map[string]holdRef // provider keys the executor saw
	busy  map[holdRef]*flow  // the host's direct action in progress, by authorization
	seq   int

	crashes float64   // chance that the host crashes after the provider's answer
	lapse   time.Time // if set, settle goes on until then

	problems []string
	trace    []string
	skip     string
}

func newWorld(t *testing.T, store authcapture.Store, seed uint64, n int) *world {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	w := &world{t: t, ctx: context.Background(), rng: rng, seed: seed, n: n, store: store,
		clock: clocktest.New(base.Add(-time.Duration(n) * spacing)), keys: map[string]holdRef{}, busy: map[holdRef]*flow{}}
	w.prov = newProvider(rng, w.clock.Now)
	w.prov.decline = 0.1
	w.svc = w.service(true)
	w.exec = &executor{w: w, unknown: 0.3}
	w.crashes = 0.15
	// Two schedulers on two services share the store: leases, claims and
	// re-drives pass between them.
	w.sched = []*authcapture.Scheduler{w.scheduler(w.svc, w.exec), w.scheduler(w.service(true), w.exec)}
	return w
}

func (w *world) service(knowsPolicy bool) *authcapture.Service {
	opts := &authcapture.Options{Clock: w.clock}
	if knowsPolicy {
		opts.Policies = []authcapture.Policy{boundary, clamping, refunding, adjusting, reauthorizing}
	}
	svc, err := authcapture.New(w.store, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return svc
}

func (w *world) scheduler(svc *authcapture.Service, e authcapture.Executor) *authcapture.Scheduler {
	// One authorization at a time: the provider model and its random
	// source are not safe for concurrent use, and a seed must replay.
	s, err := authcapture.NewScheduler(svc, e, &authcapture.SchedulerOptions{Lease: lease, Concurrency: 1})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

func (w *world) problemf(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *world) tracef(format string, args ...any) {
	w.trace = append(w.trace, w.clock.Now().Format("15:04:05")+" "+fmt.Sprintf(format, args...))
}

func (w *world) key(what string) string {
	w.seq++
	return "host-" + what + "-" + strconv.Itoa(w.seq)
}

// open creates and approves an authorization of merchant and id with the
// given schedule, and puts its hold at the provider.
func (w *world) open(merchant, id string, req authcapture.CreateRequest) holdRef {
	return w.openHold(merchant, id, req, time.Time{})
}

// openHold is open with the hold the provider gave: until expiresAt (zero:
// the policy's validity, which outlasts the interleaving). req.Policy
// defaults to the boundary policy.
func (w *world) openHold(merchant, id string, req authcapture.CreateRequest, expiresAt time.Time) holdRef {
	req.MerchantID, req.ID, req.Currency, req.Amount = merchant, id, "USD", decimal.New(amount, -2)
	if req.Policy == "" {
		req.Policy = policyName
	}
	req.IdempotencyKey = w.key("create")
	if _, err := w.svc.Create(w.ctx, req); err != nil {
		w.t.Fatalf("create %s/%s: %v", merchant, id, err)
	}
	if _, err := w.svc.Authorize(w.ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: id,
		Amount: decimal.New(amount, -2), ExpiresAt: expiresAt, IdempotencyKey: w.key("authorize")}); err != nil {
		w.t.Fatalf("authorize %s/%s: %v", merchant, id, err)
	}
	ref := holdRef{merchant, id}
	w.prov.authorize(ref, amount, expiresAt)
	w.auths = append(w.auths, ref)
	return ref
}

// merchant is a merchant ID of this interleaving.
func (w *world) merchant(name string) string { return name + "-" + strconv.Itoa(w.n) }

func (w *world) get(ref holdRef) *authcapture.Authorization {
	a, err := w.svc.Get(w.ctx, ref.merchant, ref.id)
	if err != nil {
		w.t.Fatalf("get %s: %v", ref, err)
	}
	return a
}

// sweep runs one sweep of a random scheduler.
func (w *world) sweep() {
	s := w.sched[w.rng.IntN(len(w.sched))]
	res, err := s.RunDue(w.ctx, 100)
	if err != nil {
		w.problemf("sweep: %v", err)
	}
	if res.Due > 0 {
		w.tracef("sweep: due %d captured %d capture-failed %d canceled %d cancel-failed %d unknown %d notified %d deferred %d skipped %d errors %v",
			res.Due, res.Captured, res.CaptureFailed, res.Canceled, res.CancelFailed, res.Unknown, res.Notified, res.Deferred, res.Skipped, res.Errors)
	}
}

// advance moves the clock on by up to max.
func (w *world) advance(max time.Duration) {
	d := time.Duration(w.rng.Int64N(int64(max) + 1))
	w.clock.Advance(d)
}

// steps runs n random steps: a step of a random unfinished flow, a
// webhook delivery, a sweep, or a clock move. extra, if not nil, is one
// more kind of step.
func (w *world) steps(n int, clockMax time.Duration, extra func()) {
	for range n {
		switch k := w.rng.IntN(12); {
		case k < 5:
			if f := w.pickFlow(); f != nil {
				w.stepFlow(f)
				continue
			}
			fallthrough
		case k < 7:
			if w.deliver() {
				continue
			}
			fallthrough
		case k < 9:
			w.sweep()
		case k < 11 || extra == nil:
			w.advance(clockMax)
		default:
			extra()
		}
	}
}

// deliver delivers a random webhook the provider may deliver now, and
// reports whether there was one. The webhook handler records it with
// RecordOutcome; a delivery that fails for a reason that passes is
// delivered again later, and one recorded may be delivered again (a
// duplicate), when it must change nothing.
func (w *world) deliver() bool {
	var ready []int
	for i, h := range w.prov.webhooks {
		if h.ready {
			ready = append(ready, i)
		}
	}
	if len(ready) == 0 {
		return false
	}
	i := ready[w.rng.IntN(len(ready))]
	h := w.prov.webhooks[i]
	remove := func() { w.prov.webhooks = append(w.prov.webhooks[:i:i], w.prov.webhooks[i+1:]...) }
	req := outcomeRequest(h.answer)
	if w.rng.IntN(8) == 0 {
		// The provider reports it still working first: nothing to record.
		p := req
		p.Outcome, p.Amount, p.Reason = authcapture.OutcomePending, decimal.Decimal{}, ""
		r, err := w.svc.RecordOutcome(w.ctx, p)
		switch {
		case err != nil && !temporary(err):
			w.problemf("webhook %s pending: %v", h.id, err)
		case err == nil && r.Effect != authcapture.EffectIgnored:
			w.problemf("webhook %s pending: %s, want ignored", h.id, r.Effect)
		}
	}
	r, err := w.svc.RecordOutcome(w.ctx, req)
	if err != nil && req.Kind == authcapture.OutcomeVoid && h.all && errors.Is(err, authcapture.ErrExceedsCapturable) {
		if rel := w.wholeRelease(h.ref, h.actionID, h.amount); rel != h.amount {
			req.Amount = minor(rel)
			r, err = w.svc.RecordOutcome(w.ctx, req)
		}
	}
	switch {
	case err != nil && (temporary(err) || req.Kind == authcapture.OutcomeVoid && h.all && errors.Is(err, authcapture.ErrExceedsCapturable) ||
		w.unnamedPending(req, err)):
		w.tracef("webhook %s %s %s: deliver again later: %v", h.id, req.Kind, req.Outcome, err)
		return true
	case err != nil && req.Kind == authcapture.OutcomeVoid && w.releasedOtherwise(h.ref, err):
		// The ledger released otherwise what the provider released by
		// the void (see releasedOtherwise).
		w.tracef("webhook %s void not recorded: %v", h.id, err)
		remove()
		return true
	case err != nil:
		w.problemf("webhook %s %s %s %s: %v", h.id, req.Kind, req.Outcome, h.ref, err)
		remove()
		return true
	}
	w.tracef("webhook %s %s %s (delivery %d): %s %s: captured %d voided %d open %d", h.id, req.Kind, req.Outcome, h.done+1,
		r.Effect, r.Note, r.Authorization.Captured, r.Authorization.Voided, r.Authorization.Open())
	if h.done > 0 && r.Effect != authcapture.EffectReplayed && r.Effect != authcapture.EffectIgnored {
		w.problemf("webhook %s delivered again: %s, want replayed", h.id, r.Effect)
	}
	h.done++
	if !w.again() {
		remove()
	}
	return true
}

func (w *world) pickFlow() *flow {
	var live []*flow
	for _, f := range w.flows {
		if !f.done {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[w.rng.IntN(len(live))]
}

// settle delivers every outcome and sweeps all due work: flows run to
// their end, executors answer, webhooks arrive, and the clock moves a
// lease at a time until nothing is pending and nothing is scheduled.
func (w *world) settle() {
	w.exec.unknown = 0
	w.crashes = 0
	for round := 0; ; round++ {
		if round > 500 {
			for _, f := range w.flows {
				if !f.done {
					w.problemf("flow %s never settles: %v", f.name, f.lastErr)
				}
			}
			w.problemf("outcomes still unsettled after %d rounds", round)
			return
		}
		// Every flow a few steps, in random order; then the scheduler.
		for range 4 {
			for _, i := range w.rng.Perm(len(w.flows)) {
				if f := w.flows[i]; !f.done {
					w.stepFlow(f)
				}
			}
		}
		for range 2 * len(w.prov.webhooks) {
			w.deliver()
		}
		busy := w.pickFlow() != nil
		for _, h := range w.prov.webhooks {
			busy = busy || h.ready
		}
		for _, ref := range w.auths {
			a := w.get(ref)
			if a.Pending != 0 || a.PendingVoid != 0 || len(a.PendingCaptures) > 0 || len(a.PendingVoids) > 0 || len(a.PendingRefunds) > 0 ||
				a.PendingAmountChange != nil || !a.CaptureAt.IsZero() || !a.CancelAt.IsZero() {
				busy = true
			}
		}
		if !busy && w.clock.Now().Before(w.lapse) {
			w.clock.Advance(w.lapse.Sub(w.clock.Now())) // nothing left to race: on to the holds' lapse
			w.sweep()
			continue
		}
		if !busy {
			return
		}
		w.clock.Advance(lease)
		w.sweep()
	}
}

// check compares every authorization's ledger with the provider's books.
func (w *world) check() {
	for _, ref := range w.auths {
		a := w.get(ref)
		h := w.prov.holds[ref]
		log, err := w.svc.Log(w.ctx, ref.merchant, ref.id)
		if err != nil {
			w.t.Fatalf("log %s: %v", ref, err)
		}
		if err := storetest.CheckInvariants(a, log); err != nil {
			w.problemf("%s: invariants: %v", ref, err)
		}
		w.prov.expire(ref)
		if a.Authorized != h.authorized {
			w.problemf("%s: ledger authorized %d, provider authorized %d", ref, a.Authorized, h.authorized)
		}
		if a.Captured != h.captured {
			w.problemf("%s: ledger captured %d, provider captured %d", ref, a.Captured, h.captured)
		}
		if a.Voided+a.Expired != h.released {
			w.problemf("%s: ledger voided %d + expired %d, provider released %d", ref, a.Voided, a.Expired, h.released)
		}
		if a.Pending != 0 || a.PendingVoid != 0 || a.PendingRefund != 0 || a.PendingDecrement != 0 || a.PendingAmountChange != nil {
			w.problemf("%s: still pending: captures %d, voids %d, refunds %d, decrease %d", ref, a.Pending, a.PendingVoid, a.PendingRefund, a.PendingDecrement)
		}
		if a.Refunded != h.refunded {
			w.problemf("%s: ledger refunded %d, provider refunded %d", ref, a.Refunded, h.refunded)
		}
		if a.Open() != h.held {
			w.problemf("%s: ledger open %d, provider holds %d", ref, a.Open(), h.held)
		}
	}
	for _, h := range w.prov.webhooks {
		w.problemf("webhook %s %s %s of %s never delivered (ready %v)", h.id, h.op, boolString(h.ok), h.ref, h.ready)
	}
	// Nothing is left for a reconciliation job.
	un, err := w.svc.Unsettled(w.ctx, authcapture.UnsettledRequest{Limit: 10_000})
	if err != nil {
		w.t.Fatalf("unsettled: %v", err)
	}
	mine := map[holdRef]bool{}
	for _, ref := range w.auths {
		mine[ref] = true
	}
	for _, u := range un {
		if mine[holdRef{u.MerchantID, u.AuthorizationID}] {
			w.problemf("%s/%s: %s %s of %d still listed unsettled", u.MerchantID, u.AuthorizationID, u.Kind, u.ActionID, u.Amount)
		}
	}
}

// unnamedPending reports whether err refuses to record req, a success
// the ledger has no action for, because an action of its kind is pending
// without a provider reference (the scheduler's, whose executor reports
// none): it may be that one. Its webhook carries the action ID, so the
// host knows req is not it, and records req once that one settled.
func (w *world) unnamedPending(req authcapture.OutcomeRequest, err error) bool {
	if !errors.Is(err, authcapture.ErrOutcomeConflict) || req.ActionID != "" || req.Outcome != authcapture.OutcomeSucceeded {
		return false
	}
	a := w.get(holdRef{req.MerchantID, req.AuthorizationID})
	for _, pc := range a.PendingCaptures {
		if req.Kind == authcapture.OutcomeCapture && pc.ProviderRef == "" {
			return true
		}
	}
	for _, pv := range a.PendingVoids {
		if req.Kind == authcapture.OutcomeVoid && pv.ProviderRef == "" {
			return true
		}
	}
	for _, pr := range a.PendingRefunds {
		if req.Kind == authcapture.OutcomeRefund && pr.ProviderRef == "" {
			return true
		}
	}
	return false
}

// temporary reports whether a host retries err later: actions in flight
// hold the amount, a final capture is pending, or writers contended.
func temporary(err error) bool {
	return errors.Is(err, authcapture.ErrActionInFlight) || errors.Is(err, authcapture.ErrVersionConflict) ||
		errors.Is(err, authcapture.ErrCapturePending)
}

func minor(m int64) decimal.Decimal { return decimal.New(m, -2) }
