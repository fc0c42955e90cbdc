package pgstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/authcapture/authcapture"
)

// numeric returns minor units of c as an exact decimal string in c's units,
// with the currency's number of fractional digits (450 USD cents is
// "4.50"), which PostgreSQL reads as a NUMERIC parameter.
func numeric(c authcapture.Currency, minor int64) string {
	exp := max(c.Exponent(), 0)
	var buf [48]byte
	b := buf[:0]
	u := uint64(minor)
	if minor < 0 {
		b = append(b, '-')
		u = -u
	}
	var digits [24]byte
	d := strconv.AppendUint(digits[:0], u, 10)
	switch {
	case exp == 0:
		b = append(b, d...)
	case len(d) <= exp:
		b = append(b, '0', '.')
		for i := len(d); i < exp; i++ {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		b = append(b, d[:len(d)-exp]...)
		b = append(b, '.')
		b = append(b, d[len(d)-exp:]...)
	}
	return string(b)
}

// splitDue returns the due-index columns of a: the next due time truncated
// to the microsecond (nil when nothing is due) and the nanoseconds
// truncated away.
func splitDue(a *authcapture.Authorization) (any, int32) {
	if a.NextDue.IsZero() {
		return nil, 0
	}
	return splitTime(a.NextDue)
}

// splitTime returns t truncated to the microsecond and the nanoseconds
// truncated away, in [0, 1000).
func splitTime(t time.Time) (any, int32) {
	t = t.UTC()
	us := t.Truncate(time.Microsecond)
	return us, int32(t.Sub(us))
}

// joinTime is the inverse of splitTime.
func joinTime(us time.Time, ns int32) time.Time {
	return us.UTC().Add(time.Duration(ns))
}

// encode returns the JSON of v, a stored type, as its column holds it:
// compact, an object of the fields that are not zero under their Go names
// (the stored types tag every field omitzero), times in RFC 3339 with
// nanoseconds. Strings are escaped as rows written by earlier releases
// have them: <, >, &, U+2028 and U+2029 as they are, \b and \f as
// \u0008 and \u000c.
//
// It returns a string, which pgx sends as text in every query exec mode;
// a []byte goes as bytea in the exec and simple protocol modes, where the
// statement's parameter types are not known, and the json column refuses
// it.
func encode(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(keepEscapes(bytes.TrimSuffix(b.Bytes(), []byte("\n")))), nil
}

// keepEscapes rewrites in JSON data the escapes that encoding/json writes
// and earlier releases did not.
func keepEscapes(data []byte) []byte {
	if !bytes.Contains(data, []byte(`\u202`)) && !bytes.Contains(data, []byte(`\b`)) && !bytes.Contains(data, []byte(`\f`)) {
		return data
	}
	out := make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			out = append(out, data[i])
			continue
		}
		// Outside strings JSON has no backslash; inside, each starts an
		// escape: \uXXXX or a backslash and one character.
		switch esc := data[i+1]; {
		case esc == 'b':
			out = append(out, `\u0008`...)
		case esc == 'f':
			out = append(out, `\u000c`...)
		case esc == 'u' && string(data[i+2:i+6]) == "2028":
			out = append(out, "\u2028"...)
		case esc == 'u' && string(data[i+2:i+6]) == "2029":
			out = append(out, "\u2029"...)
		case esc == 'u':
			out = append(out, data[i:i+6]...)
		default:
			out = append(out, data[i:i+2]...)
		}
		if esc := data[i+1]; esc == 'u' {
			i += 5
		} else {
			i++
		}
	}
	return out
}

func decodeAuthorization(state []byte) (*authcapture.Authorization, error) {
	var a authcapture.Authorization
	if err := json.Unmarshal(state, &a); err != nil {
		return nil, fmt.Errorf("pgstore: decoding authorization state: %w", err)
	}
	if len(a.Metadata) == 0 {
		a.Metadata = nil
	}
	return &a, nil
}

func decodeEntry(data []byte) (authcapture.Entry, error) {
	var e authcapture.Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("pgstore: decoding entry: %w", err)
	}
	return e, nil
}

func decodeEvent(position int64, data []byte) (authcapture.Event, error) {
	var e authcapture.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("pgstore: decoding event: %w", err)
	}
	e.Position = position
	return e, nil
}

func decodeIdempotency(data []byte) (*authcapture.IdempotencyRecord, error) {
	var r authcapture.IdempotencyRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("pgstore: decoding idempotency record: %w", err)
	}
	return &r, nil
}
