package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// linHandles is how many store handles (and Services) a history is
	// issued from.
	linHandles = 4
	// linCheckTimeout bounds one porcupine check. A check that times out
	// fails the test: it proved nothing.
	linCheckTimeout = 30 * time.Second
)

// linConfig shapes one recorded history.
type linConfig struct {
	clients    int   // goroutines issuing operations
	opsEach    int   // operations per goroutine
	authorized int64 // cents
	maxAmount  int64 // largest capture or void, cents
	// policy, if set, is the authorization's policy instead of the
	// default: with an overcapture allowance, two clients open with a
	// final capture of more than the hold, racing the others' first
	// commands (an overcapture wins only on the whole hold), and late
	// final captures may ask for more than the hold too.
	policy authcapture.Policy
}

// linDefault races 8 goroutines of 14 operations each: about 110
// operations, enough captures and voids to use up the authorization in
// about two thirds of the run if the expiry does not come first.
// lossyOpsEach is the operations per goroutine of a history whose store
// loses replies.
const lossyOpsEach = 10

var linDefault = linConfig{clients: 8, opsEach: 14, authorized: 5000, maxAmount: 300}

// linOvercapture is linDefault under a policy that allows an overcapture
// of up to 3.00 USD on the 50.00 hold.
var linOvercapture = linConfig{clients: 8, opsEach: 14, authorized: 5000, maxAmount: 300, policy: overcapturing}

func (cfg linConfig) policyOf() authcapture.Policy {
	if cfg.policy.Name == "" {
		return authcapture.DefaultPolicy
	}
	return cfg.policy
}

// recorder collects a history with call and return times on one monotonic
// clock.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// do runs f as one operation of client and records it. An operation whose
// outcome is unknown never returns, as far as the checker is concerned.
func (r *recorder) do(client int, in linInput, f func() linOutput) linOutput {
	call := r.now()
	out := f()
	ret := r.now()
	if out.Outcome == linUnknown {
		ret = math.MaxInt64
	}
	r.mu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	r.mu.Unlock()
	return out
}

// rejection returns the sentinel a command was rejected with, or nil if
// err is no rejection: an error of the store that leaves the outcome
// unknown. The Service reports every rejection as an *authcapture.Error.
func rejection(err error) error {
	var e *authcapture.Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err
	}
	return nil
}

// errUnexpectedReplay marks a command that reported a replay although its
// key was never used before; the model accepts no such output.
var errUnexpectedReplay = errors.New("storetest: a fresh idempotency key was reported as a replay")

func outputOf(a *authcapture.Authorization, replayed bool, err error) linOutput {
	if err != nil {
		if r := rejection(err); r != nil {
			return linOutput{Outcome: linRejected, Reason: r, Detail: err.Error()}
		}
		return linOutput{Outcome: linUnknown, Detail: err.Error()}
	}
	if replayed {
		return linOutput{Outcome: linRejected, Reason: errUnexpectedReplay}
	}
	return linOutput{Outcome: linOK, View: model.ViewOf(a)}
}

// perform issues in through svc on merchant's authorization id.
func perform(ctx context.Context, svc *authcapture.Service, merchant, id string, in linInput) linOutput {
	var r *authcapture.Result
	var err error
	switch in.Kind {
	case linGet:
		a, err := svc.Get(ctx, merchant, id)
		return outputOf(a, false, err)
	case linCapture, linFinalCapture:
		r, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: merchant, ID: id, Amount: usd(in.Amount),
			Final: authcapture.Bool(in.Kind == linFinalCapture), IdempotencyKey: in.Key})
	case linVoid:
		r, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: merchant, ID: id, Amount: usd(in.Amount), IdempotencyKey: in.Key})
	case linVoidAll:
		r, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: merchant, ID: id, All: true, IdempotencyKey: in.Key})
	case linBeginVoid, linBeginVoidAll, linConfirmVoid, linFailVoid:
		r, err = performVoid(ctx, svc, merchant, id, in)
	case linRefund, linBeginRefund, linConfirmRefund, linFailRefund:
		r, err = performRefund(ctx, svc, merchant, id, in)
	default:
		panic("storetest: perform " + in.Kind.String())
	}
	if err != nil {
		return outputOf(nil, false, err)
	}
	out := outputOf(r.Authorization, r.Replayed, nil)
	if (in.Kind == linBeginVoid || in.Kind == linBeginVoidAll) && out.Outcome == linOK {
		out.VoidID, out.Amount = r.Entry.VoidID, r.Entry.Amount
	}
	if in.Kind == linBeginRefund && out.Outcome == linOK {
		out.RefundID, out.Amount = r.Entry.RefundID, r.Entry.Amount
	}
	if (in.Kind == linCapture || in.Kind == linFinalCapture) && out.Outcome == linOK {
		out.CaptureID = r.Entry.CaptureID
	}
	return out
}

