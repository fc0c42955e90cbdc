package storetest

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/stretchr/testify/assert"
)

func TestForgedHistories(t *testing.T) {
	t.Parallel()
	testCheckerRejectsForgedHistories(t)
}

func TestLedgerModel(t *testing.T) {
	t.Parallel()
	open := ledger{Authorized: 1000, Open: 1000, Version: 2, Status: authcapture.StatusAuthorized}
	cases := []struct {
		name   string
		from   ledger
		in     linInput
		want   ledger
		reject error
	}{
		{"CaptureMovesOpenToCaptured", open, linInput{Kind: linCapture, Amount: 300},
			ledger{Authorized: 1000, Open: 700, Captured: 300, Version: 3, Status: authcapture.StatusPartiallyCaptured}, nil},
		{"FinalCaptureReleasesTheRest", open, linInput{Kind: linFinalCapture, Amount: 300},
			ledger{Authorized: 1000, Captured: 300, Voided: 700, Version: 3, Status: authcapture.StatusCaptured}, nil},
		{"PartialVoidKeepsItOpen", open, linInput{Kind: linVoid, Amount: 300},
			ledger{Authorized: 1000, Open: 700, Voided: 300, Version: 3, Status: authcapture.StatusAuthorized}, nil},
		{"VoidAllClosesAsVoided", open, linInput{Kind: linVoidAll},
			ledger{Authorized: 1000, Voided: 1000, Version: 3, Status: authcapture.StatusVoided}, nil},
		{"CaptureOfMoreThanOpenIsRejected", open, linInput{Kind: linCapture, Amount: 1001}, open, authcapture.ErrExceedsCapturable},
		{"ExpiryReleasesWhatIsOpen", open, linInput{Kind: linExpire},
			ledger{Authorized: 1000, Expired: 1000, Version: 3, Status: authcapture.StatusExpired, HoldExpired: true}, nil},
		{"ExpiryAfterACaptureClosesAsCaptured",
			ledger{Authorized: 1000, Open: 700, Captured: 300, Version: 3, Status: authcapture.StatusPartiallyCaptured},
			linInput{Kind: linExpire},
			ledger{Authorized: 1000, Captured: 300, Expired: 700, Version: 4, Status: authcapture.StatusCaptured, HoldExpired: true}, nil},
		{"ExpiryOfAClosedAuthorizationWritesNothing",
			ledger{Authorized: 1000, Voided: 1000, Version: 3, Status: authcapture.StatusVoided},
			linInput{Kind: linExpire},
			ledger{Authorized: 1000, Voided: 1000, Version: 3, Status: authcapture.StatusVoided}, nil},
		{"CommandsAfterExpiryAreRejectedAsExpired",
			ledger{Authorized: 1000, Expired: 1000, Version: 3, Status: authcapture.StatusExpired, HoldExpired: true},
			linInput{Kind: linVoid, Amount: 1},
			ledger{Authorized: 1000, Expired: 1000, Version: 3, Status: authcapture.StatusExpired, HoldExpired: true}, authcapture.ErrExpired},
		{"CommandsAfterCloseAreRejectedAsInvalidStatus",
			ledger{Authorized: 1000, Voided: 1000, Version: 3, Status: authcapture.StatusVoided},
			linInput{Kind: linCapture, Amount: 1},
			ledger{Authorized: 1000, Voided: 1000, Version: 3, Status: authcapture.StatusVoided}, authcapture.ErrInvalidStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.from.apply(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.reject, err)
		})
	}
}
