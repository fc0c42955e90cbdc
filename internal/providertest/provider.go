package providertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

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
	released   int64 // by voids, and the remainder of final captures
	captures   int   // accepted captures
	voids      int   // voids that released something
}

// answer is the provider's first answer to an idempotency key.
type answer struct {
	op     string // "capture" or "void"
	ref    holdRef
	amount int64 // captured, or released
	ok     bool  // accepted; false: declined
}

// provider is a payment provider's model: it holds each authorization's
// amount, captures and voids against what it holds, and answers every
// idempotency key with its first answer.
type provider struct {
	rng     *rand.Rand
	decline float64 // chance that a new capture or void is declined although funds are held
	holds   map[holdRef]*hold
	answers map[string]answer
	calls   int
}

func newProvider(rng *rand.Rand) *provider {
	return &provider{rng: rng, holds: map[holdRef]*hold{}, answers: map[string]answer{}}
}

// authorize puts a hold of amount for ref.
func (p *provider) authorize(ref holdRef, amount int64) {
	p.holds[ref] = &hold{authorized: amount, held: amount}
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

// capture captures amount from ref's hold under key; a final capture
// releases what is still held. It declines when less than amount is held.
func (p *provider) capture(ref holdRef, key string, amount int64, final bool) (answer, error) {
	p.calls++
	if a, ok, err := p.replay(key, "capture", ref); ok {
		return a, err
	}
	h := p.holds[ref]
	a := answer{op: "capture", ref: ref}
	if h != nil && h.held > 0 && amount <= h.held && (p.rng == nil || p.rng.Float64() >= p.decline) {
		a.ok, a.amount = true, amount
		h.held -= amount
		h.captured += amount
		h.captures++
		if final {
			h.released += h.held
			h.held = 0
		}
	}
	p.answers[key] = a
	return a, nil
}

// void releases amount (everything held, if all) of ref's hold under key.
// A partial void releases at most what is held; a void declines when
// nothing is held.
func (p *provider) void(ref holdRef, key string, amount int64, all bool) (answer, error) {
	p.calls++
	if a, ok, err := p.replay(key, "void", ref); ok {
		return a, err
	}
	h := p.holds[ref]
	a := answer{op: "void", ref: ref}
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
	p.answers[key] = a
	return a, nil
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
	a, err := e.w.prov.capture(holdRef{task.MerchantID, task.AuthorizationID}, task.Key, task.Amount, true)
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
	a, err := e.w.prov.void(holdRef{task.MerchantID, task.AuthorizationID}, task.Key, task.Amount, true)
	if err != nil {
		e.w.problemf("scheduled void: %v", err)
	}
	if lost {
		return 0, errUnknown
	}
	if !a.ok {
		return 0, fmt.Errorf("provider declined the void: %w", authcapture.ErrProviderDeclined)
	}
	// What the provider released beyond what the void reserved was
	// reserved by captures in flight; they fail, and give it back as
	// released.
	return min(a.amount, task.Amount), nil
}