// performRefund issues a direct refund, or a two-phase refund's begin,
// confirm or fail.
func performRefund(ctx context.Context, svc *authcapture.Service, merchant, id string, in linInput) (*authcapture.Result, error) {
	switch in.Kind {
	case linRefund:
		return svc.Refund(ctx, authcapture.RefundRequest{MerchantID: merchant, ID: id, Amount: usd(in.Amount), CaptureID: in.CaptureID,
			IdempotencyKey: in.Key})
	case linBeginRefund:
		return svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: merchant, ID: id, Amount: usd(in.Amount), CaptureID: in.CaptureID,
			IdempotencyKey: in.Key})
	case linConfirmRefund:
		return svc.ConfirmRefund(ctx, authcapture.SettleRefundRequest{MerchantID: merchant, ID: id, RefundID: in.RefundID,
			IdempotencyKey: in.Key})
	}
	return svc.FailRefund(ctx, authcapture.SettleRefundRequest{MerchantID: merchant, ID: id, RefundID: in.RefundID,
		Reason: "declined", IdempotencyKey: in.Key})
}

// performVoid issues a two-phase void's begin, confirm or fail.
func performVoid(ctx context.Context, svc *authcapture.Service, merchant, id string, in linInput) (*authcapture.Result, error) {
	switch in.Kind {
	case linBeginVoid:
		return svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: merchant, ID: id, Amount: usd(in.Amount), IdempotencyKey: in.Key})
	case linBeginVoidAll:
		return svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: merchant, ID: id, All: true, IdempotencyKey: in.Key})
	case linConfirmVoid:
		req := authcapture.SettleVoidRequest{MerchantID: merchant, ID: id, VoidID: in.VoidID, IdempotencyKey: in.Key}
		if in.HasReleased {
			r := usd(in.Released)
			req.Released = &r
		}
		return svc.ConfirmVoid(ctx, req)
	}
	return svc.FailVoid(ctx, authcapture.SettleVoidRequest{MerchantID: merchant, ID: id, VoidID: in.VoidID,
		Reason: "declined", IdempotencyKey: in.Key})
}

