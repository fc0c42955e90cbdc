package authcapture_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Each error says what went wrong once: the operation, the authorization
// and its status, the sentinel, then what exactly was wrong, never the
// sentinel again.
func TestErrorTextSaysItOnce(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "a1", Currency: "USD", Amount: amt("10"), IdempotencyKey: "c"})
	require.NoError(t, err)
	_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "a1", Amount: amt("10"), IdempotencyKey: "a"})
	require.NoError(t, err)
	capture := func(req authcapture.CaptureRequest) error {
		req.MerchantID, req.ID, req.IdempotencyKey = "m1", "a1", "k"
		_, err := f.svc.Capture(f.ctx, req)
		return err
	}
	tests := []struct {
		err  error
		want string
	}{
		{capture(authcapture.CaptureRequest{Amount: decimal.Zero}),
			"authcapture: capture a1: amount must be a positive decimal: 0 given, and All is not set"},
		{capture(authcapture.CaptureRequest{Amount: amt("10.001")}),
			"authcapture: capture a1 (authorized): amount is more precise than the currency allows: 10.001 USD given, USD has 2 fractional digits"},
		{capture(authcapture.CaptureRequest{Amount: amt("20")}),
			"authcapture: capture a1 (authorized): amount exceeds the amount open to capture: 20.00 > 10.00 open"},
		{capture(authcapture.CaptureRequest{Amount: amt("1"), Reference: "a\u202eb"}),
			"authcapture: capture a1: invalid argument: reference has a control character (U+202E)"},
		{func() error {
			_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "usd", Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}(), `authcapture: create: unknown currency: "usd"`},
		{func() error {
			_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("-1"), IdempotencyKey: "k"})
			return err
		}(), "authcapture: create: amount must be a positive decimal: -1 given"},
		{func() error {
			_, err := f.svc.Get(context.Background(), "m1", "a b")
			return err
		}(), `authcapture: get a b: invalid argument: authorization ID "a b" has a character outside A-Z a-z 0-9 and _ - . or colon`},
		{func() error {
			_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "a1", Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}(), "authcapture: authorize a1 (authorized): command not allowed in the current status"},
		{func() error { _, err := authcapture.ParseAmount("10.001", "USD"); return err }(),
			"authcapture: 10.001 USD given, USD has 2 fractional digits: amount is more precise than the currency allows"},
		{func() error { _, err := authcapture.ParseAmount("1e3", "USD"); return err }(),
			`authcapture: "1e3" is not a plain decimal such as 10.50: amount must be a positive decimal`},
	}
	for _, tt := range tests {
		require.Error(t, tt.err, tt.want)
		assert.Equal(t, tt.want, tt.err.Error())
	}
}
