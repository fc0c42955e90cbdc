package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/authcapture/authcapture/memstore"
)

// TestClosedAuthorizationNeverChangesAgain checks invariant 5 against
// every command that could move a hold: once an authorization is closed
// (captured, voided, expired, declined, canceled), each is rejected with a
// typed error and changes nothing (no version, no event, no idempotency
// record); only a refund of captured money may still change it, and then
// only its refund ledger (model.CheckStep).
func TestClosedAuthorizationNeverChangesAgain(t *testing.T) {
	t.Parallel()
	everything := authcapture.Policy{Name: "everything", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true,
		MaxReauthorizations: 3, RefundBeforeFinalCapture: true}
	newFixture := func(t *testing.T) *fixture {
		f := &fixture{t: t, ctx: t.Context(), clock: clocktest.New(t0), store: memstore.New()}
		svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{everything}})
		require.NoError(t, err)
		f.svc = svc
		return f
	}
	created := func(f *fixture) string {
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"),
			Policy: "everything", IdempotencyKey: f.key()})
		require.NoError(f.t, err)
		return r.Authorization.ID
	}
	approved := func(f *fixture) string {
		id := created(f)
		_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: f.key()})
		require.NoError(f.t, err)
		return id
	}
	closings := []struct {
		name     string
		close    func(f *fixture) string
		captured bool
	}{
		{"captured", func(f *fixture) string {
			id := approved(f)
			_, err := f.capture(id, "4", authcapture.Bool(true))
			require.NoError(f.t, err)
			return id
		}, true},
		{"voided", func(f *fixture) string {
			id := approved(f)
			_, err := f.voidAll(id)
			require.NoError(f.t, err)
			return id
		}, false},
		{"expired", func(f *fixture) string {
			id := approved(f)
			f.clock.Advance(8 * 24 * time.Hour)
			return id
		}, false},
		{"declined", func(f *fixture) string {
			id := created(f)
			_, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, IdempotencyKey: f.key()})
			require.NoError(f.t, err)
			return id
		}, false},
		{"canceled", func(f *fixture) string {
			id := created(f)
			_, err := f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: id, IdempotencyKey: f.key()})
			require.NoError(f.t, err)
			return id
		}, false},
	}
	const k = "after-close"
	outcome := func(f *fixture, id string, kind authcapture.OutcomeKind, amount string) error {
		_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "late_" + string(kind),
			Kind: kind, Outcome: authcapture.OutcomeSucceeded, Amount: amt(amount), IdempotencyKey: k})
		return err
	}
	commands := []struct {
		name string
		run  func(f *fixture, id string) error
	}{
		{"Authorize", func(f *fixture, id string) error {
			_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: k})
			return err
		}},
		{"Capture", func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: k})
			return err
		}},
		{"BeginCapture", func(f *fixture, id string) error {
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: k})
			return err
		}},
		{"Void", func(f *fixture, id string) error {
			_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: k})
			return err
		}},
		{"BeginVoid", func(f *fixture, id string) error {
			_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: k})
			return err
		}},
		{"Cancel", func(f *fixture, id string) error {
			_, err := f.svc.Cancel(f.ctx, authcapture.CancelRequest{MerchantID: "m1", ID: id, IdempotencyKey: k})
			return err
		}},
		{"ChangeAmount up", func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), IdempotencyKey: k})
			return err
		}},
		{"BeginAmountChange down", func(f *fixture, id string) error {
			_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("3"),
				IdempotencyKey: k})
			return err
		}},
		{"Reauthorize", func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, IdempotencyKey: k})
			return err
		}},
		{"RecordOutcome of a capture never recorded", func(f *fixture, id string) error {
			return outcome(f, id, authcapture.OutcomeCapture, "1")
		}},
		{"RecordOutcome of a void never recorded", func(f *fixture, id string) error {
			return outcome(f, id, authcapture.OutcomeVoid, "1")
		}},
		{"RecordOutcome of an amount change never recorded", func(f *fixture, id string) error {
			return outcome(f, id, authcapture.OutcomeAmountChange, "12")
		}},
	}
	for _, c := range closings {
		for _, cmd := range commands {
			t.Run(c.name+"/"+cmd.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t)
				id := c.close(f)
				before := f.get(id)
				require.True(t, before.Closed(), "closed")
				evs, err := f.svc.Events(f.ctx, "m1", 0, 1000)
				require.NoError(t, err)

				err = cmd.run(f, id)
				require.Error(t, err)
				var e *authcapture.Error
				require.ErrorAs(t, err, &e, "a typed error")

				assert.Equal(t, before, f.get(id), "nothing changed")
				evs2, err := f.svc.Events(f.ctx, "m1", 0, 1000)
				require.NoError(t, err)
				assert.Equal(t, evs, evs2, "no event")
				_, err = f.store.Idempotency(f.ctx, "m1", k)
				assert.ErrorIs(t, err, authcapture.ErrNotFound, "no idempotency record")
			})
		}
		if !c.captured {
			continue
		}
		t.Run(c.name+"/Refund changes only the refund ledger", func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			id := c.close(f)
			before := f.get(id)
			_, err := f.refund(id, "1", "")
			require.NoError(t, err)
			_, err = f.beginRefund(id, "1", "")
			require.NoError(t, err)
			after := f.get(id)
			require.NoError(t, model.CheckStep(before, after))
			assert.Equal(t, int64(100), after.Refunded)
			assert.Equal(t, int64(100), after.PendingRefund)
			assert.True(t, after.Closed())
		})
	}
}