// randomInput draws a client's next operation; pending holds the voids the
// client began and has not settled yet, with what each reserved. Commands
// that close the authorization at once come only in the second half of a
// client's run, so that the first half races on an open ledger.
func randomInput(rng *rand.Rand, cfg linConfig, id string, client, k int, pending []begunVoid, captures []string) linInput {
	key := fmt.Sprintf("%s-c%d-op%d", id, client, k)
	amount := 1 + rng.Int64N(cfg.maxAmount)
	late := k >= cfg.opsEach/2
	if len(pending) > 0 && rng.IntN(100) < 40 {
		v := pending[rng.IntN(len(pending))]
		if v.refund {
			if rng.IntN(100) < 60 {
				return linInput{Kind: linConfirmRefund, RefundID: v.id, Key: key}
			}
			return linInput{Kind: linFailRefund, RefundID: v.id, Key: key}
		}
		switch r := rng.IntN(100); {
		case r < 30:
			return linInput{Kind: linConfirmVoid, VoidID: v.id, Key: key}
		case r < 60: // part of it, as if something took the rest first
			return linInput{Kind: linConfirmVoid, VoidID: v.id, Released: rng.Int64N(v.amount + 1), HasReleased: true, Key: key}
		case r < 70 && v.all: // more: what went back to open meanwhile
			return linInput{Kind: linConfirmVoid, VoidID: v.id, Released: v.amount + 1 + rng.Int64N(cfg.maxAmount), HasReleased: true, Key: key}
		default:
			return linInput{Kind: linFailVoid, VoidID: v.id, Key: key}
		}
	}
	if allowance := model.Allowance(cfg.policyOf(), "USD", cfg.authorized); allowance > 0 {
		switch {
		case k == 0 && client == 0: // within the allowance
			return linInput{Kind: linFinalCapture, Amount: cfg.authorized + 1 + rng.Int64N(allowance), Key: key}
		case (k == 0 && client == 1) || (late && rng.IntN(100) < 5):
			// Within the allowance, at its edge, or past it.
			over := []int64{1 + rng.Int64N(allowance), allowance, allowance + 1}[rng.IntN(3)]
			return linInput{Kind: linFinalCapture, Amount: cfg.authorized + over, Key: key}
		case k == 0 && rng.IntN(100) < 75: // most others read, so that an overcapture may find the hold whole
			return linInput{Kind: linGet}
		}
	}
	switch r := rng.IntN(100); {
	case r < 30:
		return linInput{Kind: linGet}
	case late && r < 38:
		return linInput{Kind: linFinalCapture, Amount: amount, Key: key}
	case late && r < 46:
		return linInput{Kind: linVoidAll, Key: key}
	case late && r < 58:
		in := linInput{Kind: linRefund, Amount: amount, Key: key}
		if r >= 55 {
			in.Kind = linBeginRefund
		}
		if len(captures) > 0 && rng.IntN(2) == 0 { // one of the client's own captures
			in.CaptureID = captures[rng.IntN(len(captures))]
		}
		return in
	case r < 62:
		return linInput{Kind: linCapture, Amount: amount, Key: key}
	case r < 78:
		return linInput{Kind: linBeginVoid, Amount: amount, Key: key}
	default:
		return linInput{Kind: linVoid, Amount: amount, Key: key}
	}
}

// begunVoid is a void (or refund) a client began: its ID, what it
// reserved, and whether it is a void of everything.
type begunVoid struct {
	id     string
	amount int64
	all    bool
	refund bool
}

// history is one recorded run on one authorization.
type history struct {
	merchant, id string
	initial      model.Ledger
	ops          []porcupine.Operation
}

// recordHistory approves a new authorization through setup, then lets
// cfg.clients goroutines race operations on it, goroutine i through
// svcs[i%len(svcs)]. The goroutines start each of their operations
// together, so that they overlap even on few processors. In the second half
// of its run, client 0 sets the shared clock to the hold's ExpiresAt,
// recorded as an operation of its own. A last read through setup, after
// everything else, closes the history.
func recordHistory(t *testing.T, setup *authcapture.Service, svcs []*authcapture.Service, clock *clocktest.Clock,
	id string, cfg linConfig, seed uint64) history {
	t.Helper()
	ctx := testContext(t)
	const merchant = "m-lin"
	a := approveUnder(t, setup, cfg.policy.Name, merchant, id, cfg.authorized)
	h := history{merchant: merchant, id: id, initial: model.Of(a, cfg.policyOf())}
	rec := newRecorder()
	tickAt := cfg.opsEach/2 + rand.New(rand.NewPCG(seed, 0)).IntN(cfg.opsEach-cfg.opsEach/2)
	var wg sync.WaitGroup
	step := newBarrier(cfg.clients)
	for c := range cfg.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)+1))
			svc := svcs[c%len(svcs)]
			var pending []begunVoid
			var captures []string // the captures this client made
			for k := range cfg.opsEach {
				step.wait()
				if c == 0 && k == tickAt {
					rec.do(c, linInput{Kind: linExpire}, func() linOutput {
						clock.Set(a.ExpiresAt)
						return linOutput{Outcome: linOK}
					})
				}
				in := randomInput(rng, cfg, id, c, k, pending, captures)
				out := rec.do(c, in, func() linOutput { return perform(ctx, svc, merchant, id, in) })
				switch {
				case (in.Kind == linBeginVoid || in.Kind == linBeginVoidAll) && out.Outcome == linOK:
					pending = append(pending, begunVoid{id: out.VoidID, amount: out.Amount, all: in.Kind == linBeginVoidAll})
				case (in.Kind == linConfirmVoid || in.Kind == linFailVoid) && out.Outcome != linRejected:
					pending = slices.DeleteFunc(pending, func(v begunVoid) bool { return v.id == in.VoidID })
				case (in.Kind == linCapture || in.Kind == linFinalCapture) && out.Outcome == linOK:
					captures = append(captures, out.CaptureID)
				case in.Kind == linBeginRefund && out.Outcome == linOK:
					pending = append(pending, begunVoid{id: out.RefundID, amount: out.Amount, refund: true})
				case (in.Kind == linConfirmRefund || in.Kind == linFailRefund) && out.Outcome != linRejected:
					pending = slices.DeleteFunc(pending, func(v begunVoid) bool { return v.id == in.RefundID })
				}
			}
		}()
	}
	wg.Wait()
	rec.do(cfg.clients, linInput{Kind: linGet}, func() linOutput { return perform(ctx, setup, merchant, id, linInput{Kind: linGet}) })
	h.ops = rec.ops
	return h
}

