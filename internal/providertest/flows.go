package providertest

import (
	"errors"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
)

// flow is one host command across the provider boundary, advanced a step
// at a time: decide, call the provider (whose reply may be lost, so the
// call is repeated with the same key), record the answer (retried while
// the error is temporary, and sometimes delivered twice). The host may
// also crash after the provider's answer and never record it: the
// provider's webhook does.
type flow struct {
	name     string
	ref      holdRef
	state    int
	done     bool
	attempts int
	lastErr  error
	run      func(f *flow)
}

// Flow states shared by the flows: waiting for the webhook of an action
// the host crashed before recording, and delivering a recorded outcome
// again.
const (
	stateCrashed = 98
	stateAgain   = 99
)

func (w *world) stepFlow(f *flow) {
	f.attempts++
	f.run(f)
	if (f.done || f.state == stateAgain) && w.busy[f.ref] == f {
		delete(w.busy, f.ref)
	}
}

func (w *world) add(name string, ref holdRef, run func(f *flow)) *flow {
	f := &flow{name: name, ref: ref, run: run}
	w.flows = append(w.flows, f)
	return f
}

// host is the shape of one host action across the provider boundary.
// Direct: the host locks the authorization, decides, the provider acts,
// then the host records its answer (the webhook does if the host
// crashed). Two-phase: the host begins in the ledger, the provider acts,
// then the host settles (the webhook does if the host crashed).
type host struct {
	direct bool
	// begin decides (and, two-phase, begins in the ledger) once the lock
	// is had: false leaves the flow in its first state, or done.
	begin func(f *flow) bool
	// call asks the provider to act, with the same key on each call.
	call func(f *flow) answer
	// answered handles a direct action's answer; nil: w.answered.
	answered func(f *flow, ans answer)
	// record records (direct) or settles (two-phase) the answer;
	// replay delivers it again.
	record func(f *flow, replay bool)
}

// addHost adds the flow h of name on ref: first begin, then the provider
// call (repeated while its reply is lost), then the record.
func (w *world) addHost(name string, ref holdRef, h host) *flow {
	var ans answer
	return w.add(name, ref, func(f *flow) {
		switch f.state {
		case 0:
			if w.lock(f, h.direct) && h.begin(f) {
				f.state = 1
			}
		case 1:
			ans = h.call(f)
			switch {
			case h.direct && w.lostReply():
			case h.direct && h.answered != nil:
				h.answered(f, ans)
			case h.direct:
				w.answered(f, ans)
			case w.lostReply():
			case w.crash():
				w.tracef("%s: host crashed after the provider's answer %s", f.name, ans.id)
				f.done = true // the webhook settles it
			default:
				f.state = 2
			}
		case 2:
			h.record(f, false)
		case stateCrashed:
			w.waitWebhook(f, ans)
		case stateAgain:
			h.record(f, true)
		}
	})
}

// providerErr reports an error from the provider model itself.
func (w *world) providerErr(err error) {
	if err != nil {
		w.problemf("%v", err)
	}
}

// settled settles a two-phase action with ans: through the outcome, or
// with the host's confirm or fail command. A settle that finds the
// action settled already (by its webhook) ends the flow.
func (w *world) settled(f *flow, what string, ans answer, via, replay bool, settle func() (*authcapture.Result, error)) {
	var r *authcapture.Result
	var err error
	if via {
		r, err = w.outcome(ans)
	} else {
		r, err = settle()
	}
	if !via && !replay && settledMeanwhile(err) {
		w.tracef("%s: settled meanwhile: %v", f.name, err)
		f.done = true
		return
	}
	w.recorded(f, "settle "+what+" ok="+boolString(ans.ok), r, err, replay)
}

// lock reports whether f may act on its authorization now. A careful host
// records one direct action of an authorization before it starts another
// action there: what the provider did and the ledger does not know yet
// must not be released by a final capture or a void of everything that
// the ledger counts from its own open amount. f keeps the lock until its
// outcome is recorded (direct; by the webhook if the host crashed) or
// only while it begins (two-phase).
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

