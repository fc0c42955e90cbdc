package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Each preset against its provider's documented behaviour.
func TestPresets(t *testing.T) {
	t.Parallel()
	const d = 24 * time.Hour
	tests := []struct {
		policy string
		rule   string
		run    func(t *testing.T, f *fixture)
	}{
		{"afterpay", "three captures and a partial void leave the rest open; expiry after 13 days keeps the captures", func(t *testing.T, f *fixture) {
			a := f.hold("afterpay", "100.00")
			for i := 0; i < 3; i++ {
				_, err := f.capture(a.ID, "30.00", nil)
				require.NoError(t, err)
			}
			_, err := f.void(a.ID, "5.00")
			require.NoError(t, err)
			assert.Equal(t, "5.00/0.00/90.00/5.00/0.00 partially_captured", amounts(f.get(a.ID)))
			_, err = f.capture(a.ID, "0.99", nil)
			require.ErrorIs(t, err, authcapture.ErrBelowMinimum)
			f.clock.Advance(13*d - time.Nanosecond)
			assert.Equal(t, "5.00/0.00/90.00/5.00/0.00 partially_captured", amounts(f.get(a.ID)))
			f.clock.Advance(time.Nanosecond)
			assert.Equal(t, "0.00/0.00/90.00/5.00/5.00 captured", amounts(f.get(a.ID)))
		}},
		{"afterpay", "a capture retried with the same request ID applies once", func(t *testing.T, f *fixture) {
			a := f.hold("afterpay", "100.00")
			req := authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("30.00"), IdempotencyKey: "requestId-1"}
			for i := 0; i < 3; i++ {
				_, err := f.svc.Capture(f.ctx, req)
				require.NoError(t, err)
			}
			assert.Equal(t, int64(3000), f.get(a.ID).Captured)
		}},
		{"paymongo", "a partial capture closes the hold and releases the remainder; a second capture is rejected", func(t *testing.T, f *fixture) {
			a := f.hold("paymongo", "100.00")
			_, err := f.capture(a.ID, "60.00", nil)
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/60.00/40.00/0.00 captured", amounts(got))
			assert.Equal(t, authcapture.CloseFinalCapture, got.CloseReason)
			_, err = f.capture(a.ID, "1.00", nil)
			require.ErrorIs(t, err, authcapture.ErrInvalidStatus)
		}},
		{"paymongo", "a non-final capture is refused", func(t *testing.T, f *fixture) {
			a := f.hold("paymongo", "100.00")
			_, err := f.capture(a.ID, "60.00", authcapture.Bool(false))
			require.ErrorIs(t, err, authcapture.ErrMultipleCaptureNotAllowed)
		}},
		{"paymongo", "an uncaptured hold is voided at 7 days", func(t *testing.T, f *fixture) {
			a := f.hold("paymongo", "100.00")
			f.clock.Advance(7 * d)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/0.00/0.00/100.00 expired", amounts(got))
		}},
		{"njiapay", "a partial capture is rejected; a full capture succeeds", func(t *testing.T, f *fixture) {
			a := f.hold("njiapay", "100.00")
			_, err := f.capture(a.ID, "60.00", nil)
			require.ErrorIs(t, err, authcapture.ErrPartialCaptureNotAllowed)
			_, err = f.capture(a.ID, "100.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/100.00/0.00/0.00 captured", amounts(f.get(a.ID)))
		}},
		{"njiapay", "after a partial void only a void remains possible", func(t *testing.T, f *fixture) {
			a := f.hold("njiapay", "100.00")
			_, err := f.void(a.ID, "10.00")
			require.ErrorIs(t, err, authcapture.ErrPartialVoidNotAllowed)
			_, err = f.voidAll(a.ID)
			require.NoError(t, err)
		}},
		{"stripe", "captures are final by default; multicapture allows up to 50", func(t *testing.T, f *fixture) {
			a := f.hold("stripe", "100.00")
			_, err := f.capture(a.ID, "10.00", authcapture.Bool(false))
			require.NoError(t, err)
			_, err = f.capture(a.ID, "10.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/20.00/80.00/0.00 captured", amounts(f.get(a.ID)))
		}},
		{"adyen", "partial captures leave the rest authorized until cancelled", func(t *testing.T, f *fixture) {
			a := f.hold("adyen", "100.00")
			_, err := f.capture(a.ID, "10.00", nil)
			require.NoError(t, err)
			_, err = f.capture(a.ID, "20.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "70.00/0.00/30.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
			assert.Equal(t, 28*d, a.ExpiresAt.Sub(a.AuthorizedAt))
		}},
		{"waffo", "one capture of part of the hold, final; or a void", func(t *testing.T, f *fixture) {
			a := f.hold("waffo", "100.00")
			_, err := f.capture(a.ID, "40.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/40.00/60.00/0.00 captured", amounts(f.get(a.ID)))
			b := f.hold("waffo", "100.00")
			_, err = f.voidAll(b.ID)
			require.NoError(t, err)
			assert.Equal(t, authcapture.StatusVoided, f.get(b.ID).Status())
		}},
		{"paypal", "a 29-day hold; partial captures are non-final unless they say so; a void releases everything", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			assert.Equal(t, 29*d, a.ExpiresAt.Sub(a.AuthorizedAt))
			_, err := f.capture(a.ID, "30.00", nil)
			require.NoError(t, err)
			_, err = f.capture(a.ID, "20.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "50.00/0.00/50.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
			_, err = f.void(a.ID, "10.00")
			require.ErrorIs(t, err, authcapture.ErrPartialVoidNotAllowed)
			_, err = f.capture(a.ID, "10.00", authcapture.Bool(true))
			require.NoError(t, err)
			assert.Equal(t, "0.00/0.00/60.00/40.00/0.00 captured", amounts(f.get(a.ID)))
		}},
		{"paypal", "authorized 100.00 may be captured at 115.00, once and final", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			_, err := f.capture(a.ID, "115.00", authcapture.Bool(true))
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, "0.00/0.00/115.00/0.00/0.00 captured", amounts(got))
			assert.Equal(t, int64(1500), got.Overcaptured)
		}},
		{"paypal", "the hold lapses after 29 days", func(t *testing.T, f *fixture) {
			a := f.hold("paypal", "100.00")
			f.clock.Advance(29*d - time.Nanosecond)
			assert.Equal(t, authcapture.StatusAuthorized, f.get(a.ID).Status())
			f.clock.Advance(time.Nanosecond)
			assert.Equal(t, "0.00/0.00/0.00/0.00/100.00 expired", amounts(f.get(a.ID)))
		}},
		{"stripe", "no overcapture: more than the hold is refused", func(t *testing.T, f *fixture) {
			a := f.hold("stripe", "100.00")
			_, err := f.capture(a.ID, "100.01", nil)
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
		}},
		{"payrails", "multiple non-final partial captures", func(t *testing.T, f *fixture) {
			a := f.hold("payrails", "100.00")
			_, err := f.capture(a.ID, "10.00", nil)
			require.NoError(t, err)
			_, err = f.capture(a.ID, "15.00", nil)
			require.NoError(t, err)
			assert.Equal(t, "75.00/0.00/25.00/0.00/0.00 partially_captured", amounts(f.get(a.ID)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.policy+"/"+tt.rule, func(t *testing.T) {
			t.Parallel()
			tt.run(t, setup(t))
		})
	}
}

func TestPresetsAreValid(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, p := range authcapture.Presets() {
		require.NoError(t, p.Validate(), p.Name)
		assert.False(t, names[p.Name], "duplicate preset %s", p.Name)
		names[p.Name] = true
	}
	for _, n := range []string{"default", "waffo", "paymongo", "afterpay", "payrails", "njiapay", "stripe", "adyen", "paypal"} {
		assert.True(t, names[n], n)
	}
}

// TestPolicyDefaultCaptureModeAppliesWhenACreateNamesNone: a create that
// names no capture mode gets what the provider does when its call leaves
// the mode out; a named mode wins.
func TestPolicyDefaultCaptureModeAppliesWhenACreateNamesNone(t *testing.T) {
	t.Parallel()
	want := map[string]authcapture.CaptureMode{
		"default": authcapture.CaptureManual, "waffo": authcapture.CaptureAutomatic,
		"paymongo": authcapture.CaptureAutomatic, "afterpay": authcapture.CaptureManual,
		"payrails": authcapture.CaptureManual, "njiapay": authcapture.CaptureManual,
		"stripe": authcapture.CaptureAutomatic, "adyen": authcapture.CaptureAutomatic,
		"paypal": authcapture.CaptureManual,
	}
	require.Len(t, want, len(authcapture.Presets()), "every preset has its row")
	for policy, mode := range want {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD",
				Amount: amt("100.00"), Policy: policy, IdempotencyKey: "c"})
			require.NoError(t, err)
			assert.Equal(t, mode, r.Authorization.CaptureMode)
			r, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID,
				Amount: amt("100.00"), IdempotencyKey: "a"})
			require.NoError(t, err)
			if mode == authcapture.CaptureAutomatic {
				assert.Equal(t, int64(10000), r.Authorization.Captured, "the approval records the provider's capture")
				assert.Equal(t, authcapture.StatusCaptured, r.Authorization.Status())
			} else {
				assert.Equal(t, authcapture.StatusAuthorized, r.Authorization.Status())
			}
			manual, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD",
				Amount: amt("100.00"), Policy: policy, CaptureMode: authcapture.CaptureManual, IdempotencyKey: "c2"})
			require.NoError(t, err)
			assert.Equal(t, authcapture.CaptureManual, manual.Authorization.CaptureMode, "a named mode wins")
		})
	}
	t.Run("a default the policy does not allow is refused", func(t *testing.T) {
		p := authcapture.Policy{Name: "p", Validity: 24 * time.Hour, DefaultCaptureMode: authcapture.CaptureDelayed,
			CaptureModes: []authcapture.CaptureMode{authcapture.CaptureManual}}
		require.ErrorIs(t, p.Validate(), authcapture.ErrInvalidPolicy)
	})
}