// barrier lets n goroutines wait for each other, again and again.
type barrier struct {
	mu              sync.Mutex
	cond            sync.Cond
	n, waiting, gen int
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.cond.L = &b.mu
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	gen := b.gen
	if b.waiting++; b.waiting == b.n {
		b.waiting = 0
		b.gen++
		b.cond.Broadcast()
		return
	}
	for gen == b.gen {
		b.cond.Wait()
	}
}

// checkHistory checks h against the ledger model. If it is not
// linearizable (or the check times out) it writes porcupine's visualization
// to a directory that outlives the test and names it.
func checkHistory(t *testing.T, model porcupine.Model, h history) porcupine.CheckResult {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(model, h.ops, linCheckTimeout)
	if res == porcupine.Ok {
		return res
	}
	dir, err := os.MkdirTemp("", "authcapture-linearizability-")
	if err != nil {
		t.Logf("cannot write the visualization: %v", err)
		return res
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + h.id + ".html"
	path := filepath.Join(dir, name)
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Logf("cannot write the visualization: %v", err)
		return res
	}
	t.Logf("history of %s (%d operations) is %s; visualization: %s", h.id, len(h.ops), res, path)
	text := filepath.Join(dir, strings.TrimSuffix(name, ".html")+".txt")
	if err := os.WriteFile(text, []byte(describeHistory(h)), 0o644); err == nil {
		t.Logf("the same history as text: %s", text)
	}
	return res
}

// describeHistory lists h's operations by call time, one a line.
func describeHistory(h history) string {
	ops := slices.Clone(h.ops)
	slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var b strings.Builder
	fmt.Fprintf(&b, "initial: %s\n", h.initial.View())
	for _, op := range ops {
		ret := "never"
		if op.Return != math.MaxInt64 {
			ret = fmt.Sprintf("%.3fms", float64(op.Return)/1e6)
		}
		fmt.Fprintf(&b, "client %d [%.3fms, %s] %s\n", op.ClientId, float64(op.Call)/1e6, ret, describeOperation(op.Input, op.Output))
	}
	return b.String()
}

