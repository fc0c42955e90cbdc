package authcapture

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Input limits. Anything longer or malformed is rejected with
// ErrInvalidArgument before the store is touched. Texts (references,
// reasons, metadata values) are UTF-8 without control characters: no C0
// control (U+0000 to U+001F), DEL (U+007F) or C1 control (U+0080 to
// U+009F), no line or paragraph separator (U+2028, U+2029), and no
// bidirectional embedding, override or isolate (U+202A to U+202E, U+2066 to
// U+2069), which could make a stored text display as another.
const (
	// MaxIDLen is the longest ID (merchant, authorization, capture, policy
	// name): 1 to MaxIDLen characters from A-Z a-z 0-9 _ - . :
	MaxIDLen = 64
	// MaxKeyLen is the longest idempotency key: 1 to MaxKeyLen printable
	// ASCII characters (U+0020 to U+007E, space included).
	MaxKeyLen = 255
	// MaxReferenceLen is the longest reference, in bytes of UTF-8.
	MaxReferenceLen = 255
	// MaxReasonLen is the longest reason (a provider's decline or failure
	// code or message), in bytes of UTF-8.
	MaxReasonLen = 255
	// MaxMetadataPairs is the most metadata pairs an authorization has.
	MaxMetadataPairs = 50
	// MaxMetadataKeyLen is the longest metadata key, in characters of the
	// ID alphabet.
	MaxMetadataKeyLen = 40
	// MaxMetadataValueLen is the longest metadata value, in bytes of UTF-8.
	MaxMetadataValueLen = 500
)

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
			return fmt.Errorf("%s %q has a character outside A-Z a-z 0-9 and _ - . or colon: %w", what, truncate(s, MaxIDLen), ErrInvalidArgument)
		}
	}
	return nil
}

func checkKey(s string) error {
	if s == "" {
		return fmt.Errorf("idempotency key is required: %w", ErrInvalidArgument)
	}
	if len(s) > MaxKeyLen {
		return fmt.Errorf("idempotency key is longer than %d bytes: %w", MaxKeyLen, ErrInvalidArgument)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("idempotency key has a character outside printable ASCII: %w", ErrInvalidArgument)
		}
	}
	if strings.HasPrefix(s, schedulerKeyPrefix) {
		return fmt.Errorf("idempotency keys starting %q are the scheduler's: %w", schedulerKeyPrefix, ErrInvalidArgument)
	}
	if strings.HasPrefix(s, outcomeKeyPrefix) {
		return fmt.Errorf("idempotency keys starting %q are RecordOutcome's: %w", outcomeKeyPrefix, ErrInvalidArgument)
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
		if forbiddenRune(r) {
			return fmt.Errorf("%s has a control character (%U): %w", what, r, ErrInvalidArgument)
		}
	}
	return nil
}

// forbiddenRune reports whether a text may not hold r: a C0 or C1 control,
// DEL, a line or paragraph separator, or a bidirectional embedding,
// override or isolate.
func forbiddenRune(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f ||
		r == 0x2028 || r == 0x2029 ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadataPairs {
		return fmt.Errorf("metadata has %d pairs, more than %d: %w", len(m), MaxMetadataPairs, ErrInvalidArgument)
	}
	for k, v := range m {
		if err := checkToken("metadata key", k, MaxMetadataKeyLen); err != nil {
			return err
		}
		if err := checkText("metadata value of "+k, v, MaxMetadataValueLen); err != nil {
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
		return &Error{Op: op, Err: ErrInvalidArgument, Detail: "the context is nil"}
	}
	return nil
}
