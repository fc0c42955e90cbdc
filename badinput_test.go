package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Every command given bad input returns a typed error and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	huge := decimal.RequireFromString("1e40")
	mega := strings.Repeat("x", 1<<20)
	hugeAmount := decimal.NewFromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(100_000), nil), 0)
	// Refund rows start from a 10.00 hold (default policy) that prep
	// moves on: captured whole (closed), captured in part, or with a
	// failed capture before the final one.
	capturedAll := func(f *fixture, id string) {
		_, err := f.capture(id, "10.00", nil)
		require.NoError(f.t, err)
	}
	capturedPart := func(f *fixture, id string) {
		_, err := f.capture(id, "6.00", authcapture.Bool(false))
		require.NoError(f.t, err)
	}
	failedThenFinal := func(f *fixture, id string) { // cap_3 fails, cap_5 takes 6.00 and closes it
		_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("2"), IdempotencyKey: f.key()})
		require.NoError(f.t, err)
		_, err = f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: "cap_3", IdempotencyKey: f.key()})
		require.NoError(f.t, err)
		_, err = f.capture(id, "6.00", authcapture.Bool(true))
		require.NoError(f.t, err)
	}
	refund := func(f *fixture, id string, req authcapture.RefundRequest) error {
		req.MerchantID, req.ID, req.IdempotencyKey = "m1", id, "k"
		_, err := f.svc.Refund(f.ctx, req)
		return err
	}
	tests := []struct {
		name string
		want error
		run  func(f *fixture, id string) error
		prep func(f *fixture, id string) // moves the hold on before the bad command
	}{
		{"zero refund amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{})
		}, capturedAll},
		{"negative refund amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("-1")})
		}, capturedAll},
		{"too precise refund amount", authcapture.ErrAmountPrecision, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1.001")})
		}, capturedAll},
		{"absurdly large refund amount", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: huge})
		}, capturedAll},
		{"mismatched refund currency", authcapture.ErrCurrencyMismatch, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), Currency: "EUR"})
		}, capturedAll},
		{"unknown refund currency", authcapture.ErrUnknownCurrency, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), Currency: "usd"})
		}, capturedAll},
		{"refund with a system reason", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), Reason: authcapture.ReasonFinalCapture})
		}, capturedAll},
		{"refund naming a capture ID with a space", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), CaptureID: "cap 3"})
		}, capturedAll},
		{"begin refund above refundable", authcapture.ErrExceedsRefundable, func(f *fixture, id string) error {
			_, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt("10.01"), IdempotencyKey: "k"})
			return err
		}, capturedAll},
		{"a refund that never began", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_9", IdempotencyKey: "k"})
			return err
		}, capturedAll},
		{"failure of a refund that never began", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.FailRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_9", IdempotencyKey: "k"})
			return err
		}, capturedAll},
		{"failure of a refund already confirmed", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.FailRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_4", IdempotencyKey: "k"})
			return err
		}, func(f *fixture, id string) {
			capturedAll(f, id)
			r, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt("4"), IdempotencyKey: f.key()})
			require.NoError(f.t, err)
			require.Equal(f.t, "refund_4", r.Entry.RefundID)
			_, err = f.svc.ConfirmRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_4", IdempotencyKey: f.key()})
			require.NoError(f.t, err)
		}},
		{"refund failure reason with a bidi override", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.FailRefund(f.ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: id, RefundID: "refund_4", Reason: "x\u202ey",
				IdempotencyKey: "k"})
			return err
		}, func(f *fixture, id string) {
			capturedAll(f, id)
			_, err := f.svc.BeginRefund(f.ctx, authcapture.RefundRequest{MerchantID: "m1", ID: id, Amount: amt("4"), IdempotencyKey: f.key()})
			require.NoError(f.t, err)
		}},
		{"outcome of a refund never recorded, without its amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "pr1",
				Kind: authcapture.OutcomeRefund, Outcome: authcapture.OutcomeSucceeded, IdempotencyKey: "k"})
			return err
		}, capturedAll},
		{"outcome of a refund above refundable", authcapture.ErrExceedsRefundable, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "pr1",
				Kind: authcapture.OutcomeRefund, Outcome: authcapture.OutcomeSucceeded, Amount: amt("10.01"), IdempotencyKey: "k"})
			return err
		}, capturedAll},
		{"capture ID on a void outcome", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "pv1",
				Kind: authcapture.OutcomeVoid, Outcome: authcapture.OutcomeSucceeded, CaptureID: "cap_3", IdempotencyKey: "k"})
			return err
		}, nil},
		{"zero capture amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: decimal.Zero, IdempotencyKey: "k"})
			return err
		}, nil},
		{"negative capture amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error { _, err := f.capture(id, "-1.00", nil); return err }, nil},
		{"too precise capture amount", authcapture.ErrAmountPrecision, func(f *fixture, id string) error { _, err := f.capture(id, "10.001", nil); return err }, nil},
		{"absurdly large capture amount", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: huge, IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount together with All", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), All: true, IdempotencyKey: "k"})
			return err
		}, nil},
		{"zero void amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, IdempotencyKey: "k"})
			return err
		}, nil},
		{"too precise void amount", authcapture.ErrAmountPrecision, func(f *fixture, id string) error { _, err := f.void(id, "0.005"); return err }, nil},
		{"negative void amount", authcapture.ErrInvalidAmount, func(f *fixture, id string) error { _, err := f.void(id, "-5"); return err }, nil},
		{"mismatched capture currency", authcapture.ErrCurrencyMismatch, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Currency: "JPY", IdempotencyKey: "k"})
			return err
		}, nil},
		{"unknown capture currency", authcapture.ErrUnknownCurrency, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Currency: "usd", IdempotencyKey: "k"})
			return err
		}, nil},
		{"mismatched void currency", authcapture.ErrCurrencyMismatch, func(f *fixture, id string) error {
			_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, Currency: "EUR", IdempotencyKey: "k"})
			return err
		}, nil},
		{"empty merchant", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{ID: id, Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"empty ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture("", "1", nil); return err }, nil},
		{"oversized ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture(long, "1", nil); return err }, nil},
		{"ID with spaces", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture("a b", "1", nil); return err }, nil},
		{"empty idempotency key", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1")})
			return err
		}, nil},
		{"oversized idempotency key", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: long})
			return err
		}, nil},
		{"oversized reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Reference: long, IdempotencyKey: "k"})
			return err
		}, nil},
		{"reference with a control character", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Reference: "a\x00b", IdempotencyKey: "k"})
			return err
		}, nil},
		{"unknown ID", authcapture.ErrNotFound, func(f *fixture, id string) error { _, err := f.capture("auth_missing", "1", nil); return err }, nil},
		{"another merchant's ID", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m2", ID: id, Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"another merchant's key", authcapture.ErrNotFound, func(f *fixture, id string) error {
			// m2 replaying m1's key must not reach m1's authorization.
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m2", ID: id, Amount: amt("1"), IdempotencyKey: "m1-create"})
			return err
		}, nil},
		{"unknown capture to confirm", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: "cap_x", IdempotencyKey: "k"})
			return err
		}, nil},
		{"approval of an approved hold", authcapture.ErrInvalidStatus, func(f *fixture, id string) error {
			_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"zero approval", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, IdempotencyKey: "k"})
			return err
		}, nil},
		{"decline reason too long", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, Reason: long, IdempotencyKey: "k"})
			return err
		}, nil},
		{"decline reason one byte too long", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, Reason: strings.Repeat("r", authcapture.MaxReasonLen+1), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount with an int32-edge exponent", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: decimal.New(1234567890123456789, math.MaxInt32), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount of 100,001 digits", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: hugeAmount, IdempotencyKey: "k"})
			return err
		}, nil},
		{"void of 100,001 digits", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: hugeAmount, IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount of more than MaxAmountDigits digits", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.capture(id, "1."+strings.Repeat("0", authcapture.MaxAmountDigits), nil)
			return err
		}, nil},
		{"megabyte ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture(mega, "1", nil); return err }, nil},
		{"megabyte merchant ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: mega, ID: id, Amount: amt("1"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"ID with a bidi override", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture(id+"\u202e", "1", nil); return err }, nil},
		{"ID with a NUL", authcapture.ErrInvalidArgument, func(f *fixture, id string) error { _, err := f.capture(id+"\x00", "1", nil); return err }, nil},
		{"megabyte idempotency key", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: mega})
			return err
		}, nil},
		{"idempotency key with a NUL", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: "k\x00"})
			return err
		}, nil},
		{"the scheduler's key prefix", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: "scheduler:k"})
			return err
		}, nil},
		{"megabyte reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Reference: mega, IdempotencyKey: "k"})
			return err
		}, nil},
		{"reference with a C1 control (U+0085)", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Reference: "a\u0085b", IdempotencyKey: "k"})
			return err
		}, nil},
		{"reference with a C1 control (U+009B)", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Void(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, Reference: "a\u009b31mb", IdempotencyKey: "k"})
			return err
		}, nil},
		{"reference with a bidi override (U+202E)", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), Reference: "inv\u202egpj.exe", IdempotencyKey: "k"})
			return err
		}, nil},
		{"reference with a bidi isolate (U+2066)", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, Reference: "a\u2066b\u2069", IdempotencyKey: "k"})
			return err
		}, nil},
		{"decline reason with a C1 control", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: id, Reason: "declined\u0085", IdempotencyKey: "k"})
			return err
		}, nil},
		{"megabyte capture ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: mega, IdempotencyKey: "k"})
			return err
		}, nil},
		{"failure reason with a bidi override", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: id, CaptureID: "cap_1", Reason: "x\u202dy", IdempotencyKey: "k"})
			return err
		}, nil},
		{"negative released amount on a void's confirm", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			neg := amt("-1")
			_, err := f.svc.ConfirmVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: "void_1", Released: &neg, IdempotencyKey: "k"})
			return err
		}, nil},
		{"released amount on a void's failure", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			one := amt("1")
			_, err := f.svc.FailVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: "void_1", Released: &one, IdempotencyKey: "k"})
			return err
		}, nil},
		{"void ID with a space", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: "void 1", IdempotencyKey: "k"})
			return err
		}, nil},
		{"a void that never began", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmVoid(f.ctx, authcapture.SettleVoidRequest{MerchantID: "m1", ID: id, VoidID: "void_9", IdempotencyKey: "k"})
			return err
		}, nil},
		{"begin void of more than the hold", authcapture.ErrExceedsCapturable, func(f *fixture, id string) error {
			_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, Amount: amt("10.01"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"megabyte provider reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.BeginVoid(f.ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, ProviderRef: mega, IdempotencyKey: "k"})
			return err
		}, nil},
		{"outcome without a provider reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id,
				Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded, IdempotencyKey: "k"})
			return err
		}, nil},
		{"outcome of an unknown kind", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "p1",
				Kind: "chargeback", Outcome: authcapture.OutcomeSucceeded, IdempotencyKey: "k"})
			return err
		}, nil},
		{"outcome of a capture above the hold", authcapture.ErrExceedsCapturable, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "p1",
				Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded, Amount: amt("10.01"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change without a total or a delta", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change with both a total and a delta", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), Delta: amt("2"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change to a negative total", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("-12"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change by a too precise delta", authcapture.ErrAmountPrecision, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Delta: amt("-0.001"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change by an absurd delta", authcapture.ErrAmountTooLarge, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Delta: huge, IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change to the authorized total", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("10.00"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change in another currency", authcapture.ErrCurrencyMismatch, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), Currency: "EUR", IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change the policy does not allow", authcapture.ErrAmountChangeNotAllowed, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change begun as declined", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.BeginAmountChange(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), Declined: true, IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change with a reason but not declined", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.ChangeAmount(f.ctx, authcapture.AmountChangeRequest{MerchantID: "m1", ID: id, Total: amt("12"), Reason: "x", IdempotencyKey: "k"})
			return err
		}, nil},
		{"unknown amount change to confirm", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.ConfirmAmountChange(f.ctx, authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: id, ChangeID: "chg_9", IdempotencyKey: "k"})
			return err
		}, nil},
		{"amount change to decline without an ID", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.DeclineAmountChange(f.ctx, authcapture.SettleAmountChangeRequest{MerchantID: "m1", ID: id, IdempotencyKey: "k"})
			return err
		}, nil},
		{"outcome of an amount change never recorded, without its total", authcapture.ErrInvalidAmount, func(f *fixture, id string) error {
			_, err := f.svc.RecordOutcome(f.ctx, authcapture.OutcomeRequest{MerchantID: "m1", AuthorizationID: id, ProviderRef: "p1",
				Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded, IdempotencyKey: "k"})
			return err
		}, nil},
		{"reauthorization under a policy that allows none", authcapture.ErrReauthorizationNotAllowed, func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, IdempotencyKey: "k"})
			return err
		}, nil},
		{"reauthorization with a megabyte provider reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, ProviderRef: mega, IdempotencyKey: "k"})
			return err
		}, nil},
		{"reauthorization with a bidi override in its reference", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id, Reference: "a\u202eb", IdempotencyKey: "k"})
			return err
		}, nil},
		{"reauthorization without a key", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: id})
			return err
		}, nil},
		{"reauthorization of an unknown authorization", authcapture.ErrNotFound, func(f *fixture, id string) error {
			_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m1", ID: "auth_missing", IdempotencyKey: "k"})
			return err
		}, nil},
		{"reauthorization outside the window (PayPal: 3 days 23 hours)", authcapture.ErrReauthorizationWindow, func(f *fixture, id string) error {
			return f.rejectedReauthorization(3*day+23*time.Hour, time.Time{})
		}, nil},
		{"reauthorization after the window (PayPal: past day 29)", authcapture.ErrReauthorizationNotAllowed, func(f *fixture, id string) error {
			return f.rejectedReauthorization(29*day+time.Hour, t0.Add(30*day))
		}, nil},
		{"a second reauthorization (PayPal: once)", authcapture.ErrReauthorizationNotAllowed, func(f *fixture, id string) error {
			return f.rejectedReauthorization(5*day, time.Time{}, 4*day)
		}, nil},
		{"reauthorization of an expired hold", authcapture.ErrExpired, func(f *fixture, id string) error {
			return f.rejectedReauthorization(29*day, time.Time{})
		}, nil},
		{"reauthorization to an expiry already past", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			return f.rejectedReauthorization(5*day, time.Time{}, -5*day)
		}, nil},
		{"nil context", authcapture.ErrInvalidArgument, func(f *fixture, id string) error {
			_, err := f.svc.Capture(nil, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1"), IdempotencyKey: "k"}) // a nil context is the bad input
			return err
		}, nil},
		{"refund above refundable", authcapture.ErrExceedsRefundable, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("10.01")})
		}, capturedAll},
		{"refund above what the capture took", authcapture.ErrExceedsRefundable, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("6.01"), CaptureID: "cap_5"})
		}, failedThenFinal},
		{"refund of a capture that failed", authcapture.ErrCaptureNotRefundable, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), CaptureID: "cap_3"})
		}, failedThenFinal},
		{"refund of another authorization's capture", authcapture.ErrNotFound, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1"), CaptureID: "cap_9"})
		}, capturedAll},
		{"refund before the final capture", authcapture.ErrRefundNotAllowed, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1")})
		}, capturedPart},
		{"refund after the window", authcapture.ErrRefundWindowClosed, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1")})
		}, func(f *fixture, id string) {
			capturedAll(f, id)
			p := authcapture.DefaultPolicy // the same rules, with a 30-day refund window
			p.RefundWindow = 30 * 24 * time.Hour
			svc, err := authcapture.New(f.store, &authcapture.Options{Clock: f.clock, Policies: []authcapture.Policy{p}})
			require.NoError(f.t, err)
			f.svc = svc
			f.clock.Advance(30 * 24 * time.Hour)
		}},
		{"refund of nothing captured", authcapture.ErrInvalidStatus, func(f *fixture, id string) error {
			return refund(f, id, authcapture.RefundRequest{Amount: amt("1")})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: "m1-create"})
			require.NoError(t, err)
			_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: r.Authorization.ID, Amount: amt("10"), IdempotencyKey: "m1-auth"})
			require.NoError(t, err)
			if tt.prep != nil {
				tt.prep(f, r.Authorization.ID)
			}
			before := f.get(r.Authorization.ID)
			evs, _ := f.svc.Events(f.ctx, "m1", 0, 100)

			err = tt.run(f, r.Authorization.ID)
			require.ErrorIs(t, err, tt.want)
			var e *authcapture.Error
			require.ErrorAs(t, err, &e, "a typed error")
			assert.NotEmpty(t, e.Op)
			assert.Contains(t, []int{404, 409, 422}, authcapture.HTTPStatus(err))

			assert.Equal(t, before, f.get(r.Authorization.ID), "nothing changed")
			evs2, _ := f.svc.Events(f.ctx, "m1", 0, 100)
			assert.Equal(t, evs, evs2, "no event")
			_, err = f.store.Idempotency(f.ctx, "m1", "k")
			assert.True(t, errors.Is(err, authcapture.ErrNotFound), "no idempotency record")
		})
	}
}

