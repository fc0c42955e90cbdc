package pgstore

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// The JSON columns hold what encoding/json reads back into the same value,
// written compactly: a struct is an object of its fields that are not
// zero, under their Go names. A field left out decodes as its zero value,
// so the value read back is the value written, and a field added to a
// type is stored without a schema change. Values of kinds this encoder
// does not know (and types with their own JSON or text marshaling, except
// time.Time) are written by encoding/json itself.

// appendJSON appends the compact JSON of v to b and returns the extended
// buffer and the JSON, which shares b's memory.
func appendJSON(b []byte, v any) ([]byte, []byte, error) {
	rv := reflect.ValueOf(v)
	start := len(b)
	b, err := encoderOf(rv.Type())(b, rv)
	if err != nil {
		return b[:start], nil, err
	}
	return b, b[start:len(b):len(b)], nil
}

type encodeFunc func(b []byte, v reflect.Value) ([]byte, error)

var encoders sync.Map // reflect.Type -> encodeFunc

var (
	timeType          = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func encoderOf(t reflect.Type) encodeFunc {
	if f, ok := encoders.Load(t); ok {
		return f.(encodeFunc)
	}
	// A recursive type reaches itself while its encoder is being built: it
	// then gets this stand-in, which waits for the encoder.
	var (
		wg sync.WaitGroup
		f  encodeFunc
	)
	wg.Add(1)
	stand, loaded := encoders.LoadOrStore(t, encodeFunc(func(b []byte, v reflect.Value) ([]byte, error) {
		wg.Wait()
		return f(b, v)
	}))
	if loaded {
		return stand.(encodeFunc)
	}
	f = newEncoder(t)
	wg.Done()
	encoders.Store(t, f)
	return f
}

func newEncoder(t reflect.Type) encodeFunc {
	if t == timeType {
		return encodeTime
	}
	if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return encodeStd
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendBool(b, v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendInt(b, v.Int(), 10), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(b []byte, v reflect.Value) ([]byte, error) { return strconv.AppendUint(b, v.Uint(), 10), nil }
	case reflect.String:
		return func(b []byte, v reflect.Value) ([]byte, error) { return appendString(b, v.String()), nil }
	case reflect.Pointer:
		return pointerEncoder(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return encodeStd // base64
		}
		return sliceEncoder(t)
	case reflect.Map:
		if k := t.Key(); k.Kind() != reflect.String || k.Implements(textMarshalerType) || reflect.PointerTo(k).Implements(textMarshalerType) {
			return encodeStd
		}
		return mapEncoder(t)
	case reflect.Struct:
		return structEncoder(t)
	}
	return encodeStd
}

// encodeStd writes v with encoding/json, through its address if it has
// one, as encoding/json reaches a field, so that methods on the pointer
// apply.
func encodeStd(b []byte, v reflect.Value) ([]byte, error) {
	if v.CanAddr() {
		v = v.Addr()
	}
	data, err := json.Marshal(v.Interface())
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// encodeTime writes what time.Time.MarshalJSON writes.
func encodeTime(b []byte, v reflect.Value) ([]byte, error) {
	t, _ := reflect.TypeAssert[time.Time](v)
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

func pointerEncoder(t reflect.Type) encodeFunc {
	elem := encoderOf(t.Elem())
	return func(b []byte, v reflect.Value) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return elem(b, v.Elem())
	}
}

func sliceEncoder(t reflect.Type) encodeFunc {
	elem := encoderOf(t.Elem())
	return func(b []byte, v reflect.Value) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = elem(b, v.Index(i)); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
}

func mapEncoder(t reflect.Type) encodeFunc {
	elem := encoderOf(t.Elem())
	return func(b []byte, v reflect.Value) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k.String())
			b = append(b, ':')
			var err error
			if b, err = elem(b, v.MapIndex(k)); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
}

type fieldEncoder struct {
	index int
	key   string // `"Name":`
	enc   encodeFunc
}

func structEncoder(t reflect.Type) encodeFunc {
	var fields []fieldEncoder
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return encodeStd // embedded fields: encoding/json's promotion rules
		}
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("json"); ok {
			if tag == "-" {
				continue
			}
			n, opts, _ := strings.Cut(tag, ",")
			if opts != "" && opts != "omitempty" && opts != "omitzero" {
				return encodeStd // such as ",string"
			}
			if n != "" {
				name = n
			}
		}
		fields = append(fields, fieldEncoder{index: i, key: string(appendString(nil, name)) + ":", enc: encoderOf(sf.Type)})
	}
	return func(b []byte, v reflect.Value) ([]byte, error) {
		b = append(b, '{')
		first := true
		for i := range fields {
			f := &fields[i]
			fv := v.Field(f.index)
			if fv.IsZero() {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.key...)
			var err error
			if b, err = f.enc(b, fv); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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

// encode returns the JSON of v as its column holds it.
func encode(v any) ([]byte, error) {
	_, data, err := appendJSON(nil, v)
	return data, err
}