// The Service's Policy getter returns the policy as it was registered,
// minimums included, as a copy: changing it, or the map given to New,
// changes nothing the Service applies.
func TestPolicyGetterReturnsWhatWasRegistered(t *testing.T) {
	t.Parallel()
	mins := map[authcapture.Currency]string{"USD": "2.00"}
	custom := authcapture.Policy{Name: "custom", MultipleCaptures: true, PartialCapture: true, Validity: 24 * time.Hour,
		MinCapture: mins, CaptureModes: []authcapture.CaptureMode{authcapture.CaptureManual}}
	f := setup(t)
	svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{custom}})
	require.NoError(t, err)

	afterpay, ok := svc.Policy("afterpay")
	require.True(t, ok)
	assert.Equal(t, authcapture.Afterpay.MinCapture, afterpay.MinCapture)
	got, ok := svc.Policy("custom")
	require.True(t, ok)
	assert.Equal(t, map[authcapture.Currency]string{"USD": "2.00"}, got.MinCapture)
	assert.Equal(t, []authcapture.CaptureMode{authcapture.CaptureManual}, got.CaptureModes)

	// Neither the copy returned nor the caller's map reaches the Service.
	got.MinCapture["USD"] = "0.01"
	got.CaptureModes[0] = authcapture.CaptureAutomatic
	afterpay.MinCapture["USD"] = "0.01"
	mins["USD"] = "0.01"
	again, _ := svc.Policy("custom")
	assert.Equal(t, map[authcapture.Currency]string{"USD": "2.00"}, again.MinCapture)
	assert.Equal(t, []authcapture.CaptureMode{authcapture.CaptureManual}, again.CaptureModes)
	assert.Equal(t, "1.00", authcapture.Afterpay.MinCapture["USD"], "the preset is untouched")
	r, err := svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10.00"),
		Policy: "custom", CaptureMode: authcapture.CaptureManual, IdempotencyKey: "c"})
	require.NoError(t, err)
	_, err = svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("10.00"), IdempotencyKey: "a"})
	require.NoError(t, err)
	_, err = svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("1.99"), IdempotencyKey: "k"})
	require.ErrorIs(t, err, authcapture.ErrBelowMinimum, "the registered minimum applies")
}

