package providertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// gapWorld is one authorization of 100.00 approved on memstore, with its
// hold at the provider model.
type gapWorld struct {
	t     *testing.T
	ctx   context.Context
	clock *clocktest.Clock
	svc   *authcapture.Service
	prov  *provider
	ref   holdRef
}

func newGapWorld(t *testing.T, expiresAt time.Time) *gapWorld {
	g := &gapWorld{t: t, ctx: context.Background(), clock: clocktest.New(base), ref: holdRef{"m", "a"}}
	var err error
	g.svc, err = authcapture.New(memstore.New(), &authcapture.Options{Clock: g.clock, Policies: []authcapture.Policy{boundary}})
	if err != nil {
		t.Fatal(err)
	}
	g.must(g.svc.Create(g.ctx, authcapture.CreateRequest{MerchantID: "m", ID: "a", Currency: "USD", Amount: minor(10000),
		Policy: policyName, IdempotencyKey: "create"}))
	g.must(g.svc.Authorize(g.ctx, authcapture.AuthorizeRequest{MerchantID: "m", ID: "a", Amount: minor(10000),
		ExpiresAt: expiresAt, IdempotencyKey: "auth"}))
	g.prov = newProvider(nil, g.clock.Now)
	g.prov.authorize(g.ref, 10000, expiresAt)
	return g
}

func (g *gapWorld) must(r *authcapture.Result, err error) *authcapture.Result {
	g.t.Helper()
	if err != nil {
		g.t.Fatal(err)
	}
	return r
}

// books fails t unless the ledger equals the provider's books.
func (g *gapWorld) books() {
	g.t.Helper()
	a, err := g.svc.Get(g.ctx, "m", "a")
	if err != nil {
		g.t.Fatal(err)
	}
	h := g.prov.expire(g.ref)
	if a.Open() != h.held || a.Captured != h.captured || a.Voided+a.Expired != h.released {
		g.t.Errorf("ledger open %d captured %d voided %d expired %d; provider holds %d captured %d released %d",
			a.Open(), a.Captured, a.Voided, a.Expired, h.held, h.captured, h.released)
	}
}

// TestFailedCaptureBeforeWholeVoid: a two-phase capture whose failure is
// recorded before a void of everything is confirmed. The races met it
// about once in a thousand interleavings of race 3 before a whole void
// could report more than it reserved.
//
//	authorized 100.00; BeginCapture 30.00 (open 70.00); BeginVoid All
//	(reserves 70.00); the provider releases all it holds, 100.00, and then
//	declines the capture; FailCapture returns 30.00 to open; ConfirmVoid
//	reports the 100.00 released: 70.00 reserved and 30.00 open.
func TestFailedCaptureBeforeWholeVoid(t *testing.T) {
	g := newGapWorld(t, time.Time{})
	capID := g.must(g.svc.BeginCapture(g.ctx, authcapture.CaptureRequest{MerchantID: "m", ID: "a", Amount: minor(3000),
		IdempotencyKey: "begin-capture"})).Entry.CaptureID
	voidID := g.must(g.svc.BeginVoid(g.ctx, authcapture.VoidRequest{MerchantID: "m", ID: "a", All: true,
		IdempotencyKey: "begin-void"})).Entry.VoidID
	g.clock.Advance(time.Second)
	v, _ := g.prov.void(g.ref, "pv", voidID, 0, true, true)       // releases 100.00
	c, _ := g.prov.capture(g.ref, "pc", capID, 3000, false, true) // declined: nothing held
	if !v.ok || v.amount != 10000 || c.ok {
		t.Fatalf("provider: void %+v, capture %+v", v, c)
	}
	g.must(g.svc.FailCapture(g.ctx, authcapture.SettleCaptureRequest{MerchantID: "m", ID: "a", CaptureID: capID,
		Reason: "declined", IdempotencyKey: "fail-capture"}))
	released := minor(v.amount)
	g.must(g.svc.ConfirmVoid(g.ctx, authcapture.SettleVoidRequest{MerchantID: "m", ID: "a", VoidID: voidID,
		Released: &released, IdempotencyKey: "confirm-void"}))
	g.books()
}