// crash reports whether the host crashes after the provider answered,
// before it records the answer.
func (w *world) crash() bool { return w.rng.Float64() < w.crashes }

// again reports whether an outcome already recorded is delivered again.
func (w *world) again() bool { return w.rng.Float64() < 0.3 }

// viaOutcome reports whether the host records a provider's answer
// through RecordOutcome, as its webhook handler does, rather than with
// the command of the action.
func (w *world) viaOutcome() bool { return w.rng.IntN(2) == 0 }

// recorded handles the result of recording a provider's answer: a
// temporary error is retried, a replay of a repeated delivery must say so,
// and any other rejection is a record the ledger refused. It reports
// whether the record is in.
func (w *world) recorded(f *flow, what string, r *authcapture.Result, err error, replay bool) bool {
	switch {
	case err != nil && temporary(err):
		f.lastErr = err
		w.tracef("%s: %s: retry later: %v", f.name, what, err)
		return false
	case err != nil:
		w.problemf("%s: %s refused: %v", f.name, what, err)
		f.done = true
		return false
	case replay && !r.Replayed:
		w.problemf("%s: %s delivered twice was applied twice", f.name, what)
	}
	w.tracef("%s: %s recorded (replay %v): captured %d voided %d open %d pending %d pending void %d", f.name, what, r.Replayed,
		r.Authorization.Captured, r.Authorization.Voided, r.Authorization.Open(), r.Authorization.Pending, r.Authorization.PendingVoid)
	if replay || !w.again() {
		f.done = true
		return true
	}
	f.state = stateAgain // deliver the same outcome again, later
	return true
}

// outcome is the host's record of ans through RecordOutcome: the request
// its webhook handler makes.
func (w *world) outcome(ans answer) (*authcapture.Result, error) {
	r, err := w.svc.RecordOutcome(w.ctx, outcomeRequest(ans))
	if err != nil {
		return nil, err
	}
	return &r.Result, nil
}

// outcomeRequest is the outcome the provider reports for ans. A void of
// the whole hold the host never recorded (no action ID) is reported
// without an amount: a void of everything open.
func outcomeRequest(ans answer) authcapture.OutcomeRequest {
	req := authcapture.OutcomeRequest{MerchantID: ans.ref.merchant, AuthorizationID: ans.ref.id, ProviderRef: ans.id,
		ActionID: ans.actionID, Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded}
	switch ans.op {
	case "void":
		req.Kind = authcapture.OutcomeVoid
	case "refund":
		req.Kind = authcapture.OutcomeRefund
	case "change":
		req.Kind = authcapture.OutcomeAmountChange
	}
	switch {
	case !ans.ok:
		req.Outcome, req.Reason = authcapture.OutcomeFailed, "declined"
	case ans.op == "refund":
		req.Amount, req.CaptureID = minor(ans.amount), ans.captureID
	case ans.op == "change":
		req.Amount = minor(ans.amount) // the new authorized total
	case ans.op == "capture":
		req.Amount, req.Final = minor(ans.amount), authcapture.Bool(ans.final)
	case !ans.all || ans.actionID != "":
		req.Amount = minor(ans.amount)
	}
	return req
}

// answered handles the provider's answer to a direct action: declined,
// nothing to record; crashed, the webhook records it; else record it.
func (w *world) answered(f *flow, ans answer) {
	switch {
	case !ans.ok:
		w.ready(ans)
		f.done = true
	case w.crash():
		w.tracef("%s: host crashed after the provider's answer %s", f.name, ans.id)
		w.ready(ans)
		f.state = stateCrashed
	default:
		f.state = 2
	}
}

// waitWebhook ends a crashed direct flow once the webhook of its action
// is recorded: the host's lock holds until then.
func (w *world) waitWebhook(f *flow, ans answer) {
	if h := w.prov.webhookOf(ans.id); h == nil || h.done > 0 {
		f.done = true
	}
}