// testLinearizable records and checks histories on the handles. With
// lossy set, each handle drops some replies (before or after the write
// commits) and some reads, so some outcomes are unknown; afterwards every
// command of unknown outcome is retried with its key, and must apply at
// most once.
func testLinearizable(t *testing.T, handles []authcapture.Store, lossy bool) {
	require.NotEmpty(t, handles)
	rounds := 4
	if lossy {
		rounds = 3
	}
	for round := range rounds {
		cfg := linDefault
		if round == rounds-1 {
			cfg = linOvercapture // the last round races overcaptures
		}
		if lossy {
			// Every lost reply leaves an operation open to the end of the
			// history, which porcupine must place anywhere after its
			// call: shorter histories keep the check well within
			// linCheckTimeout on a loaded machine.
			cfg.opsEach = lossyOpsEach
		}
		seed := uint64(round) + 1
		if lossy {
			seed += 1000
		}
		clock := clocktest.New(epoch)
		svcs := make([]*authcapture.Service, len(handles))
		for i, h := range handles {
			var s authcapture.Store = h
			if lossy {
				ls := &lossyStore{Store: h, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
				s = ls
				if l, ok := h.(authcapture.Locker); ok {
					s = lossyLocker{ls, l}
				}
			}
			svcs[i] = newService(t, s, clock)
		}
		// Set up and read last through a handle that loses nothing.
		setup := newService(t, handles[0], clock)
		id := fmt.Sprintf("lin-%d", seed)
		h := recordHistory(t, setup, svcs, clock, id, cfg, seed)
		if !lossy {
			// Without faults every operation returns.
			for _, op := range h.ops {
				if out := op.Output.(linOutput); out.Outcome == linUnknown {
					t.Errorf("%s returned an error that is no sentinel: %s", op.Input.(linInput).Kind, out.Detail)
				}
			}
		}
		if cfg.policy.Name != "" {
			over, refused := 0, 0
			for _, op := range h.ops {
				in, out := op.Input.(linInput), op.Output.(linOutput)
				switch {
				case in.Kind != linFinalCapture || in.Amount <= cfg.authorized:
				case out.Outcome == linOK:
					over++
				case out.Outcome == linRejected:
					refused++
				}
			}
			t.Logf("%s: %d overcaptures accepted, %d refused", id, over, refused)
		}
		res := checkHistory(t, ledgerModel(h.initial), h)
		if !assert.Equal(t, porcupine.Ok, res, "history %s (seed %d) is not linearizable", id, seed) {
			continue
		}
		final := checkStored(t, handles[0], h.merchant, id)
		last := h.ops[len(h.ops)-1].Output.(linOutput)
		assert.Equal(t, last.View, model.ViewOf(final), "the last read vs the store")
		if lossy {
			retryUnknown(t, setup, h)
			checkStored(t, handles[0], h.merchant, id)
		}
	}
}

// retryUnknown retries every command of h whose outcome was unknown with
// the same key and parameters. A command that committed must replay, one
// that did not is decided now; either way no key is applied twice.
func retryUnknown(t *testing.T, svc *authcapture.Service, h history) {
	t.Helper()
	ctx := testContext(t)
	applied := map[string]bool{} // keys of commands known to have been applied
	var replayed, decided int
	for _, op := range h.ops {
		in, out := op.Input.(linInput), op.Output.(linOutput)
		if in.Key == "" {
			continue
		}
		switch out.Outcome {
		case linOK:
			applied[in.Key] = true
		case linUnknown:
			var r *authcapture.Result
			var err error
			switch in.Kind {
			case linCapture, linFinalCapture:
				r, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: h.merchant, ID: h.id, Amount: usd(in.Amount),
					Final: authcapture.Bool(in.Kind == linFinalCapture), IdempotencyKey: in.Key})
			case linVoid:
				r, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: h.merchant, ID: h.id, Amount: usd(in.Amount), IdempotencyKey: in.Key})
			case linVoidAll:
				r, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: h.merchant, ID: h.id, All: true, IdempotencyKey: in.Key})
			case linBeginVoid, linBeginVoidAll, linConfirmVoid, linFailVoid:
				r, err = performVoid(ctx, svc, h.merchant, h.id, in)
			case linRefund, linBeginRefund, linConfirmRefund, linFailRefund:
				r, err = performRefund(ctx, svc, h.merchant, h.id, in)
			}
			if err == nil {
				applied[in.Key] = true
				assert.Equal(t, in.Key, r.Entry.IdempotencyKey)
				if r.Replayed {
					replayed++
				} else {
					decided++
				}
				continue
			}
			decided++
			if rejection(err) == nil {
				t.Errorf("retry of %s with key %s: %v", in.Kind, in.Key, err)
			}
		}
	}
	t.Logf("%s: retried %d commands of unknown outcome: %d had committed and replayed, %d were decided anew",
		h.id, replayed+decided, replayed, decided)
	entries, err := svc.Log(ctx, h.merchant, h.id)
	require.NoError(t, err)
	versions := map[string]map[int64]bool{}
	for _, e := range entries {
		if e.IdempotencyKey == "" {
			continue
		}
		if versions[e.IdempotencyKey] == nil {
			versions[e.IdempotencyKey] = map[int64]bool{}
		}
		versions[e.IdempotencyKey][e.Version] = true
	}
	for key, vs := range versions {
		assert.Len(t, vs, 1, "key %s was applied by %d commands", key, len(vs))
	}
	for key := range applied {
		assert.Len(t, versions[key], 1, "accepted key %s is not in the log once", key)
	}
}

