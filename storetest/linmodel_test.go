package storetest

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/model"
	"github.com/stretchr/testify/assert"
)

func TestForgedHistories(t *testing.T) {
	t.Parallel()
	testCheckerRejectsForgedHistories(t)
}

func TestLedgerModel(t *testing.T) {
	t.Parallel()
	open := forgedInitial // 1000 authorized at version 2
	with := func(change func(l *model.Ledger)) model.Ledger {
		l := open
		change(&l)
		return l
	}
	captured300 := with(func(l *model.Ledger) { l.Captured, l.Captures, l.Version = 300, 1, 3 })
	voidedAll := with(func(l *model.Ledger) {
		l.Voided, l.Version, l.CloseReason, l.ReleasedBy = 1000, 3, authcapture.CloseVoided, authcapture.CloseVoided
	})
	expiredAll := with(func(l *model.Ledger) {
		l.Expired, l.Version, l.HoldExpired, l.CloseReason = 1000, 3, true, authcapture.CloseExpired
	})
	// 300 reserved by a void in flight, void_3.
	voiding300 := with(func(l *model.Ledger) {
		l.PendingVoid, l.Version = 300, 3
		l.Voids = []model.PendingVoid{{ID: "void_3", Amount: 300}}
	})
	// Everything else voided, the hold let go of, and 300 still reserved
	// by void_3 (begun before).
	released := with(func(l *model.Ledger) {
		l.Voided, l.PendingVoid, l.Version, l.ReleasedBy = 700, 300, 4, authcapture.CloseVoided
		l.Voids = []model.PendingVoid{{ID: "void_3", Amount: 300}}
	})
	// 500 captured; void_3, a void of everything, reserves 300; 200 went
	// back to open since (a capture failed).
	wholeVoiding := with(func(l *model.Ledger) {
		l.Captured, l.Captures, l.PendingVoid, l.Version = 500, 1, 300, 6
		l.Voids = []model.PendingVoid{{ID: "void_3", Amount: 300, Whole: true}}
	})
	// 300 captured, the rest voided: closed, 300 refundable.
	closed300 := with(func(l *model.Ledger) {
		l.Captured, l.Captures, l.Voided, l.Version = 300, 1, 700, 4
		l.CloseReason, l.ReleasedBy = authcapture.CloseVoided, authcapture.CloseVoided
	})
	// The same, with refund_5 of 100 in flight.
	refunding100 := with(func(l *model.Ledger) {
		*l = closed300
		l.PendingRefund, l.Version = 100, 5
		l.Refunds = []model.Refunded{{ID: "refund_5", Amount: 100, Pending: true}}
	})
	closedView := func(v model.View) model.View {
		v.Captured, v.Voided, v.Captures, v.Status = 300, 700, 1, authcapture.StatusCaptured
		v.CloseReason, v.ReleasedBy = authcapture.CloseVoided, authcapture.CloseVoided
		return v
	}
	view := func(v model.View) model.View {
		v.Requested, v.Authorized = 1000, 1000
		return v
	}
	cases := []struct {
		name   string
		from   model.Ledger
		in     linInput
		want   model.View
		reject error
	}{
		{"CaptureMovesOpenToCaptured", open, linInput{Kind: linCapture, Amount: 300},
			view(model.View{Open: 700, Captured: 300, Captures: 1, Version: 3, Status: authcapture.StatusPartiallyCaptured}), nil},
		{"FinalCaptureReleasesTheRest", open, linInput{Kind: linFinalCapture, Amount: 300},
			view(model.View{Captured: 300, Voided: 700, Captures: 1, Version: 3, Status: authcapture.StatusCaptured,
				CloseReason: authcapture.CloseFinalCapture, ReleasedBy: authcapture.CloseFinalCapture}), nil},
		{"PartialVoidKeepsItOpen", open, linInput{Kind: linVoid, Amount: 300},
			view(model.View{Open: 700, Voided: 300, Version: 3, Status: authcapture.StatusAuthorized}), nil},
		{"VoidAllClosesAsVoided", open, linInput{Kind: linVoidAll},
			view(model.View{Voided: 1000, Version: 3, Status: authcapture.StatusVoided, CloseReason: authcapture.CloseVoided,
				ReleasedBy: authcapture.CloseVoided}), nil},
		{"CaptureOfMoreThanOpenIsRejected", open, linInput{Kind: linCapture, Amount: 1001}, open.View(), authcapture.ErrExceedsCapturable},
		{"ExpiryReleasesWhatIsOpen", open, linInput{Kind: linExpire},
			view(model.View{Expired: 1000, Version: 3, Status: authcapture.StatusExpired, HoldExpired: true,
				CloseReason: authcapture.CloseExpired}), nil},
		{"ExpiryAfterACaptureClosesAsCaptured", captured300, linInput{Kind: linExpire},
			view(model.View{Captured: 300, Expired: 700, Captures: 1, Version: 4, Status: authcapture.StatusCaptured, HoldExpired: true,
				CloseReason: authcapture.CloseExpired}), nil},
		{"ExpiryOfAClosedAuthorizationWritesNothing", voidedAll, linInput{Kind: linExpire},
			view(model.View{Voided: 1000, Version: 3, Status: authcapture.StatusVoided, CloseReason: authcapture.CloseVoided,
				ReleasedBy: authcapture.CloseVoided}), nil},
		{"CommandsAfterExpiryAreRejectedAsExpired", expiredAll, linInput{Kind: linVoid, Amount: 1},
			view(model.View{Expired: 1000, Version: 3, Status: authcapture.StatusExpired, HoldExpired: true,
				CloseReason: authcapture.CloseExpired}), authcapture.ErrExpired},
		{"CommandsAfterCloseAreRejectedAsInvalidStatus", voidedAll, linInput{Kind: linCapture, Amount: 1},
			view(model.View{Voided: 1000, Version: 3, Status: authcapture.StatusVoided, CloseReason: authcapture.CloseVoided,
				ReleasedBy: authcapture.CloseVoided}),
			authcapture.ErrInvalidStatus},
		{"BeginVoidReserves", open, linInput{Kind: linBeginVoid, Amount: 300},
			view(model.View{Open: 700, PendingVoid: 300, Voids: 1, Version: 3, Status: authcapture.StatusAuthorized}), nil},
		{"BeginVoidBeyondOpenWaitsForTheVoidInFlight", voiding300, linInput{Kind: linBeginVoid, Amount: 701},
			voiding300.View(), authcapture.ErrActionInFlight},
		{"CaptureDrawsFromTheVoidInFlight", voiding300, linInput{Kind: linCapture, Amount: 900},
			view(model.View{Captured: 900, PendingVoid: 100, Voids: 1, Captures: 1, Version: 4,
				Status: authcapture.StatusPartiallyCaptured}), nil},
		{"VoidBeyondOpenAndReservedIsRejected", voiding300, linInput{Kind: linVoid, Amount: 1001},
			voiding300.View(), authcapture.ErrExceedsCapturable},
		{"ConfirmOfAPartReopensTheRest", voiding300, linInput{Kind: linConfirmVoid, VoidID: "void_3", Released: 100, HasReleased: true},
			view(model.View{Open: 900, Voided: 100, Version: 4, Status: authcapture.StatusAuthorized}), nil},
		{"ConfirmOfMoreThanReservedIsRejected", voiding300, linInput{Kind: linConfirmVoid, VoidID: "void_3", Released: 301, HasReleased: true},
			voiding300.View(), authcapture.ErrExceedsCapturable},
		{"FailedVoidReopens", voiding300, linInput{Kind: linFailVoid, VoidID: "void_3"},
			view(model.View{Open: 1000, Version: 4, Status: authcapture.StatusAuthorized}), nil},
		{"FinalCaptureWhileAVoidIsInFlightReleasesTheHold", voiding300, linInput{Kind: linFinalCapture, Amount: 700},
			view(model.View{Captured: 700, PendingVoid: 300, Voids: 1, Captures: 1, Version: 4, ReleasedBy: authcapture.CloseFinalCapture,
				Status: authcapture.StatusPartiallyCaptured}), nil},
		{"TheFirstReleaseNamesReleasedBy", released, linInput{Kind: linFinalCapture, Amount: 100},
			view(model.View{Captured: 100, Voided: 700, PendingVoid: 200, Voids: 1, Captures: 1, Version: 5,
				ReleasedBy: authcapture.CloseVoided, Status: authcapture.StatusPartiallyCaptured}), nil},
		{"BeginVoidAllReservesWhatIsOpen", open, linInput{Kind: linBeginVoidAll},
			view(model.View{PendingVoid: 1000, Voids: 1, Version: 3, Status: authcapture.StatusAuthorized}), nil},
		{"ConfirmOfAWholeVoidMayReleaseWhatReturnedToOpen", wholeVoiding,
			linInput{Kind: linConfirmVoid, VoidID: "void_3", Released: 500, HasReleased: true},
			view(model.View{Captured: 500, Voided: 500, Captures: 1, Version: 7, ReleasedBy: authcapture.CloseVoided,
				Status: authcapture.StatusCaptured, CloseReason: authcapture.CloseVoided}), nil},
		{"ConfirmOfAWholeVoidBeyondOpenIsRejected", wholeVoiding,
			linInput{Kind: linConfirmVoid, VoidID: "void_3", Released: 501, HasReleased: true},
			wholeVoiding.View(), authcapture.ErrExceedsCapturable},
		{"RefundOfAClosedAuthorizationLeavesTheHold", closed300, linInput{Kind: linRefund, Amount: 100},
			view(closedView(model.View{Refunded: 100, Refunds: 1, Version: 5, RefundStatus: authcapture.RefundPartiallyRefunded})), nil},
		{"RefundBeforeTheFinalCaptureIsRefusedByTheDefaultPolicy", captured300, linInput{Kind: linRefund, Amount: 100},
			captured300.View(), authcapture.ErrRefundNotAllowed},
		{"RefundBeyondCapturedIsRejected", closed300, linInput{Kind: linRefund, Amount: 301}, closed300.View(),
			authcapture.ErrExceedsRefundable},
		{"RefundBeyondWhatRefundsInFlightLeaveWaits", refunding100, linInput{Kind: linRefund, Amount: 201}, refunding100.View(),
			authcapture.ErrActionInFlight},
		{"BeginRefundReserves", closed300, linInput{Kind: linBeginRefund, Amount: 300},
			view(closedView(model.View{PendingRefund: 300, Refunds: 1, Version: 5, RefundStatus: authcapture.RefundPending})), nil},
		{"ConfirmedRefundIsRefunded", refunding100, linInput{Kind: linConfirmRefund, RefundID: "refund_5"},
			view(closedView(model.View{Refunded: 100, Refunds: 1, Version: 6, RefundStatus: authcapture.RefundPartiallyRefunded})), nil},
		{"FailedRefundIsRefundableAgain", refunding100, linInput{Kind: linFailRefund, RefundID: "refund_5"},
			view(closedView(model.View{Version: 6})), nil},
		{"SettlingARefundNotPendingIsNotFound", closed300, linInput{Kind: linConfirmRefund, RefundID: "refund_5"},
			closed300.View(), authcapture.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apply(tc.from, tc.in, "void_3")
			assert.Equal(t, tc.want, got.View())
			assert.Equal(t, tc.reject, err)
			if tc.reject != nil {
				assert.Equal(t, tc.from, got, "a rejected command changes nothing")
			}
		})
	}
}