// hold keeps the provider from delivering ans's webhook.
func (w *world) hold(ans answer) {
	if h := w.prov.webhookOf(ans.id); h != nil {
		h.ready = false
	}
}

// ready lets the provider deliver ans's webhook.
func (w *world) ready(ans answer) {
	if h := w.prov.webhookOf(ans.id); h != nil {
		h.ready = true
	}
}

// directCapture: the provider captures, then the host records Capture
// (or the outcome).
func (w *world) directCapture(ref holdRef) {
	var amt int64
	var final bool
	var ans answer
	key := w.key("capture")
	via := w.viaOutcome()
	var f *flow
	rec := func(replay bool) {
		var r *authcapture.Result
		var err error
		if via {
			r, err = w.outcome(ans)
		}
		if via && w.unnamedPending(outcomeRequest(ans), err) {
			// The host knows the capture is its own: it records it with
			// Capture, as the conflict asks.
			w.tracef("%s: %v: recording with Capture", f.name, err)
			via = false
			w.hold(ans) // until the record is in (TestEngineGaps/direct-record-after-outcome)
		}
		if !via {
			r, err = w.svc.Capture(w.ctx, authcapture.CaptureRequest{MerchantID: ref.merchant, ID: ref.id, Amount: minor(amt),
				Final: authcapture.Bool(final), ProviderRef: ans.id, IdempotencyKey: key})
		}
		if w.recorded(f, "capture", r, err, replay) {
			w.ready(ans)
		}
	}
	f = w.addHost("direct-capture", ref, host{direct: true,
		begin: func(f *flow) bool { // decide from the host's view of the ledger
			a := w.get(ref)
			avail := a.Open() + a.PendingVoid
			if avail <= 0 {
				f.done = true
				return false
			}
			amt, final = 1+w.rng.Int64N(avail), w.rng.IntN(3) == 0
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.capture(ref, key, "", amt, final, via)
			w.providerErr(err)
			w.tracef("%s: provider capture %s %d final %v: ok %v (via outcome %v)", f.name, ans.id, amt, final, ans.ok, via)
			return ans
		},
		record: func(_ *flow, replay bool) { rec(replay) },
	})
}

// settledMeanwhile reports whether err says that the action a host
// settles was settled already (by its webhook).
func settledMeanwhile(err error) bool {
	return errors.Is(err, authcapture.ErrCaptureSettled) || errors.Is(err, authcapture.ErrNotFound)
}

// twoPhaseCapture: BeginCapture, the provider captures, then the host
// confirms or fails it (or records the outcome).
func (w *world) twoPhaseCapture(ref holdRef) {
	var amt int64
	var final bool
	var capID string
	var ans answer
	key := w.key("begin-capture")
	pkey := w.key("provider-capture")
	skey := w.key("settle-capture")
	via := w.viaOutcome()
	w.addHost("two-phase-capture", ref, host{
		begin: func(f *flow) bool {
			a := w.get(ref)
			if a.Open() <= 0 {
				f.done = true
				return false
			}
			amt, final = 1+w.rng.Int64N(a.Open()), w.rng.IntN(3) == 0
			r, err := w.svc.BeginCapture(w.ctx, authcapture.CaptureRequest{MerchantID: ref.merchant, ID: ref.id,
				Amount: minor(amt), Final: authcapture.Bool(final), IdempotencyKey: key})
			if err != nil {
				w.tracef("%s: begin %d refused: %v", f.name, amt, err)
				f.done = true // nothing reached the provider
				return false
			}
			capID = r.Entry.CaptureID
			w.tracef("%s: begun %s %d final %v", f.name, capID, amt, final)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.capture(ref, pkey, capID, amt, final, true)
			w.providerErr(err)
			w.tracef("%s: provider capture %s %s %d: ok %v", f.name, capID, ans.id, amt, ans.ok)
			return ans
		},
		record: func(f *flow, replay bool) {
			req := authcapture.SettleCaptureRequest{MerchantID: ref.merchant, ID: ref.id, CaptureID: capID, ProviderRef: ans.id,
				IdempotencyKey: skey}
			w.settled(f, "capture", ans, via, replay, func() (*authcapture.Result, error) {
				if ans.ok {
					return w.svc.ConfirmCapture(w.ctx, req)
				}
				req.Reason = "declined"
				return w.svc.FailCapture(w.ctx, req)
			})
		},
	})
}

