package providertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// TestKnownGaps reproduces, step by step, the engine gap the races meet
// (race 3, about one interleaving in a thousand): a two-phase capture
// whose failure is recorded before a void of everything is confirmed. It
// is skipped unless PROVIDERTEST_KNOWN_GAPS is set, until the engine
// closes the gap.
//
//	authorized 100.00; BeginCapture 30.00 (open 70.00); BeginVoid All
//	(reserves 70.00); the provider releases all it holds, 100.00, and then
//	declines the capture; FailCapture returns 30.00 to open (ReleasedBy is
//	not set yet); ConfirmVoid can report at most the 70.00 the void
//	reserves. The ledger ends with 30.00 open; the provider holds nothing.
//
// In the other order (the confirm first) the failed capture's 30.00 is
// released (hold_released), and the books agree.
func TestKnownGaps(t *testing.T) {
	t.Run("failed-capture-before-whole-void-confirm", func(t *testing.T) {
		if os.Getenv("PROVIDERTEST_KNOWN_GAPS") == "" {
			t.Skip("engine gap: ConfirmVoid of a void of everything cannot release what a capture that failed meanwhile returned to open " +
				"(released > reserved is ErrExceedsCapturable), so 30.00 stays open while the provider holds nothing; PROVIDERTEST_KNOWN_GAPS=1 runs it")
		}
		ctx := context.Background()
		clock := clocktest.New(base)
		svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock, Policies: []authcapture.Policy{boundary}})
		if err != nil {
			t.Fatal(err)
		}
		must := func(r *authcapture.Result, err error) *authcapture.Result {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		must(svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m", ID: "a", Currency: "USD", Amount: minor(10000),
			Policy: policyName, IdempotencyKey: "create"}))
		must(svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m", ID: "a", Amount: minor(10000), IdempotencyKey: "auth"}))
		prov := newProvider(nil)
		ref := holdRef{"m", "a"}
		prov.authorize(ref, 10000)

		capID := must(svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m", ID: "a", Amount: minor(3000),
			IdempotencyKey: "begin-capture"})).Entry.CaptureID
		voidID := must(svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: "m", ID: "a", All: true,
			IdempotencyKey: "begin-void"})).Entry.VoidID
		clock.Advance(time.Second)
		v, _ := prov.void(ref, "pv", 0, true)        // releases 100.00
		c, _ := prov.capture(ref, "pc", 3000, false) // declined: nothing held
		if !v.ok || v.amount != 10000 || c.ok {
			t.Fatalf("provider: void %+v, capture %+v", v, c)
		}
		must(svc.FailCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m", ID: "a", CaptureID: capID,
			Reason: "declined", IdempotencyKey: "fail-capture"}))
		released := minor(v.amount)
		if _, err := svc.ConfirmVoid(ctx, authcapture.SettleVoidRequest{MerchantID: "m", ID: "a", VoidID: voidID,
			Released: &released, IdempotencyKey: "confirm-void"}); err != nil {
			t.Logf("confirm with what the provider released (100.00): %v; confirming what the void reserved", err)
			must(svc.ConfirmVoid(ctx, authcapture.SettleVoidRequest{MerchantID: "m", ID: "a", VoidID: voidID,
				IdempotencyKey: "confirm-void-reserved"}))
		}
		a, err := svc.Get(ctx, "m", "a")
		if err != nil {
			t.Fatal(err)
		}
		h := prov.holds[ref]
		if a.Open() != h.held || a.Voided != h.released {
			t.Errorf("ledger open %d voided %d; provider holds %d released %d", a.Open(), a.Voided, h.held, h.released)
		}
	})
}