// rejectedReauthorization approves a hold of merchant m2 under PayPal's
// rules (expiring at expires, or after 29 days if zero), reauthorizes it at
// each of earlier (a negative one asks for an expiry that long ago), then
// at when after approval, and returns that reauthorization's error, having
// checked that it changed nothing. It sets the clock back to t0 after.
func (f *fixture) rejectedReauthorization(when time.Duration, expires time.Time, earlier ...time.Duration) error {
	f.t.Helper()
	defer f.clock.Set(t0) // m1's hold, which the caller checks, must not expire meanwhile
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m2", Currency: "USD", Amount: amt("10"), Policy: "paypal_reauth",
		IdempotencyKey: "m2-create"})
	require.NoError(f.t, err)
	id := r.Authorization.ID
	_, err = f.svc.Authorize(f.ctx, authcapture.AuthorizeRequest{MerchantID: "m2", ID: id, Amount: amt("10"), ExpiresAt: expires,
		IdempotencyKey: "m2-auth"})
	require.NoError(f.t, err)
	var past time.Duration
	for i, e := range earlier {
		if e < 0 {
			past = -e
			continue
		}
		f.clock.Set(t0.Add(e))
		_, err := f.svc.Reauthorize(f.ctx, authcapture.ReauthorizeRequest{MerchantID: "m2", ID: id, IdempotencyKey: fmt.Sprintf("m2-re%d", i)})
		require.NoError(f.t, err)
	}
	f.clock.Set(t0.Add(when))
	before, err := f.svc.Get(f.ctx, "m2", id)
	require.NoError(f.t, err)
	evs, err := f.svc.Events(f.ctx, "m2", 0, 100)
	require.NoError(f.t, err)
	req := authcapture.ReauthorizeRequest{MerchantID: "m2", ID: id, IdempotencyKey: "k2"}
	if past > 0 {
		req.ExpiresAt = f.clock.Now().Add(-past)
	}
	_, rerr := f.svc.Reauthorize(f.ctx, req)
	after, err := f.svc.Get(f.ctx, "m2", id)
	require.NoError(f.t, err)
	assert.Equal(f.t, before, after, "nothing changed")
	evs2, err := f.svc.Events(f.ctx, "m2", 0, 100)
	require.NoError(f.t, err)
	assert.Equal(f.t, evs, evs2, "no event")
	_, err = f.store.Idempotency(f.ctx, "m2", "k2")
	assert.ErrorIs(f.t, err, authcapture.ErrNotFound, "no idempotency record")
	return rerr
}

