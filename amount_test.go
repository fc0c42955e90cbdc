package authcapture_test

import (
	"context"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
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

// An amount with far too many digits is rejected from its digit count and
// exponent, with the sentinel that says why.
func TestOversizedAmountIsRejectedByItsSize(t *testing.T) {
	t.Parallel()
	pow10 := func(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }
	tests := []struct {
		name string
		d    decimal.Decimal
		want error
	}{
		{"1 and 100,000 zeros", decimal.NewFromBigInt(pow10(100_000), 0), authcapture.ErrAmountTooLarge},
		{"1. and 100,000 zeros", decimal.NewFromBigInt(pow10(100_000), -100_000), authcapture.ErrInvalidAmount},
		{"0. 99,999 zeros and 1", decimal.New(1, -100_000), authcapture.ErrAmountPrecision},
		{"1 and MaxAmountDigits zeros", decimal.NewFromBigInt(pow10(authcapture.MaxAmountDigits), 0), authcapture.ErrAmountTooLarge},
		{"1. and MaxAmountDigits zeros", decimal.NewFromBigInt(pow10(authcapture.MaxAmountDigits), -authcapture.MaxAmountDigits), authcapture.ErrInvalidAmount},
	}
	for _, tt := range tests {
		for cmd, err := range amountCommands(t, tt.d) {
			assert.ErrorIs(t, err, tt.want, "%s %s", cmd, tt.name)
			assert.Less(t, len(err.Error()), 300, "%s: the message does not spell out the amount", cmd)
		}
	}
	// MaxAmountDigits digits are accepted.
	minor, err := authcapture.Currency("USD").ToMinor(amt("1." + strings.Repeat("0", authcapture.MaxAmountDigits-1)))
	require.NoError(t, err)
	assert.Equal(t, int64(100), minor)
}

// BenchmarkOversizedAmount times the rejection of an amount of 1,001 digits
// and of one of 100,001 ("1" and zeros) by ToMinor and by Capture, in the
// same loop, and reports the ratio of the two (x-1e5/1e3: 100 when the cost
// is linear in the digits, 10,000 were it quadratic) and the larger
// rejection's cost over parsing the amount's string (x-parse).
func BenchmarkOversizedAmount(b *testing.B) {
	smallText := "1" + strings.Repeat("0", 1_000)
	largeText := "1" + strings.Repeat("0", 100_000)
	small, large := decimal.RequireFromString(smallText), decimal.RequireFromString(largeText)
	ctx := context.Background()
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: decimal.NewFromInt(10), IdempotencyKey: "c"})
	if err != nil {
		b.Fatal(err)
	}
	id := r.Authorization.ID
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: decimal.NewFromInt(10), IdempotencyKey: "a"}); err != nil {
		b.Fatal(err)
	}
	commands := []struct {
		name string
		run  func(d decimal.Decimal) error
	}{
		{"ToMinor", func(d decimal.Decimal) error { _, err := authcapture.Currency("USD").ToMinor(d); return err }},
		{"Capture", func(d decimal.Decimal) error {
			_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: d, IdempotencyKey: "k"})
			return err
		}},
	}
	for _, c := range commands {
		b.Run(c.name, func(b *testing.B) {
			var tSmall, tLarge, tParse time.Duration
			for b.Loop() {
				start := time.Now()
				errSmall := c.run(small)
				tSmall += time.Since(start)
				start = time.Now()
				errLarge := c.run(large)
				tLarge += time.Since(start)
				start = time.Now()
				_, _ = decimal.NewFromString(largeText)
				tParse += time.Since(start)
				if !errors.Is(errSmall, authcapture.ErrAmountTooLarge) || !errors.Is(errLarge, authcapture.ErrAmountTooLarge) {
					b.Fatal(errSmall, errLarge)
				}
			}
			b.ReportMetric(float64(tLarge)/float64(tSmall), "x-1e5/1e3")
			b.ReportMetric(float64(tLarge)/float64(tParse), "x-parse")
		})
	}
}

// The currency table knows XCG, which replaced ANG, and keeps accepting
// the withdrawn ANG and BGN so that holds taken in them can still be
// settled. (internal/currencytest compares the whole table with a
// reference.)
func TestCurrencyTableKnowsXCGAndKeepsWithdrawnCodes(t *testing.T) {
	t.Parallel()
	for code, exp := range map[authcapture.Currency]int{"XCG": 2, "VED": 2, "EUR": 2, "ANG": 2, "BGN": 2, "XAU": -1, "CHE": -1} {
		assert.Equal(t, exp, code.Exponent(), "%s", code)
	}
	minor, err := authcapture.ParseAmount("12.34", "XCG")
	require.NoError(t, err)
	assert.Equal(t, int64(1234), minor)
}
