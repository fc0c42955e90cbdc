package authcapture_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

// overcapturing is a custom policy with an allowance and partial voids,
// for the rules PayPal's preset cannot show (it voids only everything).
var overcapturing = authcapture.Policy{Name: "overcapturing", MultipleCaptures: true, PartialCapture: true,
	PartialVoid: true, Validity: 7 * 24 * time.Hour, OvercapturePercent: 20, OvercaptureMax: map[authcapture.Currency]string{"EUR": "50.00"}}

func overcaptureSetup(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: setup(t).clock, store: memstore.New()}
	raising := overcapturing
	raising.Name, raising.IncrementalAuthorization = "overcapturing-raising", true
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{overcapturing, raising}})
	require.NoError(t, err)
	f.svc = svc
	return f
}

// overcaptured renders the ledgers with Overcaptured and checks the
// ledger equation: Authorized + Overcaptured == Open + Pending +
// PendingVoid + PendingDecrement + Captured + Voided + Expired.
func overcaptured(t *testing.T, a *authcapture.Authorization) string {
	t.Helper()
	require.Equal(t, a.Authorized+a.Overcaptured,
		a.Open()+a.Pending+a.PendingVoid+a.PendingDecrement+a.Captured+a.Voided+a.Expired, "the ledger equation")
	return amounts(a) + " overcaptured " + a.Currency.Format(a.Overcaptured)
}