// Each preset's knobs for amounts that move after approval, with the
// providers' own numbers: Stripe's 10 incremental attempts before capture,
// Adyen's adjustments at any time on pre-authorisations, PayPal's 115
// percent / 75 USD overcapture, one reauthorization on days 4 to 29 and
// 180-day refunds, Afterpay's 120 days, PayMongo's 60 days for cards.
func TestPresetAmountKnobs(t *testing.T) {
	t.Parallel()
	const d = 24 * time.Hour
	type knobs struct {
		incremental, decremental bool
		types                    []authcapture.AuthorizationType
		beforeCapture            bool
		attempts                 int
		changeValidity           time.Duration
		overPercent              int
		overMax                  map[authcapture.Currency]string
		refundBefore             bool
		refundWindow             time.Duration
		reauths                  int
		reauthAfter, reauthBy    time.Duration
		reauthValidity           time.Duration
		expiringSoon             time.Duration
		validity                 time.Duration
	}
	estimated := []authcapture.AuthorizationType{authcapture.AuthorizationEstimated}
	want := map[string]knobs{
		"default":  {validity: 7 * d},
		"waffo":    {validity: 7 * d},
		"paymongo": {refundWindow: 60 * d, validity: 7 * d},
		"afterpay": {refundBefore: true, refundWindow: 120 * d, validity: 13 * d},
		"payrails": {refundBefore: true, validity: 7 * d},
		"njiapay":  {validity: 7 * d},
		"stripe": {incremental: true, types: estimated, beforeCapture: true, attempts: 10, refundBefore: true,
			validity: 7 * d},
		"adyen": {incremental: true, decremental: true, types: estimated, changeValidity: 28 * d, refundBefore: true,
			validity: 28 * d},
		"paypal": {overPercent: 15, overMax: map[authcapture.Currency]string{"USD": "75.00"}, refundBefore: true,
			refundWindow: 180 * d, reauths: 1, reauthAfter: 4 * d, reauthBy: 29 * d, reauthValidity: 29 * d,
			validity: 29 * d},
	}
	require.Len(t, want, len(authcapture.Presets()), "every preset has its row")
	for _, p := range authcapture.Presets() {
		t.Run(p.Name, func(t *testing.T) {
			w, ok := want[p.Name]
			require.True(t, ok)
			got := knobs{p.IncrementalAuthorization, p.DecrementalAuthorization, p.AmountChangeTypes, p.AmountChangeBeforeCapture,
				p.MaxAmountChangeAttempts, p.AmountChangeValidity, p.OvercapturePercent, p.OvercaptureMax, p.RefundBeforeFinalCapture,
				p.RefundWindow, p.MaxReauthorizations, p.ReauthorizeAfter, p.ReauthorizeBefore, p.ReauthorizationValidity,
				p.ExpiringSoon, p.Validity}
			assert.Equal(t, w, got)
			require.NoError(t, p.Validate())
			if p.ExpiringSoon > 0 {
				assert.Less(t, p.ExpiringSoon, p.Validity, "the notice comes before expiry")
			}
			if p.MaxReauthorizations > 0 {
				assert.LessOrEqual(t, p.ReauthorizeBefore, p.Validity, "a reauthorization falls within the hold")
				assert.Less(t, p.ReauthorizeAfter, p.ReauthorizeBefore)
			}
		})
	}
}

// PayPal's overcapture, as its documentation gives it: up to 115 percent
// of the authorized amount, at most 75 USD more.
func TestPayPalOvercaptureAllowance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		authorized, most, refused string
	}{
		{"100.00", "115.00", "115.01"},
		{"1000.00", "1075.00", "1075.01"},
		{"500.00", "575.00", "575.01"}, // 15 percent is exactly the cap
		{"500.01", "575.01", "575.02"}, // the cap binds
		{"10.00", "11.50", "11.51"},
		{"0.07", "0.08", "0.09"}, // 1.05 cents rounds down to 1
	} {
		t.Run(tt.authorized, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			a := f.hold("paypal", tt.authorized)
			_, err := f.capture(a.ID, tt.refused, authcapture.Bool(true))
			require.ErrorIs(t, err, authcapture.ErrExceedsCapturable)
			_, err = f.capture(a.ID, tt.most, authcapture.Bool(true))
			require.NoError(t, err)
			got := f.get(a.ID)
			assert.Equal(t, amt(tt.most), got.Amounts().Captured)
			assert.Equal(t, amt(tt.most).Sub(amt(tt.authorized)), got.Amounts().Overcaptured)
		})
	}
}
