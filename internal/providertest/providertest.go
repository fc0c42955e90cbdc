// Package providertest checks that the ledger ends equal to a payment
// provider's books however the provider's answers and the host's records
// of them interleave: host commands (direct and two-phase captures and
// voids), scheduler sweeps whose executor is backed by a provider model,
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
	failed, known := 0, 0
	for i := range n {
		seed := uint64(first + i)
		w := newWorld(t, store, seed, i)
		r.run(w)
		if w.skip != "" {
			t.Skip(w.skip)
		}
		w.check()
		if len(w.known) > 0 && len(w.problems) == 0 {
			known++
			t.Logf("race %s, seed %d: known gap: %s", r.Name, seed, join(w.known))
		}
		if len(w.problems) > 0 {
			failed++
			if failed <= 3 {
				t.Errorf("race %s, seed %d:\n%s\ntrace:\n%s", r.Name, seed, join(w.problems), join(w.trace))
			}
		}
	}
	if known > 0 {
		t.Logf("race %s: %d of %d interleavings hit the known gap of TestKnownGaps", r.Name, known, n)
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

	problems []string
	known    []string // mismatches of a known engine gap (TestKnownGaps)
	trace    []string
	skip     string
}

func newWorld(t *testing.T, store authcapture.Store, seed uint64, n int) *world {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	w := &world{t: t, ctx: context.Background(), rng: rng, seed: seed, n: n, store: store,
		clock: clocktest.New(base.Add(-time.Duration(n) * spacing)), keys: map[string]holdRef{}, busy: map[holdRef]*flow{}}
	w.prov = newProvider(rng)
	w.prov.decline = 0.1
	w.svc = w.service(true)
	w.exec = &executor{w: w, unknown: 0.3}
	// Two schedulers on two services share the store: leases, claims and
	// re-drives pass between them.
	w.sched = []*authcapture.Scheduler{w.scheduler(w.svc, w.exec), w.scheduler(w.service(true), w.exec)}
	return w
}

func (w *world) service(knowsPolicy bool) *authcapture.Service {
	opts := &authcapture.Options{Clock: w.clock}
	if knowsPolicy {
		opts.Policies = []authcapture.Policy{boundary}
	}
	svc, err := authcapture.New(w.store, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return svc
}

func (w *world) scheduler(svc *authcapture.Service, e authcapture.Executor) *authcapture.Scheduler {
	s, err := authcapture.NewScheduler(svc, e, &authcapture.SchedulerOptions{Lease: lease})
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
	req.MerchantID, req.ID, req.Currency, req.Amount, req.Policy = merchant, id, "USD", decimal.New(amount, -2), policyName
	req.IdempotencyKey = w.key("create")
	if _, err := w.svc.Create(w.ctx, req); err != nil {
		w.t.Fatalf("create %s/%s: %v", merchant, id, err)
	}
	if _, err := w.svc.Authorize(w.ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: id,
		Amount: decimal.New(amount, -2), IdempotencyKey: w.key("authorize")}); err != nil {
		w.t.Fatalf("authorize %s/%s: %v", merchant, id, err)
	}
	ref := holdRef{merchant, id}
	w.prov.authorize(ref, amount)
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
		w.tracef("sweep: due %d captured %d capture-failed %d canceled %d cancel-failed %d unknown %d deferred %d skipped %d errors %v",
			res.Due, res.Captured, res.CaptureFailed, res.Canceled, res.CancelFailed, res.Unknown, res.Deferred, res.Skipped, res.Errors)
	}
}

// advance moves the clock on by up to max.
func (w *world) advance(max time.Duration) {
	d := time.Duration(w.rng.Int64N(int64(max) + 1))
	w.clock.Advance(d)
}

// steps runs n random steps: a step of a random unfinished flow, a sweep,
// or a clock move. extra, if not nil, is one more kind of step.
func (w *world) steps(n int, clockMax time.Duration, extra func()) {
	for range n {
		switch k := w.rng.IntN(10); {
		case k < 5:
			if f := w.pickFlow(); f != nil {
				w.stepFlow(f)
				continue
			}
			fallthrough
		case k < 7:
			w.sweep()
		case k < 9 || extra == nil:
			w.advance(clockMax)
		default:
			extra()
		}
	}
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
// their end, executors answer, and the clock moves a lease at a time until
// nothing is pending and nothing is scheduled. The hold never expires
// meanwhile.
func (w *world) settle() {
	w.exec.unknown = 0
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
		busy := w.pickFlow() != nil
		for _, ref := range w.auths {
			a := w.get(ref)
			if a.Pending != 0 || a.PendingVoid != 0 || len(a.PendingCaptures) > 0 || len(a.PendingVoids) > 0 ||
				!a.CaptureAt.IsZero() || !a.CancelAt.IsZero() {
				busy = true
			}
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
		if gapFailedBeforeWholeVoid(a, h) {
			w.known = append(w.known, fmt.Sprintf("%s: ledger open %d after a void of everything the provider confirmed (TestKnownGaps)", ref, a.Open()))
			continue
		}
		if a.Captured != h.captured {
			w.problemf("%s: ledger captured %d, provider captured %d", ref, a.Captured, h.captured)
		}
		if a.Voided+a.Expired != h.released {
			w.problemf("%s: ledger voided %d + expired %d, provider released %d", ref, a.Voided, a.Expired, h.released)
		}
		if a.Pending != 0 || a.PendingVoid != 0 {
			w.problemf("%s: still pending: captures %d, voids %d", ref, a.Pending, a.PendingVoid)
		}
		if a.Open() != h.held {
			w.problemf("%s: ledger open %d, provider holds %d", ref, a.Open(), h.held)
		}
	}
}

// gapFailedBeforeWholeVoid reports whether a ends with the one mismatch of
// the engine gap that TestKnownGaps reproduces: a capture in flight failed
// (its amount back to open) before a void of everything was confirmed, the
// provider released that amount with the void, and the confirm, limited
// to what the void reserved, left it open. Everything else agrees.
func gapFailedBeforeWholeVoid(a *authcapture.Authorization, h *hold) bool {
	return a.ReleasedBy == authcapture.CloseVoided && h.held == 0 && a.Open() > 0 && a.Pending == 0 && a.PendingVoid == 0 &&
		a.Captured == h.captured && a.Voided+a.Expired+a.Open() == h.released
}

// temporary reports whether a host retries err later: actions in flight
// hold the amount, a final capture is pending, or writers contended.
func temporary(err error) bool {
	return errors.Is(err, authcapture.ErrActionInFlight) || errors.Is(err, authcapture.ErrVersionConflict) ||
		errors.Is(err, authcapture.ErrCapturePending)
}

func minor(m int64) decimal.Decimal { return decimal.New(m, -2) }