// TestRacesFoundBefore replays, step by step, races the interleavings met
// in the engine (each failed before its fix), and one documented limit.
func TestRacesFoundBefore(t *testing.T) {
	// The provider's webhook of a void of everything reports what the
	// provider released; after ConfirmVoid recorded the same amount (its
	// reservation and what was open), the webhook is refused with
	// ErrOutcomeConflict instead of replayed: the settled entry records
	// the reservation only, the rest is a separate hold_released entry.
	t.Run("whole-void-outcome-after-confirm-with-open", func(t *testing.T) {
		g := newGapWorld(t, time.Time{})
		capID := g.must(g.svc.BeginCapture(g.ctx, authcapture.CaptureRequest{MerchantID: "m", ID: "a", Amount: minor(3000),
			IdempotencyKey: "begin-capture"})).Entry.CaptureID
		voidID := g.must(g.svc.BeginVoid(g.ctx, authcapture.VoidRequest{MerchantID: "m", ID: "a", All: true,
			IdempotencyKey: "begin-void"})).Entry.VoidID
		v, _ := g.prov.void(g.ref, "pv", voidID, 0, true, true)
		g.prov.capture(g.ref, "pc", capID, 3000, false, true)
		g.must(g.svc.FailCapture(g.ctx, authcapture.SettleCaptureRequest{MerchantID: "m", ID: "a", CaptureID: capID,
			Reason: "declined", IdempotencyKey: "fail-capture"}))
		released := minor(v.amount)
		g.must(g.svc.ConfirmVoid(g.ctx, authcapture.SettleVoidRequest{MerchantID: "m", ID: "a", VoidID: voidID,
			Released: &released, ProviderRef: v.id, IdempotencyKey: "confirm-void"}))
		r, err := g.svc.RecordOutcome(g.ctx, outcomeRequest(v))
		if err != nil {
			t.Fatalf("webhook of the void, %s released as confirmed: %v", released, err)
		}
		if r.Effect != authcapture.EffectReplayed {
			t.Errorf("webhook of the void: %s, want replayed", r.Effect)
		}
		g.books()
	})
	// A host that records a direct capture with Capture and its provider
	// reference after the provider's webhook recorded it (RecordOutcome,
	// EffectRecorded) counts it twice: the reference already recorded on
	// the authorization does not make the second record a replay or a
	// conflict. The races hold such a webhook until the host's record is
	// in.
	t.Run("direct-record-after-outcome", func(t *testing.T) {
		g := newGapWorld(t, time.Time{})
		c, _ := g.prov.capture(g.ref, "pc", "", 3000, false, true)
		if _, err := g.svc.RecordOutcome(g.ctx, outcomeRequest(c)); err != nil {
			t.Fatal(err)
		}
		_, err := g.svc.Capture(g.ctx, authcapture.CaptureRequest{MerchantID: "m", ID: "a", Amount: minor(3000),
			Final: authcapture.Bool(false), ProviderRef: c.id, IdempotencyKey: "host-capture"})
		t.Logf("host's Capture after the webhook: %v", err)
		g.books()
	})
	// A direct capture the provider accepted before the hold lapsed,
	// recorded after ExpiresAt (by the host or by its webhook), is
	// refused with ErrExpired: the ledger ends with the amount expired,
	// the provider with it captured. Race 6 leaves direct captures out.
	// A documented limit, not a gap: a capture the provider took before the
	// hold lapsed but recorded only after it is refused with ErrExpired
	// (Captured, Voided and Expired never decrease, and the expiry already
	// released what was open). Hosts near expiry record captures two-phase:
	// a pending capture survives expiry.
	t.Run("direct-capture-recorded-after-expiry-is-refused", func(t *testing.T) {
		g := newGapWorld(t, base.Add(10*time.Minute))
		g.clock.Advance(9 * time.Minute)
		c, _ := g.prov.capture(g.ref, "pc", "", 3000, false, true)
		g.clock.Advance(2 * time.Minute)
		if _, err := g.svc.RecordOutcome(g.ctx, outcomeRequest(c)); !errors.Is(err, authcapture.ErrExpired) {
			t.Fatalf("the webhook of a capture recorded after the hold lapsed: %v, want ErrExpired", err)
		}
	})
	t.Run("two-phase-capture-across-expiry-settles", func(t *testing.T) {
		g := newGapWorld(t, base.Add(10*time.Minute))
		g.clock.Advance(9 * time.Minute)
		capID := g.must(g.svc.BeginCapture(g.ctx, authcapture.CaptureRequest{MerchantID: "m", ID: "a", Amount: minor(3000),
			IdempotencyKey: "begin"})).Entry.CaptureID
		g.prov.capture(g.ref, "pc", "", 3000, false, true)
		g.clock.Advance(2 * time.Minute)
		g.must(g.svc.ConfirmCapture(g.ctx, authcapture.SettleCaptureRequest{MerchantID: "m", ID: "a", CaptureID: capID,
			IdempotencyKey: "confirm"}))
		g.books()
	})
}
