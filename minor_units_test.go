package authcapture_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// PayMongo and NjiaPay send integer minor units: "amount": 20000 is 200.00
// PHP. FromMinor turns them into the decimal the Service takes; passing
// decimal.NewFromInt(20000) would mean 20,000.00 PHP.
func ExampleCurrency_FromMinor() {
	ctx := context.Background()
	svc, _ := newExampleService()

	// From a PayMongo payment intent: {"amount": 20000, "currency": "PHP"}.
	var providerAmount int64 = 20000
	php, err := authcapture.ParseCurrency("PHP")
	if err != nil {
		panic(err)
	}
	amount := php.FromMinor(providerAmount)
	fmt.Println(amount.StringFixed(2), "PHP, not", decimal.NewFromInt(providerAmount).StringFixed(2), "PHP")

	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: string(php),
		Amount: amount, Policy: "paymongo", IdempotencyKey: "pi_1"})
	if err != nil {
		panic(err)
	}
	a := r.Authorization
	fmt.Println(a.Requested, "minor units:", a.Currency.Format(a.Requested), a.Currency)
	// Output:
	// 200.00 PHP, not 20000.00 PHP
	// 20000 minor units: 200.00 PHP
}

// FromMinor is exact and the inverse of ToMinor, in every exponent, up to
// MaxMinorUnits.
func TestFromMinorIsTheExactInverseOfToMinor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		currency authcapture.Currency
		minor    int64
		want     string
	}{
		{"PHP", 20000, "200.00"},
		{"USD", 1, "0.01"},
		{"JPY", 500, "500"},
		{"BHD", 1234, "1.234"},
		{"CLF", 10001, "1.0001"},
		{"USD", authcapture.MaxMinorUnits, "9999999999999.99"},
		{"JPY", authcapture.MaxMinorUnits, "999999999999999"},
		{"CLF", authcapture.MaxMinorUnits, "99999999999.9999"},
	}
	for _, tt := range tests {
		d := tt.currency.FromMinor(tt.minor)
		assert.True(t, d.Equal(decimal.RequireFromString(tt.want)), "%d %s = %s, want %s", tt.minor, tt.currency, d, tt.want)
		assert.Equal(t, tt.want, tt.currency.Format(tt.minor))
		back, err := tt.currency.ToMinor(d)
		require.NoError(t, err)
		assert.Equal(t, tt.minor, back, "%s %s round trip", d, tt.currency)
	}
}
