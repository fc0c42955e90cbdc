package authcapture

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Input limits. Anything longer or malformed is rejected with
// ErrInvalidArgument before the store is touched.
const (
	// IDs (merchant, authorization, capture, policy names): 1 to 64
	// characters from A-Z a-z 0-9 and _ - . :
	maxIDLen = 64
	// Idempotency keys: 1 to 255 printable ASCII characters, no spaces.
	maxKeyLen = 255
	// References: up to 255 bytes of UTF-8 without control characters;
	// reasons (decline and failure codes) up to 64.
	maxReferenceLen = 255
	// Metadata: at most 50 pairs; keys up to 40 bytes from the ID
	// alphabet, values up to 500 bytes of UTF-8 without control characters.
	maxMetadataPairs  = 50
	maxMetadataKeyLen = 40
	maxMetadataValLen = 500
)

// Limits is the documented set of input limits, for callers that validate
// earlier (an HTTP layer, say).
var Limits = struct {
	IDLength, IdempotencyKeyLength, ReferenceLength       int
	MetadataPairs, MetadataKeyLength, MetadataValueLength int
	MaxMinorUnits                                         int64
}{maxIDLen, maxKeyLen, maxReferenceLen, maxMetadataPairs, maxMetadataKeyLen, maxMetadataValLen, MaxMinorUnits}

// schedulerKeyPrefix starts the idempotency keys of the Scheduler's own
// writes; callers cannot use it.
const schedulerKeyPrefix = "scheduler:"

func checkToken(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%s is required: %w", what, ErrInvalidArgument)
	}
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes: %w", what, max, ErrInvalidArgument)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Errorf("%s %q has a character outside A-Z a-z 0-9 _ - . : %w", what, truncate(s, maxIDLen), ErrInvalidArgument)
		}
	}
	return nil
}

func checkKey(s string) error {
	if s == "" {
		return fmt.Errorf("idempotency key is required: %w", ErrInvalidArgument)
	}
	if len(s) > maxKeyLen {
		return fmt.Errorf("idempotency key is longer than %d bytes: %w", maxKeyLen, ErrInvalidArgument)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("idempotency key must be printable ASCII without spaces: %w", ErrInvalidArgument)
		}
	}
	if strings.HasPrefix(s, schedulerKeyPrefix) {
		return fmt.Errorf("idempotency keys starting %q are the scheduler's: %w", schedulerKeyPrefix, ErrInvalidArgument)
	}
	return nil
}

func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes: %w", what, max, ErrInvalidArgument)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrInvalidArgument)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s has a control character: %w", what, ErrInvalidArgument)
		}
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > maxMetadataPairs {
		return fmt.Errorf("metadata has %d pairs, more than %d: %w", len(m), maxMetadataPairs, ErrInvalidArgument)
	}
	for k, v := range m {
		if err := checkToken("metadata key", k, maxMetadataKeyLen); err != nil {
			return err
		}
		if err := checkText("metadata value of "+k, v, maxMetadataValLen); err != nil {
			return err
		}
	}
	return nil
}

// checkContext rejects a nil context with ErrInvalidArgument, as
// http.NewRequestWithContext does; every public method that takes a
// context calls it first.
func checkContext(ctx context.Context, op string) error {
	if ctx == nil {
		return &Error{Op: op, Err: ErrInvalidArgument, Detail: "nil context"}
	}
	return nil
}
