package providertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/authcapture/authcapture"
)

// holdRef names a hold at the provider: the authorization it backs.
type holdRef struct{ merchant, id string }

func (r holdRef) String() string { return r.merchant + "/" + r.id }

// hold is the provider's book of one authorization, in minor units.
type hold struct {
	authorized int64
	held       int64 // still held: authorized - captured - released
	captured   int64
	released   int64 // by voids, the remainder of final captures, and expiry
	expired    int64 // released by the hold's expiry
	captures   int   // accepted captures
	voids      int   // voids that released something
	refunded   int64 // given back by refunds of what was captured
	refunds    int   // accepted refunds
	// capturedBy and refundedOf are the captures the host named (their
	// action IDs) and the refunds of each.
	capturedBy, refundedOf map[string]int64
	expiresAt              time.Time
}

// answer is the provider's first answer to an idempotency key.
type answer struct {
	op       string // "capture", "void" or "refund"
	ref      holdRef
	id       string // the provider's ID for the action
	actionID string // the host's ID for it (the merchant reference), if it gave one
	amount   int64  // captured, or released
	ok       bool   // accepted; false: declined
	all      bool   // a void of the whole hold
	final    bool   // a final capture
	// captureID is the capture a refund names (the host's ID for it);
	// empty for a refund of the total.
	captureID string
}

// webhook is the provider's report of an action's outcome, delivered to
// the host's webhook handler late, twice and in any order.
type webhook struct {
	answer
	// ready: the provider may deliver it now. A host that records a
	// direct action with Capture or Void holds its webhook until its own
	// record is in (see TestDirectRecordAfterOutcome); every other
	// webhook is ready at once.
	ready bool
	done  int // deliveries that were recorded (settled, recorded, replayed or ignored)
}

// provider is a payment provider's model: it holds each authorization's
// amount until the hold expires, captures and voids against what it
// holds, answers every idempotency key with its first answer, and reports
// every new action's outcome by webhook.
type provider struct {
	rng      *rand.Rand
	now      func() time.Time
	decline  float64 // chance that a new capture or void is declined although funds are held
	holds    map[holdRef]*hold
	answers  map[string]answer
	webhooks []*webhook
	seq      int
	calls    int
}

func newProvider(rng *rand.Rand, now func() time.Time) *provider {
	return &provider{rng: rng, now: now, holds: map[holdRef]*hold{}, answers: map[string]answer{}}
}

// authorize puts a hold of amount for ref until expiresAt (zero: never).
func (p *provider) authorize(ref holdRef, amount int64, expiresAt time.Time) {
	p.holds[ref] = &hold{authorized: amount, held: amount, expiresAt: expiresAt}
	p.expire(ref)
}

// expire releases what ref's hold still holds once it has lapsed.
func (p *provider) expire(ref holdRef) *hold {
	h := p.holds[ref]
	if h != nil && !h.expiresAt.IsZero() && !p.now().Before(h.expiresAt) && h.held > 0 {
		h.expired += h.held
		h.released += h.held
		h.held = 0
	}
	return h
}

// replay returns the first answer to key, and whether there was one. A
// key reused for another hold or another operation is a broken key
// scheme: the caller is told so through err.
func (p *provider) replay(key, op string, ref holdRef) (answer, bool, error) {
	a, ok := p.answers[key]
	if !ok {
		return answer{}, false, nil
	}
	if a.op != op || a.ref != ref {
		return a, true, fmt.Errorf("provider key %q of %s %s reused for %s %s", key, a.op, a.ref, op, ref)
	}
	return a, true, nil
}

// record keeps a new action's answer under key and queues its webhook.
func (p *provider) record(key string, a answer, ready bool) answer {
	p.seq++
	prefix := map[string]string{"capture": "pc_", "void": "pv_", "refund": "pr_"}[a.op]
	a.id = prefix + strconv.Itoa(p.seq)
	p.answers[key] = a
	p.webhooks = append(p.webhooks, &webhook{answer: a, ready: ready})
	return a
}

// capture captures amount from ref's hold under key; a final capture
// releases what is still held. It declines when less than amount is held.
// actionID is the host's ID for the capture; ready says whether its
// webhook may be delivered at once.
func (p *provider) capture(ref holdRef, key, actionID string, amount int64, final, ready bool) (answer, error) {
	p.calls++
	if a, ok, err := p.replay(key, "capture", ref); ok {
		return a, err
	}
	h := p.expire(ref)
	a := answer{op: "capture", ref: ref, actionID: actionID, final: final}
	if h != nil && h.held > 0 && amount <= h.held && (p.rng == nil || p.rng.Float64() >= p.decline) {
		a.ok, a.amount = true, amount
		h.held -= amount
		h.captured += amount
		h.captures++
		if actionID != "" {
			if h.capturedBy == nil {
				h.capturedBy, h.refundedOf = map[string]int64{}, map[string]int64{}
			}
			h.capturedBy[actionID] += amount
		}
		if final {
			h.released += h.held
			h.held = 0
		}
	}
	return p.record(key, a, ready), nil
}