// errReplyLost stands for a connection lost mid-call: it is none of the
// library's sentinels, so the caller cannot know whether a write committed.
var errReplyLost = errors.New("storetest: injected: connection lost, reply unknown")

// lossyStore loses some replies of the store it wraps: 4% of writes fail
// before reaching it, 4% fail after they committed, 2% of reads fail.
// Over a Locker it is a lossyLocker.
type lossyStore struct {
	authcapture.Store
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *lossyStore) roll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(100)
}

func (s *lossyStore) Write(ctx context.Context, w *authcapture.Write) error {
	return s.lossy(ctx, w, s.Store.Write, nil)
}

// lossy runs write(ctx, w) with the store's losses: 4% of the calls fail
// before it (after drop, if not nil, undoes what went before), 4% after
// it committed.
func (s *lossyStore) lossy(ctx context.Context, w *authcapture.Write,
	write func(context.Context, *authcapture.Write) error, drop func()) error {
	switch r := s.roll(); {
	case r < 4:
		if drop != nil {
			drop()
		}
		return errReplyLost
	case r < 8:
		if err := write(ctx, w); err != nil {
			return err
		}
		return errReplyLost
	}
	return write(ctx, w)
}

func (s *lossyStore) Get(ctx context.Context, merchantID, id string) (*authcapture.Authorization, error) {
	if s.roll() < 2 {
		return nil, errReplyLost
	}
	return s.Store.Get(ctx, merchantID, id)
}

// lossyLocker is a lossyStore over a Locker: its locks fail as its reads
// do, and its locked writes lose replies as its plain writes do.
type lossyLocker struct {
	*lossyStore
	locker authcapture.Locker
}

func (s lossyLocker) Lock(ctx context.Context, merchantID, id string) (*authcapture.Authorization, authcapture.Lock, error) {
	if s.roll() < 2 {
		return nil, nil, errReplyLost
	}
	a, lock, err := s.locker.Lock(ctx, merchantID, id)
	if err != nil {
		return nil, nil, err
	}
	return a, &lossyLock{Lock: lock, s: s.lossyStore}, nil
}

type lossyLock struct {
	authcapture.Lock
	s *lossyStore
}

func (l *lossyLock) Write(ctx context.Context, w *authcapture.Write) error {
	// A write lost before it reached the store: the connection is gone,
	// and nothing commits.
	return l.s.lossy(ctx, w, l.Lock.Write, func() { _ = l.Lock.Release(ctx) })
}

// testCheckerRejectsWrongModel records a sequential history on the store
// and checks it twice: against the ledger model it must pass, against a
// model that forgets what captures take it must fail. A checker that cannot
// fail on a real history proves nothing.
func testCheckerRejectsWrongModel(t *testing.T, handles []authcapture.Store) {
	ctx := testContext(t)
	clock := clocktest.New(epoch)
	svc := newService(t, handles[0], clock)
	other := newService(t, handles[len(handles)-1], clock)
	a := approve(t, svc, "m-lin", "sanity", 10000)
	h := history{merchant: "m-lin", id: "sanity", initial: model.Of(a, authcapture.DefaultPolicy)}
	rec := newRecorder()
	for k, in := range []linInput{
		{Kind: linCapture, Amount: 300}, {Kind: linGet}, {Kind: linVoid, Amount: 200}, {Kind: linGet},
		{Kind: linCapture, Amount: 100000}, {Kind: linExpire}, {Kind: linGet}, {Kind: linCapture, Amount: 1},
	} {
		in.Key = fmt.Sprintf("sanity-%d", k)
		s := []*authcapture.Service{svc, other}[k%2]
		rec.do(0, in, func() linOutput {
			if in.Kind == linExpire {
				clock.Set(a.ExpiresAt)
				return linOutput{Outcome: linOK}
			}
			return perform(ctx, s, h.merchant, h.id, in)
		})
	}
	h.ops = rec.ops
	require.Equal(t, porcupine.Ok, checkHistory(t, ledgerModel(h.initial), h), "the ledger model accepts the store's history")

	wrong := ledgerModel(h.initial)
	wrong.Step = func(state, input, output any) (bool, any) {
		if in := input.(linInput); in.Kind == linCapture {
			in.Kind = linGet // captures take nothing
			out := output.(linOutput)
			if out.Outcome == linOK {
				out.View = state.(model.Ledger).View()
			}
			return step(state, in, out)
		}
		return step(state, input, output)
	}
	res, _ := porcupine.CheckOperationsVerbose(wrong, h.ops, linCheckTimeout)
	assert.Equal(t, porcupine.Illegal, res, "a model that forgets captures must reject the store's history")
}

