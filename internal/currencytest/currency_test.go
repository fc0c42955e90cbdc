// Package currencytest compares the library's ISO 4217 table with
// github.com/bojanz/currency (its CLDR data), so that a currency added to
// or withdrawn from ISO 4217 is noticed when that module is updated. It is
// a module of its own to keep that dependency out of the library's go.mod.
package currencytest

import (
	"testing"

	"github.com/bojanz/currency"

	"github.com/authcapture/authcapture"
)

// known lists the deliberate differences from the reference, with the
// reason for each: exponent -1 means the library refuses the code.
var known = map[string]struct {
	exponent int
	reason   string
}{
	// Withdrawn codes stay accepted, so that a hold taken in one can
	// still be read, captured and voided, and a late settlement recorded.
	"ANG": {2, "withdrawn: replaced by XCG on 2025-03-31; stays accepted"},
	"BGN": {2, "withdrawn: Bulgaria adopted the euro on 2026-01-01; stays accepted"},

	// Fund and accounting codes are not card currencies.
	"BOV": {-1, "fund code (Bolivian Mvdol), not a card currency"},
	"CHE": {-1, "fund code (WIR euro), not a card currency"},
	"CHW": {-1, "fund code (WIR franc), not a card currency"},
	"COU": {-1, "fund code (Colombian unidad de valor real), not a card currency"},
	"MXV": {-1, "fund code (Mexican unidad de inversion), not a card currency"},
	"USN": {-1, "fund code (US dollar next day), not a card currency"},
	"XAD": {-1, "accounting unit (Arab accounting dinar), not a card currency"},
}

// The library's table matches the reference's codes and minor-unit digits,
// but for the known differences above.
func TestCurrencyTableMatchesTheReference(t *testing.T) {
	reference := map[string]int{}
	for _, code := range currency.GetCurrencyCodes() {
		digits, ok := currency.GetDigits(code)
		if !ok {
			t.Fatalf("the reference lists %s without its digits", code)
		}
		reference[code] = int(digits)
	}
	if len(reference) < 150 {
		t.Fatalf("the reference lists only %d currencies", len(reference))
	}
	// Every code the library could accept: three upper-case letters.
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				code := string([]rune{a, b, c})
				got := authcapture.Currency(code).Exponent()
				want, inReference := reference[code]
				if !inReference {
					want = -1
				}
				if k, ok := known[code]; ok {
					if got != k.exponent {
						t.Errorf("%s: exponent %d, the known difference says %d (%s)", code, got, k.exponent, k.reason)
					}
					if want == k.exponent {
						t.Errorf("%s: no longer differs from the reference (exponent %d): drop it from the known differences", code, want)
					}
					continue
				}
				if got != want {
					t.Errorf("%s: exponent %d, the reference says %d (-1: unknown)", code, got, want)
				}
			}
		}
	}
}
