package authcapture_test

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// amountCommands runs every command that takes an amount with d, on a fresh
// authorized hold of 10.00 USD, and returns each command's error.
func amountCommands(t *testing.T, d decimal.Decimal) map[string]error {
	t.Helper()
	errs := map[string]error{}
	f := setup(t)
	_, errs["Create"] = f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: d, IdempotencyKey: "c"})
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: "k1"})
	require.NoError(t, err)
	id := r.Authorization.ID
	_, errs["Authorize"] = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: d, IdempotencyKey: "a"})
	_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("10"), IdempotencyKey: "k2"})
	require.NoError(t, err)
	before := f.get(id)
	_, errs["Capture"] = f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: d, IdempotencyKey: "k"})
	_, errs["BeginCapture"] = f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: d, IdempotencyKey: "k"})
	_, errs["Void"] = f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: d, IdempotencyKey: "k"})
	_, errs["ToMinor"] = authcapture.Currency("USD").ToMinor(d)
	assert.Equal(t, before, f.get(id), "nothing changed")
	return errs
}

// An amount whose exponent is at the edge of int32 is a typed error from
// every command and from ToMinor, never a panic.
func TestAmountWithExtremeExponentIsATypedError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    decimal.Decimal
		want error
	}{
		{decimal.New(1234567890123456789, math.MaxInt32), authcapture.ErrAmountTooLarge},
		{decimal.New(1, math.MaxInt32), authcapture.ErrAmountTooLarge},
		{decimal.New(1234567890123456789, math.MinInt32), authcapture.ErrAmountPrecision},
		{decimal.New(1, math.MinInt32), authcapture.ErrAmountPrecision},
		{decimal.New(-1, math.MaxInt32), authcapture.ErrInvalidAmount},
	}
	for _, tt := range tests {
		for cmd, err := range amountCommands(t, tt.d) {
			assert.ErrorIs(t, err, tt.want, "%s %s", cmd, tt.d.ScientificNotationString())
			if cmd != "ToMinor" {
				var e *authcapture.Error
				assert.ErrorAs(t, err, &e, "%s: a typed error", cmd)
			}
		}
	}
}