// forgedHistory is a history made up by hand, and whether the ledger model
// must accept it.
type forgedHistory struct {
	name string
	ok   bool
	ops  []porcupine.Operation
}

// forgedInitial is an authorization of 10.00 USD under the default
// policy, approved at version 2.
var forgedInitial = model.Ledger{Phase: authcapture.PhaseApproved, Policy: authcapture.DefaultPolicy, Currency: "USD",
	Requested: 1000, Authorized: 1000, Version: 2, ExpiresAt: epoch.Add(validity)}

// forgedHistories start from forgedInitial.
func forgedHistories() (model.Ledger, []forgedHistory) {
	initial := forgedInitial
	after := func(l model.Ledger, in linInput) model.View {
		next, err := apply(l, in, "")
		if err != nil {
			panic(err)
		}
		return next.View()
	}
	op := func(client int, in linInput, call, ret int64, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Output: out}
	}
	ok := func(v model.View) linOutput { return linOutput{Outcome: linOK, View: v} }
	rejected := func(err error) linOutput { return linOutput{Outcome: linRejected, Reason: err} }
	unknown := linOutput{Outcome: linUnknown}
	capture := func(n int64) linInput { return linInput{Kind: linCapture, Amount: n} }
	get := linInput{Kind: linGet}
	expire := linInput{Kind: linExpire}

	took600 := after(initial, capture(600))
	overdrawn := took600
	overdrawn.Open, overdrawn.Captured, overdrawn.Version = -200, 1200, 4
	took100 := after(initial, capture(100))
	expiredNow := after(initial, expire)
	return initial, []forgedHistory{
		{"SequentialCapturesOverdraw", false, []porcupine.Operation{
			op(0, capture(600), 0, 10, ok(took600)),
			op(1, capture(600), 20, 30, ok(overdrawn)),
		}},
		{"ConcurrentCapturesOverdraw", false, []porcupine.Operation{
			op(0, capture(600), 0, 20, ok(took600)),
			op(1, capture(600), 10, 30, ok(took600)),
		}},
		{"ConcurrentCapturesOneRejected", true, []porcupine.Operation{
			op(0, capture(600), 0, 20, ok(took600)),
			op(1, capture(600), 10, 30, rejected(authcapture.ErrExceedsCapturable)),
		}},
		{"ReadMissesAnEarlierCapture", false, []porcupine.Operation{
			op(0, capture(100), 0, 10, ok(took100)),
			op(1, get, 20, 30, ok(initial.View())),
		}},
		{"ConcurrentReadMayMissACapture", true, []porcupine.Operation{
			op(0, capture(100), 0, 20, ok(took100)),
			op(1, get, 10, 30, ok(initial.View())),
		}},
		{"WrongRejection", false, []porcupine.Operation{
			op(0, capture(100), 0, 10, rejected(authcapture.ErrExceedsCapturable)),
		}},
		{"ConflictRejectionChangesNothing", true, []porcupine.Operation{
			op(0, capture(100), 0, 10, rejected(authcapture.ErrVersionConflict)),
			op(1, get, 20, 30, ok(initial.View())),
		}},
		{"CaptureAcceptedAfterExpiry", false, []porcupine.Operation{
			op(0, expire, 0, 10, linOutput{Outcome: linOK}),
			op(1, capture(100), 20, 30, ok(took100)),
		}},
		{"CaptureRacingExpiryMayWin", true, []porcupine.Operation{
			op(0, expire, 10, 20, linOutput{Outcome: linOK}),
			op(1, capture(100), 0, 30, ok(took100)),
		}},
		{"ReadAfterExpirySeesItApplied", true, []porcupine.Operation{
			op(0, expire, 0, 10, linOutput{Outcome: linOK}),
			op(1, get, 20, 30, ok(expiredNow)),
			op(1, capture(1), 40, 50, rejected(authcapture.ErrExpired)),
		}},
		{"ReadAfterExpiryMissesIt", false, []porcupine.Operation{
			op(0, expire, 0, 10, linOutput{Outcome: linOK}),
			op(1, get, 20, 30, ok(initial.View())),
		}},
		{"LostReplyMayHaveApplied", true, []porcupine.Operation{
			op(0, capture(100), 0, math.MaxInt64, unknown),
			op(1, get, 20, 30, ok(took100)),
		}},
		{"LostReplyMayNotHaveApplied", true, []porcupine.Operation{
			op(0, capture(100), 0, math.MaxInt64, unknown),
			op(1, get, 20, 30, ok(initial.View())),
		}},
		{"LostReplySeenThenUnseen", false, []porcupine.Operation{
			op(0, capture(100), 0, math.MaxInt64, unknown),
			op(1, get, 20, 30, ok(took100)),
			op(1, get, 40, 50, ok(initial.View())),
		}},
		{"LostReplyNotBeforeItsCall", false, []porcupine.Operation{
			op(1, get, 0, 10, ok(took100)),
			op(0, capture(100), 20, math.MaxInt64, unknown),
		}},
	}
}

