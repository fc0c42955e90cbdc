package authcapture_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// Every input limit is accepted at its documented value and refused one
// past it; the README's limits table cites each exported constant with its
// value.
func TestInputLimitsAreTheDocumentedOnes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	create := func(change func(r *authcapture.CreateRequest)) error {
		req := authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: f.key()}
		change(&req)
		_, err := f.svc.Create(f.ctx, req)
		return err
	}
	pairs := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m["k"+strconv.Itoa(i)] = "v"
		}
		return m
	}
	meta := func(k, v string) func(r *authcapture.CreateRequest) {
		return func(r *authcapture.CreateRequest) { r.Metadata = map[string]string{k: v} }
	}
	x := strings.Repeat
	tests := []struct {
		name     string
		at, past func(r *authcapture.CreateRequest)
	}{
		{"MaxIDLen", func(r *authcapture.CreateRequest) { r.ID = x("a", authcapture.MaxIDLen) },
			func(r *authcapture.CreateRequest) { r.ID = x("b", authcapture.MaxIDLen+1) }},
		{"MaxKeyLen", func(r *authcapture.CreateRequest) { r.IdempotencyKey = x("a", authcapture.MaxKeyLen-1) + " " },
			func(r *authcapture.CreateRequest) { r.IdempotencyKey = x("b", authcapture.MaxKeyLen+1) }},
		{"MaxReferenceLen", func(r *authcapture.CreateRequest) { r.Reference = x("é", authcapture.MaxReferenceLen/2) },
			func(r *authcapture.CreateRequest) { r.Reference = x("é", authcapture.MaxReferenceLen/2) + "ab" }},
		{"MaxMetadataPairs", func(r *authcapture.CreateRequest) { r.Metadata = pairs(authcapture.MaxMetadataPairs) },
			func(r *authcapture.CreateRequest) { r.Metadata = pairs(authcapture.MaxMetadataPairs + 1) }},
		{"MaxMetadataKeyLen", meta(x("k", authcapture.MaxMetadataKeyLen), "v"), meta(x("k", authcapture.MaxMetadataKeyLen+1), "v")},
		{"MaxMetadataValueLen", meta("k", x("v", authcapture.MaxMetadataValueLen)), meta("k", x("v", authcapture.MaxMetadataValueLen+1))},
	}
	for _, tt := range tests {
		assert.NoError(t, create(tt.at), "%s: at the limit", tt.name)
		assert.ErrorIs(t, create(tt.past), authcapture.ErrInvalidArgument, "%s: past the limit", tt.name)
	}

	// MaxReasonLen: a provider's decline message fits; one byte more does not.
	message := "Do not honor: the issuing bank declined the transaction; ask the cardholder to call it."
	require.Greater(t, len(message), 64)
	for _, reason := range []string{message, x("r", authcapture.MaxReasonLen), x("r", authcapture.MaxReasonLen+1)} {
		r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("10"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: r.Authorization.ID, Reason: reason, IdempotencyKey: f.key()})
		a := f.hold("default", "10")
		b, berr := f.svc.BeginCapture(f.ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: a.ID, Amount: amt("1"), IdempotencyKey: f.key()})
		require.NoError(t, berr)
		_, ferr := f.svc.FailCapture(f.ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: a.ID, CaptureID: b.Entry.CaptureID, Reason: reason, IdempotencyKey: f.key()})
		if len(reason) <= authcapture.MaxReasonLen {
			assert.NoError(t, err, "decline reason of %d bytes", len(reason))
			assert.NoError(t, ferr, "failure reason of %d bytes", len(reason))
			log, err := f.svc.Log(f.ctx, "m1", r.Authorization.ID)
			require.NoError(t, err)
			assert.Equal(t, reason, string(log[len(log)-1].Reason), "recorded whole")
		} else {
			assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "decline reason of %d bytes", len(reason))
			assert.ErrorIs(t, ferr, authcapture.ErrInvalidArgument, "failure reason of %d bytes", len(reason))
		}
	}

	raw, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for name, value := range map[string]int64{
		"MaxIDLen": authcapture.MaxIDLen, "MaxKeyLen": authcapture.MaxKeyLen,
		"MaxReferenceLen": authcapture.MaxReferenceLen, "MaxReasonLen": authcapture.MaxReasonLen,
		"MaxMetadataPairs": authcapture.MaxMetadataPairs, "MaxMetadataKeyLen": authcapture.MaxMetadataKeyLen,
		"MaxMetadataValueLen": authcapture.MaxMetadataValueLen, "MaxAmountDigits": authcapture.MaxAmountDigits,
		"MaxMinorUnits": authcapture.MaxMinorUnits,
	} {
		row := "| `" + name + "` | " + strconv.FormatInt(value, 10) + " "
		assert.True(t, strings.Contains(string(raw), row), "the README's limits table lacks %q", row)
	}
}

// Idempotency keys are printable ASCII, space included; anything else is
// refused.
func TestIdempotencyKeysArePrintableASCII(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, key := range []string{"order 42 / capture #1", " ", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"} {
		_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), IdempotencyKey: key})
		assert.NoError(t, err, "%q", key)
	}
	for _, key := range []string{"a\tb", "a\nb", "a\x7fb", "clé", "a\u00a0b"} {
		_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), IdempotencyKey: key})
		assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "%q", key)
	}
}

// References, reasons and metadata values hold no control character (C0,
// DEL, C1), no line or paragraph separator and no bidirectional embedding,
// override or isolate; other Unicode is welcome.
func TestTextsHoldNoControlCharacters(t *testing.T) {
	t.Parallel()
	f := setup(t)
	bad := []rune{0x00, 0x1b, 0x7f, 0x80, 0x85, 0x9b, 0x9f, 0x2028, 0x2029,
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069}
	for _, r := range bad {
		s := "order " + string(r) + "42"
		_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), Reference: s, IdempotencyKey: f.key()})
		assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "reference with %U", r)
		_, err = f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), Metadata: map[string]string{"note": s}, IdempotencyKey: f.key()})
		assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "metadata value with %U", r)
		r2, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), IdempotencyKey: f.key()})
		require.NoError(t, err)
		_, err = f.svc.Decline(f.ctx, authcapture.DeclineRequest{MerchantID: "m1", ID: r2.Authorization.ID, Reason: s, IdempotencyKey: f.key()})
		assert.ErrorIs(t, err, authcapture.ErrInvalidArgument, "reason with %U", r)
	}
	good := "Müller, 東京, مرحبا, 🚀, \u200f, \u00a0"
	_, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1"), Reference: good,
		Metadata: map[string]string{"note": good}, IdempotencyKey: f.key()})
	assert.NoError(t, err)
}
