package authcapture

import (
	"fmt"
	"math"
	"math/big"

	"github.com/shopspring/decimal"
)

// MaxMinorUnits is the largest amount the library accepts, in a currency's
// minor units: 999,999,999,999,999 (just under 10 trillion dollars). Every
// ledger is bounded by the authorized amount, so sums never overflow, and
// every amount stays exact in JSON consumers that read numbers as doubles.
const MaxMinorUnits int64 = 999_999_999_999_999

// MaxAmountDigits is the most digits an amount's coefficient may have,
// trailing zeros included. A longer amount, or one whose exponent puts it
// far outside the accepted range, is rejected from its digit count and
// exponent alone, before any arithmetic: a hostile amount costs no more
// than reading it.
const MaxAmountDigits = 40

// Currency is an ISO 4217 alphabetic code, such as "USD". Its exponent (the
// number of digits after the decimal point of its minor unit) comes from the
// ISO 4217 table: JPY 0, USD 2, BHD 3.
type Currency string

// ParseCurrency returns the currency for an ISO 4217 code. Codes are
// upper-case three-letter strings; anything else, or a code the table does
// not know, returns an error wrapping ErrUnknownCurrency.
func ParseCurrency(code string) (Currency, error) {
	if _, ok := currencyExponents[code]; !ok {
		return "", fmt.Errorf("authcapture: %q: %w", truncate(code, 16), ErrUnknownCurrency)
	}
	return Currency(code), nil
}

// Exponent returns the number of minor-unit digits of c, or -1 if c is not
// a known ISO 4217 code.
func (c Currency) Exponent() int {
	e, ok := currencyExponents[string(c)]
	if !ok {
		return -1
	}
	return int(e)
}

// String returns the ISO 4217 code.
func (c Currency) String() string { return string(c) }

// ToMinor converts a positive decimal amount into minor units of c. It is
// exact: an amount with more fractional digits than the currency has (10.001
// USD) returns ErrAmountPrecision rather than being rounded; zero or negative
// amounts return ErrInvalidAmount; amounts above MaxMinorUnits return
// ErrAmountTooLarge.
func (c Currency) ToMinor(d decimal.Decimal) (int64, error) {
	exp := c.Exponent()
	if exp < 0 {
		return 0, fmt.Errorf("authcapture: %q: %w", truncate(string(c), 16), ErrUnknownCurrency)
	}
	if err := checkAmount(d); err != nil {
		return 0, err
	}
	if d.NumDigits() <= 18 {
		// Fast path: the coefficient fits an int64, no allocation.
		coef := d.CoefficientInt64()
		shift := int(d.Exponent()) + exp
		switch {
		case shift >= 0:
			if shift > 15 {
				return 0, tooLarge(d, c)
			}
			p := pow10[shift]
			if coef > MaxMinorUnits/p {
				return 0, tooLarge(d, c)
			}
			return coef * p, nil
		case shift < -18:
			return 0, tooPrecise(d, c)
		default:
			p := pow10[-shift]
			if coef%p != 0 {
				return 0, tooPrecise(d, c)
			}
			if coef/p > MaxMinorUnits {
				return 0, tooLarge(d, c)
			}
			return coef / p, nil
		}
	}
	m := d.Shift(int32(exp))
	if !m.IsInteger() {
		return 0, tooPrecise(d, c)
	}
	if m.Cmp(decimal.NewFromInt(MaxMinorUnits)) > 0 {
		return 0, tooLarge(d, c)
	}
	return m.IntPart(), nil
}

// FromMinor returns the decimal value of an amount in minor units of c,
// exactly, with the currency's number of fractional digits: 20000 PHP
// minor units are 200.00 PHP. Use it for providers that send integer minor
// units (PayMongo, NjiaPay): decimal.NewFromInt(20000) would be 20,000.00.
// It is the inverse of ToMinor. A code the table does not know is taken as
// exponent 0; check it first with ParseCurrency.
func (c Currency) FromMinor(minor int64) decimal.Decimal {
	exp := c.Exponent()
	if exp < 0 {
		exp = 0
	}
	return decimal.New(minor, int32(-exp))
}

// Format returns minor as a fixed-point string with the currency's digits,
// such as "4.50" for 450 USD cents.
func (c Currency) Format(minor int64) string {
	exp := c.Exponent()
	if exp < 0 {
		exp = 0
	}
	return c.FromMinor(minor).StringFixed(int32(exp))
}

