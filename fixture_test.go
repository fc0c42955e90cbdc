package authcapture_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a Service on a fresh memstore with a fake clock, and helpers
// that fail the test on unexpected errors.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *clocktest.Clock
	store *memstore.Store
	svc   *authcapture.Service
	n     int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: clocktest.New(t0), store: memstore.New()}
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: testPolicies})
	require.NoError(t, err)
	f.svc = svc
	return f
}

func amt(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func (f *fixture) key() string {
	f.n++
	return fmt.Sprintf("key-%d", f.n)
}

// hold creates and authorizes an authorization under policy for amount USD.
func (f *fixture) hold(policy, amount string) *authcapture.Authorization {
	f.t.Helper()
	return f.holdIn(policy, "USD", amount)
}

func (f *fixture) holdIn(policy, currency, amount string) *authcapture.Authorization {
	f.t.Helper()
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: currency,
		Amount: amt(amount), Policy: policy, CaptureMode: authcapture.CaptureManual, IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
		Amount: amt(amount), IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Authorization
}

func (f *fixture) capture(id, amount string, final *bool) (*authcapture.Result, error) {
	return f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount),
		Final: final, IdempotencyKey: f.key()})
}

func (f *fixture) void(id, amount string) (*authcapture.Result, error) {
	return f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt(amount), IdempotencyKey: f.key()})
}

func (f *fixture) voidAll(id string) (*authcapture.Result, error) {
	return f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: f.key()})
}

// confirmCapture confirms the two-phase capture capID of id.
func (f *fixture) confirmCapture(id, capID string) (*authcapture.Result, error) {
	return f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: capID,
		IdempotencyKey: f.key()})
}

// failCapture fails the two-phase capture capID of id, for reason.
func (f *fixture) failCapture(id, capID, reason string) (*authcapture.Result, error) {
	return f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: capID,
		Reason: reason, IdempotencyKey: f.key()})
}

func (f *fixture) get(id string) *authcapture.Authorization {
	f.t.Helper()
	a, err := f.svc.Get(f.ctx, "m1", id)
	require.NoError(f.t, err)
	log, err := f.svc.Log(f.ctx, "m1", id)
	require.NoError(f.t, err)
	require.NoError(f.t, storetest.CheckInvariants(a, log))
	return a
}

// amounts renders the ledgers for compact assertions:
// "open/pending/captured/voided/expired status".
func amounts(a *authcapture.Authorization) string {
	c := a.Currency
	return fmt.Sprintf("%s/%s/%s/%s/%s %s", c.Format(a.Open()), c.Format(a.Pending), c.Format(a.Captured),
		c.Format(a.Voided), c.Format(a.Expired), a.Status())
}