// Each overcapture rule, with PayPal's numbers: up to 115 percent of the
// authorized amount, and at most 75 USD more.
func TestOvercaptureRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule string
		run  func(t *testing.T, f *fixture)
	}{
		{"paypal: 100.00 authorized may be captured up to 115.00 in a single final capture", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			_, err := f.capture(a.ID, "115.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			r, err := f.capture(a.ID, "115.00", authcapture.Bool(true))
			require.NoError(t, err)
			assert.Equal(t, int64(11500), r.Entry.Amount)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/115.00/0.00/0.00 captured overcaptured 15.00", overcaptured(t, got))
			assert.Equal(t, authcapture.CloseFullyCaptured, got.CloseReason)
			assert.Equal(t, authcapture.CloseFinalCapture, got.ReleasedBy)
			assert.Equal(t, "15.00", got.Amounts().Overcaptured.StringFixed(2))
		}},
		{"paypal: 1000.00 authorized may be captured up to 1075.00, not 1075.01 (the 75 USD cap)", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "1000.00")
			_, err := f.capture(a.ID, "1075.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			assert.Equal(t, a.Version, f.get(a.ID).Version, "a rejection changes nothing")
			_, err = f.capture(a.ID, "1075.00", authcapture.Bool(true))
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/1075.00/0.00/0.00 captured overcaptured 75.00", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: the allowance is 15 percent rounded down: 0.99 authorized allows 0.14 more", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "0.99")
			_, err := f.capture(a.ID, "1.14", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			_, err = f.capture(a.ID, "1.13", authcapture.Bool(true))
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/1.13/0.00/0.00 captured overcaptured 0.14", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: a non-final capture may not overcapture (PayPal captures are non-final unless they say so)", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			_, err := f.capture(a.ID, "110.00", nil)
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed)
			_, err = f.capture(a.ID, "110.00", authcapture.Bool(false))
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed)
			assert.Equal(t, "100.00/0.00/0.00/0.00/0.00 authorized overcaptured 0.00", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: a second capture may not overcapture", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			_, err := f.capture(a.ID, "10.00", nil)
			require.NoError(t, err)
			_, err = f.capture(a.ID, "105.00", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed)
			_, err = f.capture(a.ID, "95.00", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable, "within the hold, beyond what is open")
			assert.Equal(t, "90.00/0.00/10.00/0.00/0.00 partially_captured overcaptured 0.00", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: a two-phase overcapture reserves it all and the confirm captures it", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			capID := f.beginFinalCapture(a.ID, "115.00")
			assert.Equal(t, "0.00/115.00/0.00/0.00/0.00 partially_captured overcaptured 15.00", overcaptured(t, f.get(a.ID)))
			_, err := f.capture(a.ID, "1.00", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrCapturePending)
			_, err = f.voidAll(a.ID)
			require.ErrorIs(t, err, authcapture.ErrActionInFlight)
			_, err = f.confirmCapture(a.ID, capID)
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/115.00/0.00/0.00 captured overcaptured 15.00", overcaptured(t, got))
			assert.Equal(t, authcapture.CloseFullyCaptured, got.CloseReason)
		}},
		{"paypal: a failed overcapture gives the hold back exactly, and Overcaptured returns to 0", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			capID := f.beginFinalCapture(a.ID, "115.00")
			_, err := f.failCapture(a.ID, capID, "declined")
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "100.00/0.00/0.00/0.00/0.00 authorized overcaptured 0.00", overcaptured(t, got))
			assert.Zero(t, got.Captures)
			evs, err := f.svc.Events(f.ctx, "m1", 0, 100)
			require.NoError(t, err)
			last := evs[len(evs)-1]
			assert.Equal(t, authcapture.EventAmountCapturableUpdated, last.Type)
			assert.Equal(t, int64(10000), last.Open, "open is the hold again, not the overcapture")
			_, err = f.capture(a.ID, "112.00", authcapture.Bool(true))
			require.NoError(t, err, "the hold is whole again: it may be overcaptured")
			assert.Equal(t, "0.00/0.00/112.00/0.00/0.00 captured overcaptured 12.00", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: an overcapture that fails after the hold expired releases the hold, never the overcapture", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			capID := f.beginFinalCapture(a.ID, "115.00")
			f.clock.Advance(29 * 24 * time.Hour)
			assert.Equal(t, "0.00/115.00/0.00/0.00/0.00 partially_captured overcaptured 15.00", overcaptured(t, f.get(a.ID)))
			_, err := f.failCapture(a.ID, capID, "")
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/0.00/0.00/100.00 expired overcaptured 0.00", overcaptured(t, got))
			assert.Equal(t, authcapture.CloseExpired, got.CloseReason)
		}},
		{"paypal: an overcapture confirmed after the hold expired closes as fully captured", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			capID := f.beginFinalCapture(a.ID, "115.00")
			f.clock.Advance(29 * 24 * time.Hour)
			_, err := f.confirmCapture(a.ID, capID)
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/115.00/0.00/0.00 captured overcaptured 15.00", overcaptured(t, got))
			assert.Equal(t, authcapture.CloseFullyCaptured, got.CloseReason)
		}},
		{"paypal: the provider's report of an overcapture never recorded is recorded as one", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: a.ID, Kind: authcapture.OutcomeCapture,
				Outcome: authcapture.OutcomeSucceeded, ProviderRef: "CAP-1", Amount: amt("115.00"), Final: authcapture.Bool(true)})
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/115.00/0.00/0.00 captured overcaptured 15.00", overcaptured(t, f.get(a.ID)))
		}},
		{"paypal: the cap is in USD only; another currency has the percentage alone", func(t *testing.T, f *fixture) {
			a := f.holdIn("paypal", "JPY", "100000")
			_, err := f.capture(a.ID, "115001", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			_, err = f.capture(a.ID, "115000", authcapture.Bool(true))
			require.NoError(t, err)
			assert.Equal(t, "0/0/115000/0/0 captured overcaptured 15000", overcaptured(t, f.get(a.ID)))
		}},
		{"default: a policy without an allowance never overcaptures", func(t *testing.T, f *fixture) {
			a := f.hold("default", "100.00")
			_, err := f.capture(a.ID, "100.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		}},
		{"custom: an overcapture takes the whole hold: after a partial void it is refused", func(t *testing.T, f *fixture) {
			a := f.holdIn("overcapturing", "EUR", "100.00")
			_, err := f.void(a.ID, "10.00")
			require.NoError(t, err)
			_, err = f.capture(a.ID, "110.00", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed)
			_, err = f.capture(a.ID, "120.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			assert.Equal(t, "90.00/0.00/0.00/10.00/0.00 authorized overcaptured 0.00", overcaptured(t, f.get(a.ID)))
		}},
		{"custom: no overcapture after an amount change, approved or in flight", func(t *testing.T, f *fixture) {
			a := f.holdIn("overcapturing-raising", "EUR", "100.00")
			_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID,
				Total: amt("110.00"), IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.capture(a.ID, "100.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed, "a change in flight")
			_, err = f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID,
				Total: amt("110.00"), IdempotencyKey: f.key()})
			require.ErrorIs(t, err, authcapture.ErrActionInFlight)
			b := f.holdIn("overcapturing-raising", "EUR", "100.00")
			_, err = f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: b.ID,
				Total: amt("110.00"), IdempotencyKey: f.key()})
			require.NoError(t, err)
			_, err = f.capture(b.ID, "110.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrOvercaptureNotAllowed, "an approved change")
			_, err = f.capture(b.ID, "110.00", authcapture.Bool(true))
			require.NoError(t, err, "the raised hold itself may be captured")
			assert.Equal(t, "0.00/0.00/110.00/0.00/0.00 captured overcaptured 0.00", overcaptured(t, f.get(b.ID)))
		}},
		{"custom: no amount change while an overcapture is in flight; once it fails, the hold may change", func(t *testing.T, f *fixture) {
			a := f.holdIn("overcapturing-raising", "EUR", "100.00")
			capID := f.beginFinalCapture(a.ID, "110.00")
			before := f.get(a.ID)
			for _, total := range []string{"100.01", "110.00", "150.00"} {
				_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID,
					Total: amt(total), IdempotencyKey: f.key()})
				require.ErrorIs(t, err, authcapture.ErrActionInFlight, "raised to %s", total)
				_, err = f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID,
					Total: amt(total), IdempotencyKey: f.key()})
				require.ErrorIs(t, err, authcapture.ErrActionInFlight, "raise to %s begun", total)
			}
			assert.Equal(t, before.Version, f.get(a.ID).Version, "rejections write nothing")
			assert.Equal(t, "0.00/110.00/0.00/0.00/0.00 partially_captured overcaptured 10.00", overcaptured(t, f.get(a.ID)))
			_, err := f.failCapture(a.ID, capID, "")
			require.NoError(t, err)
			_, err = f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: a.ID,
				Total: amt("110.00"), IdempotencyKey: f.key()})
			require.NoError(t, err)
			assert.Equal(t, "110.00/0.00/0.00/0.00/0.00 authorized overcaptured 0.00", overcaptured(t, f.get(a.ID)))
		}},
		{"custom: the percentage binds below the cap, the cap above it (20 percent, 50 EUR)", func(t *testing.T, f *fixture) {
			a := f.holdIn("overcapturing", "EUR", "100.00")
			_, err := f.capture(a.ID, "120.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			_, err = f.capture(a.ID, "120.00", authcapture.Bool(true))
			require.NoError(t, err)
			b := f.holdIn("overcapturing", "EUR", "500.00")
			_, err = f.capture(b.ID, "550.01", authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			_, err = f.capture(b.ID, "550.00", authcapture.Bool(true))
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			tt.run(t, overcaptureSetup(t))
		})
	}
}