// directVoid: the provider releases (all it holds, or part), then the
// host records Void (or the outcome).
func (w *world) directVoid(ref holdRef) {
	var amt int64
	var all bool
	var ans answer
	key := w.key("void")
	via := w.viaOutcome()
	var f *flow
	rec := func(replay bool) {
		var r *authcapture.Result
		var err error
		if via {
			r, err = w.outcome(ans)
		}
		if via && w.unnamedPending(outcomeRequest(ans), err) {
			w.tracef("%s: %v: recording with Void", f.name, err)
			via = false
			w.hold(ans) // until the record is in (TestEngineGaps/direct-record-after-outcome)
		}
		if !via {
			req := authcapture.VoidRequest{MerchantID: ref.merchant, ID: ref.id, ProviderRef: ans.id, IdempotencyKey: key}
			if all {
				req.All = true
			} else {
				req.Amount = minor(ans.amount)
			}
			r, err = w.svc.Void(w.ctx, req)
		}
		if w.releasedOtherwise(ref, err) {
			// The hold lapsed before the record, or a final capture let
			// go of it: the ledger released by expiry or with the final
			// capture's remainder what the provider released by the void.
			w.tracef("%s: void not recorded: %v", f.name, err)
			w.ready(ans)
			f.done = true
			return
		}
		if w.recorded(f, "void", r, err, replay) {
			w.ready(ans)
		}
	}
	f = w.addHost("direct-void", ref, host{direct: true,
		begin: func(f *flow) bool {
			a := w.get(ref)
			avail := a.Open() + a.PendingVoid
			if avail <= 0 {
				f.done = true
				return false
			}
			all = w.rng.IntN(2) == 0
			amt = 1 + w.rng.Int64N(avail)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.void(ref, key, "", amt, all, via)
			w.providerErr(err)
			w.tracef("%s: provider void %s %d all %v: ok %v released %d (via outcome %v)", f.name, ans.id, amt, all, ans.ok, ans.amount, via)
			return ans
		},
		record: func(_ *flow, replay bool) { rec(replay) },
	})
}

// releasedOtherwise reports whether err refuses a direct void of ref
// because the ledger released the money otherwise: the hold lapsed, or a
// final capture in flight when the void began closed the authorization.
// The books are compared at the end.
func (w *world) releasedOtherwise(ref holdRef, err error) bool {
	return errors.Is(err, authcapture.ErrExpired) || errors.Is(err, authcapture.ErrInvalidStatus) && w.get(ref).Closed()
}

// wholeRelease is what a host reports for a void of the whole hold that
// the provider answered with released: all of it, which may include what
// a capture that failed after the void began returned to open. More than
// the void's reservation and what is open is held by actions in flight
// that the provider will decline: reported as is, it is refused until
// they have failed. With nothing else in flight, the ledger already gave
// it back otherwise (the hold lapsed meanwhile): the host reports what
// the ledger can take.
func (w *world) wholeRelease(ref holdRef, voidID string, released int64) int64 {
	a := w.get(ref)
	var reserved int64
	others := a.Pending > 0
	for _, pv := range a.PendingVoids {
		if pv.ID == voidID {
			reserved = pv.Amount
		} else {
			others = true
		}
	}
	if most := reserved + a.Open(); released > most && !others {
		return most
	}
	return released
}

