package authcapture

import (
	"math/big"

	"github.com/shopspring/decimal"
)

// fingerprint hashes a command's parameters (FNV-1a, 64 bits) for its
// idempotency record. Fields are length-prefixed so that no two different
// parameter lists hash the same input.
type fingerprint uint64

func newFingerprint(op Command) fingerprint {
	return fingerprint(14695981039346656037).str(string(op))
}

func (f fingerprint) byte(b byte) fingerprint {
	f ^= fingerprint(b)
	f *= 1099511628211
	return f
}

func (f fingerprint) int(v int64) fingerprint {
	for i := 0; i < 8; i++ {
		f = f.byte(byte(v >> (8 * i)))
	}
	return f
}

func (f fingerprint) str(s string) fingerprint {
	f = f.int(int64(len(s)))
	for i := 0; i < len(s); i++ {
		f = f.byte(s[i])
	}
	return f
}

// opt adds s only when it is not empty, so that a field added to a command
// later leaves the fingerprints of requests without it as they were.
func (f fingerprint) opt(s string) fingerprint {
	if s == "" {
		return f
	}
	return f.str(s)
}

func (f fingerprint) bool(b bool) fingerprint {
	if b {
		return f.byte(1)
	}
	return f.byte(0)
}

// amount hashes a decimal by its value, so that "4", "4.0" and "4.00" are
// the same parameter: trailing zeros are stripped from the coefficient.
func (f fingerprint) amount(d decimal.Decimal) fingerprint {
	if d.NumDigits() > 18 {
		// Rare: strip the zeros with big integers; if what is left fits
		// an int64, hash it like the common case below.
		c, exp := d.Coefficient(), int64(d.Exponent())
		ten, q, r := big.NewInt(10), new(big.Int), new(big.Int)
		for c.Sign() != 0 {
			if q.QuoRem(c, ten, r); r.Sign() != 0 {
				break
			}
			c.Set(q)
			exp++
		}
		if !c.IsInt64() {
			return f.byte('b').str(c.String()).int(exp)
		}
		d = decimal.New(c.Int64(), int32(exp))
	}
	coef, exp := d.CoefficientInt64(), int64(d.Exponent())
	for coef != 0 && coef%10 == 0 {
		coef /= 10
		exp++
	}
	if coef == 0 {
		exp = 0
	}
	return f.byte('d').int(coef).int(exp)
}