// ParseAmount parses a decimal string such as "10.50" into minor units of c,
// with the same rules as ToMinor. Exponents ("1e3"), signs and surrounding
// spaces are rejected as malformed.
func ParseAmount(s string, c Currency) (int64, error) {
	if len(s) == 0 {
		return 0, fmt.Errorf("authcapture: the amount is empty: %w", ErrInvalidAmount)
	}
	if len(s) > 40 {
		return 0, fmt.Errorf("authcapture: %q is longer than 40 characters: %w", truncate(s, 48), ErrInvalidAmount)
	}
	dot := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
		case ch == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return 0, fmt.Errorf("authcapture: %q is not a plain decimal such as 10.50: %w", truncate(s, 48), ErrInvalidAmount)
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("authcapture: %q is not a plain decimal such as 10.50: %w", truncate(s, 48), ErrInvalidAmount)
	}
	return c.ToMinor(d)
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// checkAmount rejects a zero or negative amount, and one that could never
// be accepted judging by its exponent and digit count alone: more than
// MaxAmountDigits digits, at least 10^16 (above MaxMinorUnits in every
// currency), or with far more fractional digits than any currency has. It
// does no decimal arithmetic and its cost is at most linear in the amount's
// size, so what follows it works on at most MaxAmountDigits digits and an
// exponent that cannot overflow.
func checkAmount(d decimal.Decimal) error {
	if d.Sign() <= 0 {
		return fmt.Errorf("authcapture: %s given: %w", amountString(d), ErrInvalidAmount)
	}
	e := int(d.Exponent())
	if e > maxAmountExp {
		return fmt.Errorf("authcapture: %s given, above the maximum in every currency: %w", amountString(d), ErrAmountTooLarge)
	}
	if e >= minAmountExp && d.Cmp(amountBounds[e-minAmountExp]) < 0 {
		return nil // at most MaxAmountDigits digits, a plausible exponent
	}
	// Rare: count the digits, exactly when there are few, else at least
	// this many, as 2^(bits-1) <= the coefficient.
	bits := d.Coefficient().BitLen()
	digits := int(float64(bits-1)*math.Log10(2)) + 1
	if bits <= 8*MaxAmountDigits {
		digits = d.NumDigits()
	}
	switch {
	case digits-1+e > maxAmountExp:
		return fmt.Errorf("authcapture: %s given, above the maximum in every currency: %w", amountString(d), ErrAmountTooLarge)
	case digits > MaxAmountDigits:
		return fmt.Errorf("authcapture: %s given, more than %d digits: %w", amountString(d), MaxAmountDigits, ErrInvalidAmount)
	default:
		return fmt.Errorf("authcapture: %s given, more fractional digits than any currency has: %w", amountString(d), ErrAmountPrecision)
	}
}

// Exponents an amount may have: from 10^16 up the amount is too large in
// every currency, and below minAmountExp even MaxAmountDigits digits cannot
// reach a currency's minor unit.
const (
	maxAmountExp = 15
	minAmountExp = -2 * MaxAmountDigits
)

// amountBounds[e-minAmountExp] is 10^MaxAmountDigits written with exponent
// e: an amount with exponent e and more than MaxAmountDigits digits is at
// least that, and comparing two decimals of one exponent costs no
// arithmetic.
var amountBounds = func() []decimal.Decimal {
	b := make([]decimal.Decimal, maxAmountExp-minAmountExp+1)
	coef := new(big.Int).Exp(big.NewInt(10), big.NewInt(MaxAmountDigits), nil)
	for i := range b {
		b[i] = decimal.NewFromBigInt(coef, int32(i+minAmountExp))
	}
	return b
}()

func tooLarge(d decimal.Decimal, c Currency) error {
	return fmt.Errorf("authcapture: %s %s given, the maximum is %s %s: %w",
		amountString(d), c, c.Format(MaxMinorUnits), c, ErrAmountTooLarge)
}

func tooPrecise(d decimal.Decimal, c Currency) error {
	return fmt.Errorf("authcapture: %s %s given, %s has %d fractional digits: %w",
		amountString(d), c, c, c.Exponent(), ErrAmountPrecision)
}

// amountString renders d for an error message without expanding absurd
// exponents into megabytes of zeros.
func amountString(d decimal.Decimal) string {
	if bits := d.Coefficient().BitLen(); bits > 4*MaxAmountDigits {
		return fmt.Sprintf("a number of about %d digits", int(float64(bits-1)*math.Log10(2))+1)
	}
	if e := d.Exponent(); e > 30 || e < -30 || d.NumDigits() > MaxAmountDigits {
		return d.ScientificNotationString()
	}
	return d.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// currencyExponents lists the active ISO 4217 codes with their minor-unit
// exponents, and two withdrawn ones that stay accepted so that a hold taken
// in them can still be read, captured and voided: ANG (replaced by XCG in
// 2025) and BGN (Bulgaria adopted the euro on 2026-01-01). Codes without a
// minor unit in ISO 4217 (XAU and the like) and most fund codes (BOV, CHE,
// CHW, COU, MXV, USN, XAD) are not accepted: they are not card currencies.
// internal/currencytest compares the table with a reference.
var currencyExponents = func() map[string]int8 {
	m := make(map[string]int8, 180)
	two := []string{
		"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
		"BAM", "BBD", "BDT", "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN",
		"BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP",
		"CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
		"FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL",
		"HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
		"KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL",
		"MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
		"MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN",
		"PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD",
		"SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
		"SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD",
		"TZS", "UAH", "USD", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG",
		"YER", "ZAR", "ZMW", "ZWG",
	}
	zero := []string{
		"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
	}
	three := []string{"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
	four := []string{"CLF", "UYW"}
	for _, c := range two {
		m[c] = 2
	}
	for _, c := range zero {
		m[c] = 0
	}
	for _, c := range three {
		m[c] = 3
	}
	for _, c := range four {
		m[c] = 4
	}
	return m
}()
