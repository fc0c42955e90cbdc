package providertest

import (
	"github.com/authcapture/authcapture"
)

// flow is one host command across the provider boundary, advanced a step
// at a time: decide, call the provider (whose reply may be lost, so the
// call is repeated with the same key), record the answer (retried while
// the error is temporary, and sometimes delivered twice).
type flow struct {
	name     string
	ref      holdRef
	state    int
	done     bool
	attempts int
	lastErr  error
	run      func(f *flow)
}

func (w *world) stepFlow(f *flow) {
	f.attempts++
	f.run(f)
	if (f.done || f.state == 99) && w.busy[f.ref] == f {
		delete(w.busy, f.ref)
	}
}

func (w *world) add(name string, ref holdRef, run func(f *flow)) {
	w.flows = append(w.flows, &flow{name: name, ref: ref, run: run})
}

// lock reports whether f may act on its authorization now. A careful host
// records one direct action of an authorization before it starts another
// action there: what the provider did and the ledger does not know yet
// must not be released by a final capture or a void of everything that
// the ledger counts from its own open amount. f keeps the lock until its
// outcome is recorded (direct) or only while it begins (two-phase).
func (w *world) lock(f *flow, keep bool) bool {
	if g := w.busy[f.ref]; g != nil && g != f {
		return false
	}
	if keep {
		w.busy[f.ref] = f
	}
	return true
}

// lostReply reports whether the provider's reply to the host is lost:
// the host calls again later with the same key.
func (w *world) lostReply() bool { return w.rng.Float64() < 0.2 }

// again reports whether an outcome already recorded is delivered again.
func (w *world) again() bool { return w.rng.Float64() < 0.3 }

// recorded handles the result of recording a provider's answer: a
// temporary error is retried, a replay of a repeated delivery must say so,
// and any other rejection is a record the ledger refused.
func (w *world) recorded(f *flow, what string, r *authcapture.Result, err error, replay bool) {
	switch {
	case err != nil && temporary(err):
		f.lastErr = err
		w.tracef("%s: %s: retry later: %v", f.name, what, err)
		return
	case err != nil:
		w.problemf("%s: %s refused: %v", f.name, what, err)
		f.done = true
		return
	case replay && !r.Replayed:
		w.problemf("%s: %s delivered twice was applied twice", f.name, what)
	}
	w.tracef("%s: %s recorded (replay %v): captured %d voided %d open %d pending %d pending void %d", f.name, what, r.Replayed,
		r.Authorization.Captured, r.Authorization.Voided, r.Authorization.Open(), r.Authorization.Pending, r.Authorization.PendingVoid)
	if replay || !w.again() {
		f.done = true
		return
	}
	f.state = 99 // deliver the same outcome again, later
}

// directCapture: the provider captures, then the host records Capture.
func (w *world) directCapture(ref holdRef) {
	var amt int64
	var final bool
	key := w.key("capture")
	var rec func(replay bool)
	w.add("direct-capture", ref, func(f *flow) {
		switch f.state {
		case 0: // decide from the host's view of the ledger
			if !w.lock(f, true) {
				return
			}
			a := w.get(ref)
			avail := a.Open() + a.PendingVoid
			if avail <= 0 {
				f.done = true
				return
			}
			amt, final = 1+w.rng.Int64N(avail), w.rng.IntN(3) == 0
			f.state = 1
		case 1:
			ans, err := w.prov.capture(ref, key, amt, final)
			if err != nil {
				w.problemf("%v", err)
			}
			w.tracef("%s: provider capture %d final %v: ok %v", f.name, amt, final, ans.ok)
			if w.lostReply() {
				return
			}
			if !ans.ok {
				f.done = true
				return
			}
			f.state = 2
		case 2:
			rec(false)
		case 99:
			rec(true)
		}
	})
	f := w.flows[len(w.flows)-1]
	rec = func(replay bool) {
		r, err := w.svc.Capture(w.ctx, authcapture.CaptureRequest{MerchantID: ref.merchant, ID: ref.id, Amount: minor(amt),
			Final: authcapture.Bool(final), IdempotencyKey: key})
		w.recorded(f, "capture", r, err, replay)
	}
}