func TestBadCreate(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 300)
	manyPairs := map[string]string{}
	for i := 0; i < 51; i++ {
		manyPairs[strings.Repeat("k", i+1)] = "v"
	}
	mega := strings.Repeat("x", 1<<20)
	thousands := map[string]string{}
	for i := range 10_000 {
		thousands[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 500)
	}
	base := func() authcapture.CreateRequest {
		return authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: "k"}
	}
	tests := []struct {
		name   string
		want   error
		change func(r *authcapture.CreateRequest)
	}{
		{"zero amount", authcapture.ErrInvalidAmount, func(r *authcapture.CreateRequest) { r.Amount = decimal.Zero }},
		{"negative amount", authcapture.ErrInvalidAmount, func(r *authcapture.CreateRequest) { r.Amount = amt("-1") }},
		{"too precise for USD", authcapture.ErrAmountPrecision, func(r *authcapture.CreateRequest) { r.Amount = amt("10.001") }},
		{"fractional yen", authcapture.ErrAmountPrecision, func(r *authcapture.CreateRequest) { r.Currency, r.Amount = "JPY", amt("1.5") }},
		{"four decimals of dinar", authcapture.ErrAmountPrecision, func(r *authcapture.CreateRequest) { r.Currency, r.Amount = "BHD", amt("1.0001") }},
		{"1e40", authcapture.ErrAmountTooLarge, func(r *authcapture.CreateRequest) { r.Amount = amt("1e40") }},
		{"just above the maximum", authcapture.ErrAmountTooLarge, func(r *authcapture.CreateRequest) { r.Amount = amt("10000000000000.00") }},
		{"unknown currency", authcapture.ErrUnknownCurrency, func(r *authcapture.CreateRequest) { r.Currency = "XXX" }},
		{"lower-case currency", authcapture.ErrUnknownCurrency, func(r *authcapture.CreateRequest) { r.Currency = "usd" }},
		{"empty currency", authcapture.ErrUnknownCurrency, func(r *authcapture.CreateRequest) { r.Currency = "" }},
		{"empty merchant", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.MerchantID = "" }},
		{"oversized merchant", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.MerchantID = long }},
		{"oversized ID", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.ID = long }},
		{"ID with a slash", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.ID = "a/b" }},
		{"empty key", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.IdempotencyKey = "" }},
		{"key with a tab", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.IdempotencyKey = "a\tb" }},
		{"oversized reference", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = long }},
		{"invalid UTF-8 reference", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = "\xff" }},
		{"too many metadata pairs", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = manyPairs }},
		{"oversized metadata value", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": strings.Repeat("v", 501)} }},
		{"metadata key with a space", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"a b": "v"} }},
		{"unknown policy", authcapture.ErrUnknownPolicy, func(r *authcapture.CreateRequest) { r.Policy = "nope" }},
		{"unknown authorization type", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.AuthorizationType = "Estimated" }},
		{"amount with an int32-edge exponent", authcapture.ErrAmountTooLarge, func(r *authcapture.CreateRequest) { r.Amount = decimal.New(1234567890123456789, math.MaxInt32) }},
		{"amount with an int32-edge negative exponent", authcapture.ErrAmountPrecision, func(r *authcapture.CreateRequest) { r.Amount = decimal.New(1234567890123456789, math.MinInt32) }},
		{"amount of 100,001 digits", authcapture.ErrAmountTooLarge, func(r *authcapture.CreateRequest) {
			r.Amount = decimal.NewFromBigInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(100_000), nil), 0)
		}},
		{"megabyte merchant", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.MerchantID = mega }},
		{"megabyte ID", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.ID = mega }},
		{"ID with a bidi override", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.ID = "a\u202eb" }},
		{"megabyte key", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.IdempotencyKey = mega }},
		{"megabyte reference", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = mega }},
		{"reference with a C1 control (U+0085)", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = "a\u0085b" }},
		{"reference with a C1 control (U+009B)", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = "a\u009b31m" }},
		{"reference with a bidi override", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = "inv\u202egpj.exe" }},
		{"reference with a line separator", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Reference = "a\u2028b" }},
		{"10,000 metadata pairs", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = thousands }},
		{"megabyte metadata key", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{mega: "v"} }},
		{"megabyte metadata value", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": mega} }},
		{"metadata value with a C1 control", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": "\u0085"} }},
		{"metadata value with a bidi isolate", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": "a\u2068b\u2069"} }},
		{"metadata value with a NUL", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": "a\x00b"} }},
		{"metadata value not UTF-8", authcapture.ErrInvalidArgument, func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{"k": "\xc3\x28"} }},
		{"megabyte policy name", authcapture.ErrUnknownPolicy, func(r *authcapture.CreateRequest) { r.Policy = mega }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			req := base()
			tt.change(&req)
			_, err := f.svc.Create(context.Background(), req)
			require.ErrorIs(t, err, tt.want)
			var e *authcapture.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 422, authcapture.HTTPStatus(err))
			assert.Equal(t, 0, f.store.Len())
		})
	}
}

func TestAmountParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		currency authcapture.Currency
		minor    int64
		err      error
	}{
		{"10.50", "USD", 1050, nil},
		{"10.5", "USD", 1050, nil},
		{"10", "USD", 1000, nil},
		{"0.01", "USD", 1, nil},
		{"1000", "JPY", 1000, nil},
		{"1.234", "BHD", 1234, nil},
		{"9999999999999.99", "USD", authcapture.MaxMinorUnits, nil},
		{"10.001", "USD", 0, authcapture.ErrAmountPrecision},
		{"0.5", "JPY", 0, authcapture.ErrAmountPrecision},
		{"0", "USD", 0, authcapture.ErrInvalidAmount},
		{"-1", "USD", 0, authcapture.ErrInvalidAmount},
		{"1e3", "USD", 0, authcapture.ErrInvalidAmount},
		{" 1", "USD", 0, authcapture.ErrInvalidAmount},
		{"1.", "USD", 0, authcapture.ErrInvalidAmount},
		{".5", "USD", 0, authcapture.ErrInvalidAmount},
		{"1.2.3", "USD", 0, authcapture.ErrInvalidAmount},
		{"", "USD", 0, authcapture.ErrInvalidAmount},
		{"10000000000000", "USD", 0, authcapture.ErrAmountTooLarge},
		{"100000000000000.000", "USD", 0, authcapture.ErrAmountTooLarge},
		{"99999999999999999.0", "JPY", 0, authcapture.ErrAmountTooLarge},
		{"1", "ABC", 0, authcapture.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		got, err := authcapture.ParseAmount(tt.in, tt.currency)
		if tt.err != nil {
			assert.ErrorIs(t, err, tt.err, "%q %s", tt.in, tt.currency)
			continue
		}
		require.NoError(t, err, "%q %s", tt.in, tt.currency)
		assert.Equal(t, tt.minor, got, "%q %s", tt.in, tt.currency)
		assert.True(t, tt.currency.FromMinor(got).Equal(amt(tt.in)))
	}
}