// The allowance is floor(authorized * percent / 100), capped, exactly,
// for every amount up to MaxMinorUnits: checked against big integers.
func TestOvercaptureAllowanceIsExact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		percent    int
		max        map[authcapture.Currency]string
		currency   authcapture.Currency
		authorized int64
		want       int64
	}{
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 10000, 1500},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 100000, 7500},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 50000, 7500},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 49999, 7499},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 99, 14},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "USD", 6, 0},
		{15, map[authcapture.Currency]string{"USD": "75.00"}, "EUR", authcapture.MaxMinorUnits, authcapture.MaxMinorUnits * 15 / 100},
		{100, nil, "USD", authcapture.MaxMinorUnits, authcapture.MaxMinorUnits},
		{99, nil, "BHD", authcapture.MaxMinorUnits, 989_999_999_999_999},
		{0, nil, "USD", 10000, 0},
	} {
		p := authcapture.Policy{Name: "p", Validity: time.Hour, OvercapturePercent: tt.percent, OvercaptureMax: tt.max}
		require.NoError(t, p.Validate())
		got := p.OvercaptureAllowance(tt.currency, tt.authorized)
		assert.Equal(t, tt.want, got, "%d%% of %d %s", tt.percent, tt.authorized, tt.currency)
		exact := new(big.Int).Mul(big.NewInt(tt.authorized), big.NewInt(int64(tt.percent)))
		exact.Quo(exact, big.NewInt(100))
		assert.LessOrEqual(t, got, exact.Int64())
	}
}

// An invalid overcapture knob is an invalid policy.
func TestOvercapturePolicyValidation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rule    string
		percent int
		max     map[authcapture.Currency]string
	}{
		{"a negative percentage", -1, nil},
		{"a percentage above 100", 101, nil},
		{"a cap without a percentage", 0, map[authcapture.Currency]string{"USD": "75.00"}},
		{"a cap that is no decimal", 15, map[authcapture.Currency]string{"USD": "75 USD"}},
		{"a zero cap", 15, map[authcapture.Currency]string{"USD": "0"}},
		{"a negative cap", 15, map[authcapture.Currency]string{"USD": "-1.00"}},
		{"a cap more precise than its currency", 15, map[authcapture.Currency]string{"USD": "75.001"}},
		{"a cap in an unknown currency", 15, map[authcapture.Currency]string{"XYZ": "75.00"}},
	} {
		p := authcapture.Policy{Name: "p", Validity: time.Hour, OvercapturePercent: tt.percent, OvercaptureMax: tt.max}
		require.ErrorIs(t, p.Validate(), authcapture.ErrInvalidPolicy, tt.rule)
		_, err := authcapture.New(memstore.New(), &authcapture.Options{Policies: []authcapture.Policy{p}})
		require.ErrorIs(t, err, authcapture.ErrInvalidPolicy, tt.rule)
	}
}

// beginFinalCapture begins a final capture of amount on id and returns
// its capture ID.
func (f *fixture) beginFinalCapture(id, amount string) string {
	f.t.Helper()
	r, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount),
		Final: authcapture.Bool(true), IdempotencyKey: f.key()})
	require.NoError(f.t, err)
	return r.Entry.CaptureID
}
