package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/jackc/pgx/v5/pgtype"
)

// numeric returns minor units of c as an exact NUMERIC in c's units, with
// the currency's number of fractional digits (450 USD cents is 4.50).
func numeric(c authcapture.Currency, minor int64) pgtype.Numeric {
	d := c.FromMinor(minor)
	return pgtype.Numeric{Int: d.Coefficient(), Exp: d.Exponent(), Valid: true}
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