// forgedOvercaptures start from forgedInitial under the overcapturing
// policy: 15 percent, at most 3.00 USD, so 10.00 may be captured up to
// 11.50 by a single final capture.
func forgedOvercaptures() (model.Ledger, []forgedHistory) {
	initial := forgedInitial
	initial.Policy = overcapturing
	op := func(client int, in linInput, call, ret int64, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Output: out}
	}
	after := func(l model.Ledger, in linInput) model.Ledger {
		next, err := apply(l, in, "")
		if err != nil {
			panic(err)
		}
		return next
	}
	ok := func(v model.View) linOutput { return linOutput{Outcome: linOK, View: v} }
	rejected := func(err error) linOutput { return linOutput{Outcome: linRejected, Reason: err} }
	final := func(n int64) linInput { return linInput{Kind: linFinalCapture, Amount: n} }
	capture := func(n int64) linInput { return linInput{Kind: linCapture, Amount: n} }
	over := after(initial, final(1150)).View()
	took100 := after(initial, capture(100))
	// What a Service that lets a second capture overcapture would report.
	second := after(took100, final(900)).View()
	second.Captured, second.Overcaptured = 1150, 150
	return initial, []forgedHistory{
		{"OvercaptureOfTheWholeHold", true, []porcupine.Operation{
			op(0, final(1150), 0, 10, ok(over)),
		}},
		{"OvercaptureBeyondTheAllowance", false, []porcupine.Operation{
			op(0, final(1151), 0, 10, ok(over)),
		}},
		{"OvercaptureBeyondTheAllowanceRejected", true, []porcupine.Operation{
			op(0, final(1151), 0, 10, rejected(authcapture.ErrExceedsCapturable)),
		}},
		{"OvercaptureAfterACapture", false, []porcupine.Operation{
			op(0, capture(100), 0, 10, ok(took100.View())),
			op(1, final(1050), 20, 30, ok(second)),
		}},
		{"OvercaptureAfterACaptureRefused", true, []porcupine.Operation{
			op(0, capture(100), 0, 10, ok(took100.View())),
			op(1, final(1050), 20, 30, rejected(authcapture.ErrOvercaptureNotAllowed)),
		}},
		{"OvercaptureRacingACaptureOneWins", true, []porcupine.Operation{
			op(0, capture(100), 0, 20, rejected(authcapture.ErrInvalidStatus)),
			op(1, final(1150), 10, 30, ok(over)),
		}},
	}
}

func testCheckerRejectsForgedHistories(t *testing.T) {
	initial, cases := forgedHistories()
	overInitial, overCases := forgedOvercaptures()
	for _, tc := range overCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := porcupine.CheckOperationsVerbose(ledgerModel(overInitial), tc.ops, linCheckTimeout)
			want := porcupine.Illegal
			if tc.ok {
				want = porcupine.Ok
			}
			assert.Equal(t, want, res)
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, _ := porcupine.CheckOperationsVerbose(ledgerModel(initial), tc.ops, linCheckTimeout)
			want := porcupine.Illegal
			if tc.ok {
				want = porcupine.Ok
			}
			assert.Equal(t, want, res)
		})
	}
}