// void releases amount (everything held, if all) of ref's hold under key.
// A partial void releases at most what is held; a void declines when
// nothing is held.
func (p *provider) void(ref holdRef, key, actionID string, amount int64, all, ready bool) (answer, error) {
	p.calls++
	if a, ok, err := p.replay(key, "void", ref); ok {
		return a, err
	}
	h := p.expire(ref)
	a := answer{op: "void", ref: ref, actionID: actionID, all: all}
	if h != nil && h.held > 0 && (p.rng == nil || p.rng.Float64() >= p.decline) {
		r := h.held
		if !all {
			r = min(amount, h.held)
		}
		a.ok, a.amount = true, r
		h.held -= r
		h.released += r
		h.voids++
	}
	return p.record(key, a, ready), nil
}

// refund gives back amount of what ref's hold captured under key: of the
// capture the host named captureID, or (empty) of the total. It declines
// when less than amount is captured and not refunded.
func (p *provider) refund(ref holdRef, key, actionID, captureID string, amount int64, ready bool) (answer, error) {
	p.calls++
	if a, ok, err := p.replay(key, "refund", ref); ok {
		return a, err
	}
	h := p.holds[ref]
	a := answer{op: "refund", ref: ref, actionID: actionID, captureID: captureID}
	ok := h != nil && amount <= h.captured-h.refunded
	if ok && captureID != "" {
		ok = amount <= h.capturedBy[captureID]-h.refundedOf[captureID]
	}
	if ok && (p.rng == nil || p.rng.Float64() >= p.decline) {
		a.ok, a.amount = true, amount
		h.refunded += amount
		h.refunds++
		if captureID != "" {
			h.refundedOf[captureID] += amount
		}
	}
	return p.record(key, a, ready), nil
}

// webhookOf returns the webhook of the action the provider named id.
func (p *provider) webhookOf(id string) *webhook {
	for _, h := range p.webhooks {
		if h.id == id {
			return h
		}
	}
	return nil
}

// errUnknown is an executor's unknown outcome: the provider may or may
// not have carried out the task.
var errUnknown = errors.New("provider timed out (outcome unknown)")

// executor is a Scheduler's Executor backed by the provider model. Its
// outcomes are accepted or declined (the provider's answer) or, with the
// chance unknown, unknown: the provider carried out the task or not, at
// random, and the reply is lost.
type executor struct {
	w       *world
	unknown float64
	// forbidden: any call is a failure (a scheduler that must not reach
	// the provider).
	forbidden bool
	calls     int
}

func (e *executor) lost() (lost, done bool) {
	if e.w.rng.Float64() >= e.unknown {
		return false, true
	}
	return true, e.w.rng.IntN(2) == 0
}

func (e *executor) Capture(_ context.Context, task authcapture.CaptureTask) error {
	e.calls++
	if e.forbidden {
		e.w.problemf("scheduler without the policy called the provider: capture %s of %s/%s", task.CaptureID, task.MerchantID, task.AuthorizationID)
		return errUnknown
	}
	e.w.keys[task.Key] = holdRef{task.MerchantID, task.AuthorizationID}
	lost, done := e.lost()
	if !done {
		return errUnknown
	}
	a, err := e.w.prov.capture(holdRef{task.MerchantID, task.AuthorizationID}, task.Key, task.CaptureID, task.Amount, true, true)
	if err != nil {
		e.w.problemf("scheduled capture: %v", err)
	}
	if lost {
		return errUnknown
	}
	if !a.ok {
		return fmt.Errorf("provider declined the capture: %w", authcapture.ErrProviderDeclined)
	}
	return nil
}

func (e *executor) Void(_ context.Context, task authcapture.VoidTask) (int64, error) {
	e.calls++
	if e.forbidden {
		e.w.problemf("scheduler without the policy called the provider: void %s of %s/%s", task.VoidID, task.MerchantID, task.AuthorizationID)
		return 0, errUnknown
	}
	lost, done := e.lost()
	if !done {
		return 0, errUnknown
	}
	a, err := e.w.prov.void(holdRef{task.MerchantID, task.AuthorizationID}, task.Key, task.VoidID, task.Amount, true, true)
	if err != nil {
		e.w.problemf("scheduled void: %v", err)
	}
	if lost {
		return 0, errUnknown
	}
	if !a.ok {
		return 0, fmt.Errorf("provider declined the void: %w", authcapture.ErrProviderDeclined)
	}
	// All the provider released (see wholeRelease): while captures the
	// provider declines are still in flight that is more than the ledger
	// lets the void take; the confirm is refused, and the void, still
	// pending, is re-driven after the lease until they have failed.
	return e.w.wholeRelease(holdRef{task.MerchantID, task.AuthorizationID}, task.VoidID, a.amount), nil
}