// twoPhaseVoid: BeginVoid, the provider releases, then the host confirms
// with what it released, or fails it (or records the outcome).
func (w *world) twoPhaseVoid(ref holdRef) {
	var amt int64
	var all bool
	var voidID string
	var ans answer
	var reported *decimal.Decimal // what the first settle reported released, for its replays
	key := w.key("begin-void")
	pkey := w.key("provider-void")
	skey := w.key("settle-void")
	via := w.viaOutcome()
	var f *flow
	settle := func(replay bool) {
		req := authcapture.SettleVoidRequest{MerchantID: ref.merchant, ID: ref.id, VoidID: voidID, ProviderRef: ans.id,
			IdempotencyKey: skey}
		var r *authcapture.Result
		var err error
		switch {
		case via:
			r, err = w.outcome(ans)
			if all && ans.ok && !replay && errors.Is(err, authcapture.ErrExceedsCapturable) {
				if rel := w.wholeRelease(ref, voidID, ans.amount); rel != ans.amount {
					req := outcomeRequest(ans)
					req.Amount = minor(rel)
					var o *authcapture.OutcomeResult
					if o, err = w.svc.RecordOutcome(w.ctx, req); err == nil {
						r = &o.Result
					}
				}
			}
		case ans.ok:
			if reported == nil || !replay {
				rel := ans.amount
				if all && !replay {
					rel = w.wholeRelease(ref, voidID, rel)
				}
				d := minor(rel)
				reported = &d
			}
			req.Released = reported
			r, err = w.svc.ConfirmVoid(w.ctx, req)
		default:
			req.Reason = "declined"
			r, err = w.svc.FailVoid(w.ctx, req)
		}
		if !via && !replay && settledMeanwhile(err) {
			w.tracef("%s: settled meanwhile: %v", f.name, err)
			f.done = true
			return
		}
		if all && errors.Is(err, authcapture.ErrExceedsCapturable) {
			f.lastErr = err
			w.tracef("%s: released %d: retry once the actions in flight settle: %v", f.name, ans.amount, err)
			return
		}
		w.recorded(f, "settle void ok="+boolString(ans.ok), r, err, replay)
	}
	f = w.addHost("two-phase-void", ref, host{
		begin: func(f *flow) bool {
			a := w.get(ref)
			if a.Open() <= 0 {
				f.done = true
				return false
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
				return false
			}
			voidID, amt = r.Entry.VoidID, r.Entry.Amount
			w.tracef("%s: begun %s %d all %v", f.name, voidID, amt, all)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.void(ref, pkey, voidID, amt, all, true)
			w.providerErr(err)
			w.tracef("%s: provider void %s %s %d: ok %v released %d", f.name, voidID, ans.id, amt, ans.ok, ans.amount)
			return ans
		},
		record: func(_ *flow, replay bool) { settle(replay) },
	})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// changeDelta draws an amount change for a: an increase, or a decrease
// that leaves part of what is open. ok is false if none fits. A careful
// host makes no direct change while a final capture or a void of
// everything is in flight: one that lets go of the hold before the change
// is recorded leaves it unrecordable (as a direct capture would be).
func (w *world) changeDelta(a *authcapture.Authorization, direct bool) (int64, bool) {
	if a.PendingAmountChange != nil || a.ReleasedBy != authcapture.CloseNone || a.Closed() {
		return 0, false
	}
	for _, pc := range a.PendingCaptures {
		if direct && pc.Final {
			return 0, false
		}
	}
	for _, pv := range a.PendingVoids {
		if direct && pv.All {
			return 0, false
		}
	}
	if w.rng.IntN(2) == 0 || a.Open() < 2 {
		return 1 + w.rng.Int64N(amount/2), true
	}
	return -(1 + w.rng.Int64N(a.Open()-1)), true
}

// directChange: the provider changes the hold (or declines), then the
// host records ChangeAmount, approved as a new total or a delta, or
// declined (or the outcome).
func (w *world) directChange(ref holdRef) {
	var delta int64
	var ans answer
	key := w.key("change")
	via := w.viaOutcome()
	byTotal := w.rng.IntN(2) == 0
	var f *flow
	rec := func(replay bool) {
		var r *authcapture.Result
		var err error
		if via {
			r, err = w.outcome(ans)
		} else {
			req := authcapture.AmountChangeRequest{MerchantID: ref.merchant, ID: ref.id, Delta: minor(delta), ProviderRef: ans.id,
				IdempotencyKey: key}
			if byTotal && ans.ok {
				req.Delta, req.Total = decimal.Decimal{}, minor(ans.amount)
			}
			r, err = w.svc.ChangeAmount(w.ctx, req)
		}
		if w.recorded(f, "change", r, err, replay) {
			w.ready(ans)
		}
	}
	f = w.addHost("direct-change", ref, host{direct: true,
		begin: func(f *flow) bool {
			var ok bool
			if delta, ok = w.changeDelta(w.get(ref), true); !ok {
				f.done = true
				return false
			}
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.change(ref, key, "", delta, via)
			w.providerErr(err)
			w.tracef("%s: provider change %s %+d: ok %v total %d (via outcome %v)", f.name, ans.id, delta, ans.ok, ans.amount, via)
			return ans
		},
		answered: func(f *flow, ans answer) {
			if !ans.ok && !via {
				// The host records the declined attempt; its webhook
				// then changes nothing.
				r, err := w.svc.ChangeAmount(w.ctx, authcapture.AmountChangeRequest{MerchantID: ref.merchant, ID: ref.id,
					Delta: minor(delta), Declined: true, Reason: "declined", ProviderRef: ans.id, IdempotencyKey: key})
				if w.releasedOtherwise(ref, err) || errors.Is(err, authcapture.ErrInvalidStatus) {
					// The hold was let go of meanwhile: the attempt, which
					// moved no money, is not recorded.
					w.tracef("%s: declined change not recorded: %v", f.name, err)
				} else {
					w.recorded(f, "declined change", r, err, false)
				}
				w.ready(ans)
				f.done = true
				return
			}
			w.answered(f, ans)
		},
		record: func(_ *flow, replay bool) { rec(replay) },
	})
}

// twoPhaseChange: BeginAmountChange (a decrease reserves its amount), the
// provider changes the hold or declines, then the host confirms or
// declines it (or records the outcome).
func (w *world) twoPhaseChange(ref holdRef) {
	var delta int64
	var changeID string
	var ans answer
	key := w.key("begin-change")
	pkey := w.key("provider-change")
	skey := w.key("settle-change")
	via := w.viaOutcome()
	w.addHost("two-phase-change", ref, host{
		begin: func(f *flow) bool {
			var ok bool
			if delta, ok = w.changeDelta(w.get(ref), false); !ok {
				f.done = true
				return false
			}
			r, err := w.svc.BeginAmountChange(w.ctx, authcapture.AmountChangeRequest{MerchantID: ref.merchant, ID: ref.id,
				Delta: minor(delta), IdempotencyKey: key})
			if err != nil {
				w.tracef("%s: begin %+d refused: %v", f.name, delta, err)
				f.done = true // nothing reached the provider
				return false
			}
			changeID = r.Entry.ChangeID
			w.tracef("%s: begun %s %+d", f.name, changeID, delta)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.change(ref, pkey, changeID, delta, true)
			w.providerErr(err)
			w.tracef("%s: provider change %s %s %+d: ok %v total %d", f.name, changeID, ans.id, delta, ans.ok, ans.amount)
			return ans
		},
		record: func(f *flow, replay bool) {
			req := authcapture.SettleAmountChangeRequest{MerchantID: ref.merchant, ID: ref.id, ChangeID: changeID, ProviderRef: ans.id,
				IdempotencyKey: skey}
			w.settled(f, "change", ans, via, replay, func() (*authcapture.Result, error) {
				if ans.ok {
					return w.svc.ConfirmAmountChange(w.ctx, req)
				}
				req.Reason = "declined"
				return w.svc.DeclineAmountChange(w.ctx, req)
			})
		},
	})
}
