package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

// FuzzParseAmount: any string either parses to an amount that prints back
// to the same value, or returns a library sentinel. Never a panic.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.50", "0.01", "1e40", "-1", "10.001", "", "1.", "99999999999999999999", "0.000000000000000000001"} {
		f.Add(s, "USD")
	}
	f.Add("1.234", "BHD")
	f.Add("100", "JPY")
	f.Fuzz(func(t *testing.T, s, code string) {
		c := authcapture.Currency(code)
		minor, err := authcapture.ParseAmount(s, c)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("ParseAmount(%q, %q): untyped error %v", s, code, err)
			}
			return
		}
		if minor <= 0 || minor > authcapture.MaxMinorUnits {
			t.Fatalf("ParseAmount(%q, %q) = %d out of range", s, code, minor)
		}
		if !c.FromMinor(minor).Equal(decimal.RequireFromString(s)) {
			t.Fatalf("ParseAmount(%q, %q) = %d does not round-trip", s, code, minor)
		}
	})
}

// FuzzToMinor: any decimal, including exponent forms, converts exactly or
// returns a sentinel.
func FuzzToMinor(f *testing.F) {
	for _, s := range []string{"1e40", "1e-40", "123.456", "-0", "1E3", "0.10", "999999999999999.9e-1"} {
		f.Add(s, "USD")
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		d, err := decimal.NewFromString(s)
		if err != nil || len(s) > 64 {
			return
		}
		c := authcapture.Currency(code)
		minor, err := c.ToMinor(d)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("ToMinor(%s): untyped error %v", s, err)
			}
			return
		}
		if !c.FromMinor(minor).Equal(d) {
			t.Fatalf("ToMinor(%s, %s) = %d is not exact", s, code, minor)
		}
	})
}

func FuzzParseCurrency(f *testing.F) {
	for _, s := range []string{"USD", "usd", "", "JPY", "XAU", "US"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		c, err := authcapture.ParseCurrency(code)
		if err != nil {
			if !errors.Is(err, authcapture.ErrUnknownCurrency) {
				t.Fatalf("ParseCurrency(%q): %v", code, err)
			}
			return
		}
		if string(c) != code || c.Exponent() < 0 || c.Exponent() > 4 {
			t.Fatalf("ParseCurrency(%q) = %q exponent %d", code, c, c.Exponent())
		}
	})
}