// Every overcapture the rules refuse returns a typed error and changes
// nothing, under PayPal's preset (115 percent, at most 75 USD more).
func TestBadOvercapture(t *testing.T) {
	t.Parallel()
	capture := func(f *fixture, id, amount string, final *bool) error {
		_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount), Final: final, IdempotencyKey: "k"})
		return err
	}
	begin := func(f *fixture, id, amount string, final *bool) error {
		_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt(amount), Final: final, IdempotencyKey: "k"})
		return err
	}
	yes, no := authcapture.Bool(true), authcapture.Bool(false)
	tests := []struct {
		name       string
		policy     string
		authorized string
		first      func(f *fixture, id string) // what happened before, if anything
		want       error
		run        func(f *fixture, id string) error
	}{
		{"above 115 percent", "paypal", "100.00", nil, authcapture.ErrExceedsCapturable,
			func(f *fixture, id string) error { return capture(f, id, "115.01", yes) }},
		{"above the 75 USD cap", "paypal", "1000.00", nil, authcapture.ErrExceedsCapturable,
			func(f *fixture, id string) error { return capture(f, id, "1075.01", yes) }},
		{"two-phase above the cap", "paypal", "1000.00", nil, authcapture.ErrExceedsCapturable,
			func(f *fixture, id string) error { return begin(f, id, "1075.01", yes) }},
		{"a non-final capture", "paypal", "100.00", nil, authcapture.ErrOvercaptureNotAllowed,
			func(f *fixture, id string) error { return capture(f, id, "110.00", no) }},
		{"a capture non-final by the policy's default", "paypal", "100.00", nil, authcapture.ErrOvercaptureNotAllowed,
			func(f *fixture, id string) error { return capture(f, id, "110.00", nil) }},
		{"a non-final two-phase capture", "paypal", "100.00", nil, authcapture.ErrOvercaptureNotAllowed,
			func(f *fixture, id string) error { return begin(f, id, "110.00", no) }},
		{"a second capture", "paypal", "100.00", func(f *fixture, id string) {
			_, err := f.capture(id, "10.00", no)
			require.NoError(f.t, err)
		}, authcapture.ErrOvercaptureNotAllowed, func(f *fixture, id string) error { return capture(f, id, "105.00", yes) }},
		{"beside a pending capture", "paypal", "100.00", func(f *fixture, id string) {
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("10.00"), IdempotencyKey: f.key()})
			require.NoError(f.t, err)
		}, authcapture.ErrOvercaptureNotAllowed, func(f *fixture, id string) error { return capture(f, id, "105.00", yes) }},
		{"while an overcapture is pending", "paypal", "100.00", func(f *fixture, id string) {
			_, err := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("110.00"), Final: yes, IdempotencyKey: f.key()})
			require.NoError(f.t, err)
		}, authcapture.ErrCapturePending, func(f *fixture, id string) error { return capture(f, id, "110.00", yes) }},
		{"in another currency", "paypal", "100.00", nil, authcapture.ErrCurrencyMismatch, func(f *fixture, id string) error {
			_, err := f.svc.Capture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("110.00"), Currency: "EUR", Final: yes, IdempotencyKey: "k"})
			return err
		}},
		{"too precise", "paypal", "100.00", nil, authcapture.ErrAmountPrecision,
			func(f *fixture, id string) error { return capture(f, id, "110.001", yes) }},
		{"after the hold expired", "paypal", "100.00", func(f *fixture, id string) { f.clock.Advance(29 * 24 * time.Hour) },
			authcapture.ErrExpired, func(f *fixture, id string) error { return capture(f, id, "110.00", yes) }},
		{"under a policy without an allowance", "default", "100.00", nil, authcapture.ErrExceedsCapturable,
			func(f *fixture, id string) error { return capture(f, id, "100.01", yes) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			a := f.hold(tt.policy, tt.authorized)
			if tt.first != nil {
				tt.first(f, a.ID)
			}
			before := f.get(a.ID)
			evs, _ := f.svc.Events(f.ctx, "m1", 0, 100)

			err := tt.run(f, a.ID)
			require.ErrorIs(t, err, tt.want)
			var e *authcapture.Error
			require.ErrorAs(t, err, &e, "a typed error")
			assert.Contains(t, []int{409, 422}, authcapture.HTTPStatus(err))

			assert.Equal(t, before, f.get(a.ID), "nothing changed")
			evs2, _ := f.svc.Events(f.ctx, "m1", 0, 100)
			assert.Equal(t, evs, evs2, "no event")
			_, err = f.store.Idempotency(f.ctx, "m1", "k")
			assert.True(t, errors.Is(err, authcapture.ErrNotFound), "no idempotency record")
		})
	}
}