// twoPhaseCapture: BeginCapture, the provider captures, then the host
// confirms or fails it.
func (w *world) twoPhaseCapture(ref holdRef) {
	var amt int64
	var final bool
	var capID string
	var ans answer
	key := w.key("begin-capture")
	pkey := w.key("provider-capture")
	skey := w.key("settle-capture")
	var f *flow
	settle := func(replay bool) {
		req := authcapture.SettleCaptureRequest{MerchantID: ref.merchant, ID: ref.id, CaptureID: capID, IdempotencyKey: skey}
		var r *authcapture.Result
		var err error
		if ans.ok {
			r, err = w.svc.ConfirmCapture(w.ctx, req)
		} else {
			req.Reason = "declined"
			r, err = w.svc.FailCapture(w.ctx, req)
		}
		w.recorded(f, "settle capture ok="+boolString(ans.ok), r, err, replay)
	}
	w.add("two-phase-capture", ref, func(f *flow) {
		switch f.state {
		case 0:
			if !w.lock(f, false) {
				return
			}
			a := w.get(ref)
			if a.Open() <= 0 {
				f.done = true
				return
			}
			amt, final = 1+w.rng.Int64N(a.Open()), w.rng.IntN(3) == 0
			r, err := w.svc.BeginCapture(w.ctx, authcapture.CaptureRequest{MerchantID: ref.merchant, ID: ref.id,
				Amount: minor(amt), Final: authcapture.Bool(final), IdempotencyKey: key})
			if err != nil {
				w.tracef("%s: begin %d refused: %v", f.name, amt, err)
				f.done = true // nothing reached the provider
				return
			}
			capID = r.Entry.CaptureID
			w.tracef("%s: begun %s %d final %v", f.name, capID, amt, final)
			f.state = 1
		case 1:
			var err error
			ans, err = w.prov.capture(ref, pkey, amt, final)
			if err != nil {
				w.problemf("%v", err)
			}
			w.tracef("%s: provider capture %s %d: ok %v", f.name, capID, amt, ans.ok)
			if !w.lostReply() {
				f.state = 2
			}
		case 2:
			settle(false)
		case 99:
			settle(true)
		}
	})
	f = w.flows[len(w.flows)-1]
}

// directVoid: the provider releases (all it holds, or part), then the
// host records Void.
func (w *world) directVoid(ref holdRef) {
	var amt int64
	var all bool
	var ans answer
	key := w.key("void")
	var f *flow
	rec := func(replay bool) {
		req := authcapture.VoidRequest{MerchantID: ref.merchant, ID: ref.id, IdempotencyKey: key}
		if all {
			req.All = true
		} else {
			req.Amount = minor(ans.amount)
		}
		r, err := w.svc.Void(w.ctx, req)
		w.recorded(f, "void", r, err, replay)
	}
	w.add("direct-void", ref, func(f *flow) {
		switch f.state {
		case 0:
			if !w.lock(f, true) {
				return
			}
			a := w.get(ref)
			avail := a.Open() + a.PendingVoid
			if avail <= 0 {
				f.done = true
				return
			}
			all = w.rng.IntN(2) == 0
			amt = 1 + w.rng.Int64N(avail)
			f.state = 1
		case 1:
			var err error
			ans, err = w.prov.void(ref, key, amt, all)
			if err != nil {
				w.problemf("%v", err)
			}
			w.tracef("%s: provider void %d all %v: ok %v released %d", f.name, amt, all, ans.ok, ans.amount)
			if w.lostReply() {
				return
			}
			if !ans.ok {
				f.done = true
				return
			}
			f.state = 2
		case 2:
			rec(false)
		case 99:
			rec(true)
		}
	})
	f = w.flows[len(w.flows)-1]
}

// twoPhaseVoid: BeginVoid, the provider releases, then the host confirms
// with what it released, or fails it.
func (w *world) twoPhaseVoid(ref holdRef) {
	var amt int64
	var all bool
	var voidID string
	var ans answer
	key := w.key("begin-void")
	pkey := w.key("provider-void")
	skey := w.key("settle-void")
	var f *flow
	settle := func(replay bool) {
		req := authcapture.SettleVoidRequest{MerchantID: ref.merchant, ID: ref.id, VoidID: voidID, IdempotencyKey: skey}
		var r *authcapture.Result
		var err error
		if ans.ok {
			rel := minor(min(ans.amount, amt))
			req.Released = &rel
			r, err = w.svc.ConfirmVoid(w.ctx, req)
		} else {
			req.Reason = "declined"
			r, err = w.svc.FailVoid(w.ctx, req)
		}
		w.recorded(f, "settle void ok="+boolString(ans.ok), r, err, replay)
	}
	w.add("two-phase-void", ref, func(f *flow) {
		switch f.state {
		case 0:
			if !w.lock(f, false) {
				return
			}
			a := w.get(ref)
			if a.Open() <= 0 {
				f.done = true
				return
			}
			all = w.rng.IntN(2) == 0
			req := authcapture.VoidRequest{MerchantID: ref.merchant, ID: ref.id, IdempotencyKey: key, All: all}
			if !all {
				req.Amount = minor(1 + w.rng.Int64N(a.Open()))
			}
			r, err := w.svc.BeginVoid(w.ctx, req)
			if err != nil {
				w.tracef("%s: begin refused: %v", f.name, err)
				f.done = true
				return
			}
			voidID, amt = r.Entry.VoidID, r.Entry.Amount
			w.tracef("%s: begun %s %d all %v", f.name, voidID, amt, all)
			f.state = 1
		case 1:
			var err error
			ans, err = w.prov.void(ref, pkey, amt, all)
			if err != nil {
				w.problemf("%v", err)
			}
			w.tracef("%s: provider void %s %d: ok %v released %d", f.name, voidID, amt, ans.ok, ans.amount)
			if !w.lostReply() {
				f.state = 2
			}
		case 2:
			settle(false)
		case 99:
			settle(true)
		}
	})
	f = w.flows[len(w.flows)-1]
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