// FuzzCommands decodes bytes into a sequence of commands on one
// authorization and checks that nothing panics, every error is typed, and
// the invariants hold after every step.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 1, 2, 30, 3, 40, 5, 7, 1, 4, 8})
	f.Add([]byte{0, 1, 6, 50, 6, 20, 9, 2, 8, 10, 3, 255})
	f.Add([]byte{0, 1, 1, 2, 4, 30, 11, 2, 5, 0, 12, 7, 13, 1, 14, 3, 15, 4, 15, 5})
	f.Add([]byte{0, 6, 1, 6, 4, 7, 6, 0, 4, 11, 5, 1, 10, 0}) // an overcapture begun, failed, begun again, confirmed
	f.Add([]byte{0, 5, 1, 5, 2, 7, 10, 0})                    // a direct overcapture under PayPal
	f.Add([]byte{0, 7, 1, 2, 2, 30, 16, 3, 17, 4, 18, 0, 17, 9, 19, 1, 7, 0, 16, 8, 15, 2, 8, 200, 16, 1})
	// Amount changes on an adjustable estimated hold: raised, lowered,
	// begun, confirmed, declined, settled by outcome.
	f.Add([]byte{0, 8, 1, 4, 20, 2, 21, 3, 22, 0, 21, 1, 23, 7, 20, 8, 20, 9, 15, 11, 21, 12, 15, 14, 22, 14, 4, 10, 20, 6})
	// Reauthorizations and expiring-soon notices swept, under fuzz_reauth.
	f.Add([]byte{0, 9, 1, 2, 8, 9, 24, 1, 24, 130, 8, 20, 25, 0, 24, 4, 8, 30, 25, 0, 2, 3})
	// Under fuzz_everything (an estimated hold of 21.01 approved for
	// 18.01): a capture of part, a refund begun, a decrease begun and
	// confirmed, the refund confirmed, a raise, a new hold after 3 hours,
	// a refund after both, the notice of the new hold swept, a decrease in
	// flight when the hold expires.
	f.Add([]byte{0, 21, 1, 20, 3, 2, 17, 1, 21, 35, 22, 6, 18, 7, 20, 28, 8, 1, 24, 27, 16, 0, 8, 20, 25, 0, 21, 14, 8, 30, 10, 0})
	// Under fuzz_everything: an overcapture begun, a raise refused while it
	// is pending, the overcapture confirmed, refunded by capture directly
	// and two-phase, a change refused on the closed authorization, a
	// refund of the total, one beyond what is refundable, expiry.
	f.Add([]byte{0, 21, 1, 20, 4, 3, 20, 1, 5, 6, 16, 7, 17, 8, 18, 9, 21, 10, 16, 13, 16, 242, 8, 30, 10, 0})
	// Under fuzz_everything: a refund pending when the hold expires, a
	// reauthorization refused after expiry, the refund confirmed after it.
	f.Add([]byte{0, 21, 1, 20, 3, 2, 17, 1, 8, 30, 24, 3, 18, 6, 25, 0})
	f.Fuzz(func(t *testing.T, program []byte) {
		ctx := context.Background()
		clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		refunds := authcapture.Adyen // refunds before the final capture, within two days
		refunds.Name, refunds.RefundBeforeFinalCapture, refunds.RefundWindow = "refunds", true, 48*time.Hour
		adjust := authcapture.Policy{Name: "adjust", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
			Validity: 7 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true,
			MaxAmountChangeAttempts: 5, AmountChangeValidity: 2 * 24 * time.Hour}
		svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock,
			Policies: []authcapture.Policy{fuzzOvercapture, refunds, adjust, fuzzReauth, fuzzEverything}})
		if err != nil {
			t.Fatal(err)
		}
		sched, err := authcapture.NewScheduler(svc, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		const m, id = "m1", "a1"
		policies := []string{"default", "paymongo", "afterpay", "njiapay", "stripe", "paypal", fuzzOvercapture.Name, "refunds", "adjust", "fuzz_reauth", fuzzEverything.Name}
		// over is an amount beyond the hold, for captures that try to
		// overcapture: up to a quarter more than the authorized amount.
		over := func(arg byte) decimal.Decimal {
			a, err := svc.Get(ctx, m, id)
			if err != nil || a.Authorized == 0 {
				return decimal.New(int64(arg)*37+1, -2)
			}
			return a.Currency.FromMinor(a.Authorized + 1 + int64(arg)%(a.Authorized/4+2))
		}
		var captures, voids, refundIDs, changes []string
		next := func(i *int) byte {
			if *i >= len(program) {
				return 0
			}
			b := program[*i]
			*i++
			return b
		}
		for i, n := 0, 0; i < len(program) && n < 64; n++ {
			op := next(&i) % 26
			arg := next(&i)
			key := fmt.Sprintf("k%d", arg%16) // few keys, so they collide
			amount := decimal.New(int64(arg)*37+1, -2)
			var err error
			switch op {
			case 0:
				typ := authcapture.AuthorizationFinal
				if arg%2 == 1 {
					typ = authcapture.AuthorizationEstimated
				}
				_, err = svc.Create(ctx, authcapture.CreateRequest{MerchantID: m, ID: id, Currency: "USD",
					Amount: decimal.New(int64(arg)*100+1, -2), Policy: policies[int(arg)%len(policies)], AuthorizationType: typ,
					IdempotencyKey: key})
			case 1:
				_, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: m, ID: id, Amount: decimal.New(int64(arg)*90+1, -2), IdempotencyKey: key})
			case 2, 3:
				var final *bool
				if arg%3 > 0 {
					final = authcapture.Bool(arg%3 == 1)
				}
				if op == 2 && arg%4 == 3 {
					amount = over(arg)
				}
				_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: amount, All: arg%7 == 0 && op == 3, Final: final, IdempotencyKey: key})
				if arg%7 == 0 && op == 3 && errors.Is(err, authcapture.ErrInvalidArgument) {
					err = nil // amount given with All
				}
			case 4:
				var r *authcapture.Result
				req := authcapture.CaptureRequest{MerchantID: m, ID: id, Amount: amount, IdempotencyKey: key}
				if arg%4 == 3 { // an overcapture, where the policy allows one
					req.Amount, req.Final = over(arg), authcapture.Bool(true)
				}
				r, err = svc.BeginCapture(ctx, req)
				if err == nil {
					captures = append(captures, r.Entry.CaptureID)
				}
			case 16, 17:
				capID := ""
				if len(captures) > 0 && arg%3 > 0 {
					capID = captures[int(arg)%len(captures)]
				}
				req := authcapture.RefundRequest{MerchantID: m, ID: id, Amount: amount, CaptureID: capID,
					ProviderRef: fmt.Sprintf("pr%d", arg%4), IdempotencyKey: key}
				var r *authcapture.Result
				if op == 16 {
					r, err = svc.Refund(ctx, req)
				} else {
					r, err = svc.BeginRefund(ctx, req)
				}
				if r != nil {
					refundIDs = append(refundIDs, r.Entry.RefundID)
				}
			case 18, 19:
				refundID := pickID(refundIDs, arg, "refund_none")
				req := authcapture.SettleRefundRequest{MerchantID: m, ID: id, RefundID: refundID, IdempotencyKey: key}
				if op == 18 {
					_, err = svc.ConfirmRefund(ctx, req)
				} else {
					_, err = svc.FailRefund(ctx, req)
				}
			case 5, 6:
				capID := pickID(captures, arg, "cap_none")
				req := authcapture.SettleCaptureRequest{MerchantID: m, ID: id, CaptureID: capID, IdempotencyKey: key}
				if op == 5 {
					_, err = svc.ConfirmCapture(ctx, req)
				} else {
					_, err = svc.FailCapture(ctx, req)
				}
			case 7:
				_, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: m, ID: id, Amount: amount, All: arg%2 == 0, IdempotencyKey: key})
			case 8:
				clock.Advance(time.Duration(arg) * 3 * time.Hour)
			case 9:
				_, err = svc.Decline(ctx, authcapture.DeclineRequest{MerchantID: m, ID: id, IdempotencyKey: key})
			case 10:
				_, err = svc.Get(ctx, m, id)
			case 11:
				var r *authcapture.Result
				r, err = svc.BeginVoid(ctx, authcapture.VoidRequest{MerchantID: m, ID: id, Amount: amount, All: arg%2 == 0,
					ProviderRef: fmt.Sprintf("pv%d", arg%4), IdempotencyKey: key})
				if arg%2 == 0 && errors.Is(err, authcapture.ErrInvalidArgument) {
					err = nil // amount given with All
				}
				if r != nil {
					voids = append(voids, r.Entry.VoidID)
				}
			case 12, 13:
				voidID := pickID(voids, arg, "void_none")
				req := authcapture.SettleVoidRequest{MerchantID: m, ID: id, VoidID: voidID, IdempotencyKey: key}
				if op == 12 {
					if arg%3 > 0 {
						released := decimal.New(int64(arg)*29, -2)
						req.Released = &released
					}
					_, err = svc.ConfirmVoid(ctx, req)
				} else {
					_, err = svc.FailVoid(ctx, req)
				}
			case 14:
				_, err = svc.Cancel(ctx, authcapture.CancelRequest{MerchantID: m, ID: id, IdempotencyKey: key})
			case 15:
				kind, state := authcapture.OutcomeCapture, authcapture.OutcomeSucceeded
				ref := fmt.Sprintf("pv%d", arg%4)
				switch arg % 4 {
				case 1:
					kind = authcapture.OutcomeVoid
				case 2:
					kind, ref = authcapture.OutcomeRefund, fmt.Sprintf("pr%d", arg%4)
				case 3:
					kind = authcapture.OutcomeAmountChange
				}
				if arg%5 == 0 {
					state = authcapture.OutcomeFailed
				}
				_, err = svc.RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: m, AuthorizationID: id,
					ProviderRef: ref, Kind: kind, Outcome: state, Amount: amount})
			case 20, 21:
				req := authcapture.AmountChangeRequest{MerchantID: m, ID: id, IdempotencyKey: key}
				switch {
				case arg%3 == 0:
					req.Total = amount
				case arg%3 == 1:
					req.Delta = amount
				default:
					req.Delta = amount.Neg()
				}
				if op == 20 {
					req.Declined = arg%5 == 0
					_, err = svc.ChangeAmount(ctx, req)
					break
				}
				req.ProviderRef = fmt.Sprintf("pv%d", arg%4) // shared with voids: references collide
				var r *authcapture.Result
				r, err = svc.BeginAmountChange(ctx, req)
				if r != nil {
					changes = append(changes, r.Entry.ChangeID)
				}
			case 22, 23:
				changeID := pickID(changes, arg, "chg_none")
				req := authcapture.SettleAmountChangeRequest{MerchantID: m, ID: id, ChangeID: changeID, IdempotencyKey: key}
				if op == 22 {
					_, err = svc.ConfirmAmountChange(ctx, req)
				} else {
					_, err = svc.DeclineAmountChange(ctx, req)
				}
			case 24:
				var expires time.Time
				if arg%3 > 0 {
					expires = clock.Now().Add(time.Duration(int(arg)-100) * time.Hour)
				}
				_, err = svc.Reauthorize(ctx, authcapture.ReauthorizeRequest{MerchantID: m, ID: id, ExpiresAt: expires,
					ProviderRef: fmt.Sprintf("pv%d", arg%5), IdempotencyKey: key})
			case 25:
				var res authcapture.SweepResult
				res, err = sched.RunDue(ctx, 10)
				if err == nil && res.Notified > 1 {
					t.Fatalf("one authorization, %d expiring-soon notices in one sweep", res.Notified)
				}
			}
			if err != nil && !isSentinel(err) {
				t.Fatalf("op %d: untyped error %v", op, err)
			}
			if a, err := svc.Get(ctx, m, id); err == nil {
				log, err := svc.Log(ctx, m, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := storetest.CheckInvariants(a, log); err != nil {
					t.Fatal(err)
				}
				if p, ok := svc.Policy(a.Policy); ok {
					if err := model.CheckPolicy(a, p); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

// fuzzOvercapture lets FuzzCommands overcapture: 20 percent of the hold,
// at most 5.00 USD.
var fuzzOvercapture = authcapture.Policy{Name: "fuzz-overcapture", MultipleCaptures: true, PartialCapture: true,
	PartialVoid: true, Validity: 7 * 24 * time.Hour, OvercapturePercent: 20,
	OvercaptureMax: map[authcapture.Currency]string{"USD": "5.00"}}

// fuzzReauth reauthorizes twice, from day 1 to day 10, and warns a day
// before expiry.
var fuzzReauth = authcapture.Policy{Name: "fuzz_reauth", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 7 * 24 * time.Hour, MaxReauthorizations: 2, ReauthorizeAfter: 24 * time.Hour, ReauthorizeBefore: 10 * 24 * time.Hour,
	ExpiringSoon: 24 * time.Hour}

// fuzzEverything turns on every feature that may be combined: overcapture
// (20 percent, at most 5.00 USD), incremental and decremental
// authorization of estimated holds (at most 6 attempts, each approved
// change keeping the hold 4 days), refunds before the final capture within
// two days, two reauthorizations from an hour to 10 days after approval,
// an expiring-soon notice a day ahead, partial voids and multiple captures.
var fuzzEverything = authcapture.Policy{Name: "fuzz_everything", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
	Validity: 3 * 24 * time.Hour, OvercapturePercent: 20, OvercaptureMax: map[authcapture.Currency]string{"USD": "5.00"},
	IncrementalAuthorization: true, DecrementalAuthorization: true,
	AmountChangeTypes:       []authcapture.AuthorizationType{authcapture.AuthorizationEstimated},
	MaxAmountChangeAttempts: 6, AmountChangeValidity: 4 * 24 * time.Hour,
	RefundBeforeFinalCapture: true, RefundWindow: 48 * time.Hour,
	MaxReauthorizations: 2, ReauthorizeAfter: time.Hour, ReauthorizeBefore: 10 * 24 * time.Hour, ExpiringSoon: 24 * time.Hour}

// isSentinel reports whether err is one of the library's typed rejections.
// A version conflict is not expected from one goroutine, so it does not
// count.
func isSentinel(err error) bool {
	code := authcapture.HTTPStatus(err)
	return code != http.StatusOK && code != http.StatusInternalServerError &&
		!errors.Is(err, authcapture.ErrVersionConflict)
}

// The same amount written with more or fewer trailing zeros is the same
// command for idempotency.
func TestFingerprintIgnoresTrailingZeros(t *testing.T) {
	f := setup(t)
	a := f.hold("default", "10.00")
	for i, s := range []string{"4", "4.0", "4.00", "4.000000000000000000000000", "0.4e1"} {
		r, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: decimal.RequireFromString(s), IdempotencyKey: "same"})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if r.Replayed != (i > 0) {
			t.Fatalf("%q: replayed %v", s, r.Replayed)
		}
	}
}

// pickID picks the ID arg selects from ids, or none if there is none yet.
func pickID(ids []string, arg byte, none string) string {
	if len(ids) == 0 {
		return none
	}
	return ids[int(arg)%len(ids)]
}
