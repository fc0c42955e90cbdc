package providertest

import (
	"time"

	"github.com/authcapture/authcapture"
)

// raceRefunds: the host's direct and two-phase refunds race its
// two-phase captures, a void, the refunds' webhooks (delivered before or after the host's own
// record, twice, or instead of it when the host crashed) and, under the
// boundary policy, the close of the authorization that lets them in. The
// ledger's refunds end equal to the provider's.
func raceRefunds(w *world) {
	pol := refunding.Name
	if w.rng.IntN(3) == 0 {
		pol = policyName // refunds only once the authorization is closed
	}
	ref := w.open(w.merchant("m"), "a1", authcapture.CreateRequest{Policy: pol})
	// Two-phase captures only: a direct capture the provider took while
	// a final one is pending is a documented limit (race 3, 4).
	for range 1 + w.rng.IntN(2) {
		w.twoPhaseCapture(ref)
	}
	if w.rng.IntN(2) == 0 {
		w.directVoid(ref)
	}
	for range 1 + w.rng.IntN(3) {
		if w.rng.IntN(2) == 0 {
			w.directRefund(ref)
		} else {
			w.twoPhaseRefund(ref)
		}
	}
	w.steps(30, time.Minute, nil)
	w.settle()
}

// refundable picks what the host refunds on ref now: the total, or one
// capture that succeeded (half the time), and returns how much the
// ledger lets it refund (zero: nothing now).
func (w *world) refundable(ref holdRef) (captureID string, most int64) {
	a := w.get(ref)
	if !a.Closed() && a.Policy != refunding.Name {
		return "", 0
	}
	if w.rng.IntN(2) == 0 {
		return "", a.Refundable()
	}
	log, err := w.svc.Log(w.ctx, ref.merchant, ref.id)
	if err != nil {
		w.t.Fatal(err)
	}
	left := map[string]int64{} // per capture that succeeded: what it took, less its refunds
	var ids []string
	refunds := map[string]int64{}
	for _, e := range log {
		switch {
		case e.Kind == authcapture.EntryCapture && e.CaptureState == authcapture.ActionSucceeded:
			left[e.CaptureID] += e.Amount
			ids = append(ids, e.CaptureID)
		case e.Kind == authcapture.EntryRefund && e.CaptureID != "":
			switch e.RefundState {
			case authcapture.ActionFailed:
				refunds[e.RefundID] = 0
			default:
				if _, ok := refunds[e.RefundID]; !ok {
					refunds[e.RefundID] = e.Amount
					left[e.CaptureID] -= e.Amount
				}
				continue
			}
			left[e.CaptureID] += e.Amount // a failed refund gives it back
		}
	}
	if len(ids) == 0 {
		return "", a.Refundable()
	}
	id := ids[w.rng.IntN(len(ids))]
	return id, min(left[id], a.Refundable())
}

// directRefund: the provider refunds, then the host records Refund (or
// the outcome). Its webhook may come first.
func (w *world) directRefund(ref holdRef) {
	var amt int64
	var capID string
	var ans answer
	key := w.key("refund")
	via := w.viaOutcome()
	var f *flow
	rec := func(replay bool) {
		var r *authcapture.Result
		var err error
		if via {
			r, err = w.outcome(ans)
		}
		if via && w.unnamedPending(outcomeRequest(ans), err) {
			w.tracef("%s: %v: recording with Refund", f.name, err)
			via = false
		}
		if !via {
			r, err = w.svc.Refund(w.ctx, authcapture.RefundRequest{MerchantID: ref.merchant, ID: ref.id, Amount: minor(amt),
				CaptureID: capID, ProviderRef: ans.id, IdempotencyKey: key})
		}
		w.recorded(f, "refund", r, err, replay)
	}
	f = w.addHost("direct-refund", ref, host{direct: true,
		begin: func(f *flow) bool {
			if capID, amt = w.refundable(ref); amt <= 0 {
				if f.attempts > 40 {
					f.done = true // nothing was ever refundable
				}
				delete(w.busy, ref)
				return false
			}
			amt = 1 + w.rng.Int64N(amt)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.refund(ref, key, "", capID, amt, true) // its webhook may beat the host's record
			w.providerErr(err)
			w.tracef("%s: provider refund %s %d of %q: ok %v (via outcome %v)", f.name, ans.id, amt, capID, ans.ok, via)
			return ans
		},
		record: func(_ *flow, replay bool) { rec(replay) },
	})
}

// twoPhaseRefund: BeginRefund, the provider refunds or declines, then the
// host confirms or fails it (or records the outcome); its webhook may
// settle it first.
func (w *world) twoPhaseRefund(ref holdRef) {
	var amt int64
	var capID, refundID string
	var ans answer
	key := w.key("begin-refund")
	pkey := w.key("provider-refund")
	skey := w.key("settle-refund")
	via := w.viaOutcome()
	w.addHost("two-phase-refund", ref, host{
		begin: func(f *flow) bool {
			if capID, amt = w.refundable(ref); amt <= 0 {
				if f.attempts > 40 {
					f.done = true
				}
				return false
			}
			amt = 1 + w.rng.Int64N(amt)
			r, err := w.svc.BeginRefund(w.ctx, authcapture.RefundRequest{MerchantID: ref.merchant, ID: ref.id,
				Amount: minor(amt), CaptureID: capID, IdempotencyKey: key})
			if err != nil {
				w.problemf("%s: begin refund of %d refused: %v", f.name, amt, err)
				f.done = true
				return false
			}
			refundID = r.Entry.RefundID
			w.tracef("%s: begun %s %d", f.name, refundID, amt)
			return true
		},
		call: func(f *flow) answer {
			var err error
			ans, err = w.prov.refund(ref, pkey, refundID, capID, amt, true)
			w.providerErr(err)
			w.tracef("%s: provider refund %s %s %d: ok %v", f.name, refundID, ans.id, amt, ans.ok)
			return ans
		},
		record: func(f *flow, replay bool) {
			req := authcapture.SettleRefundRequest{MerchantID: ref.merchant, ID: ref.id, RefundID: refundID, ProviderRef: ans.id,
				IdempotencyKey: skey}
			w.settled(f, "refund", ans, via, replay, func() (*authcapture.Result, error) {
				if ans.ok {
					return w.svc.ConfirmRefund(w.ctx, req)
				}
				req.Reason = "declined"
				return w.svc.FailRefund(w.ctx, req)
			})
		},
	})
}
