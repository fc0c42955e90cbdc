package pgstore

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
)

func TestNumericIsExactInCurrencyUnits(t *testing.T) {
	for _, tc := range []struct {
		c     authcapture.Currency
		minor int64
		want  string
	}{
		{"USD", 450, "4.50"},
		{"USD", 5, "0.05"},
		{"USD", 0, "0.00"},
		{"USD", -1, "-0.01"},
		{"USD", -250, "-2.50"},
		{"USD", authcapture.MaxMinorUnits, "9999999999999.99"},
		{"JPY", 123456, "123456"},
		{"JPY", 0, "0"},
		{"BHD", 1005, "1.005"},
		{"BHD", 5, "0.005"},
		{"XXX-unknown", 42, "42"},
		{"USD", math.MinInt64, "-92233720368547758.08"},
	} {
		if got := numeric(tc.c, tc.minor); got != tc.want {
			t.Errorf("numeric(%s, %d) = %q, want %q", tc.c, tc.minor, got, tc.want)
		}
	}
}

type encodeInner struct {
	N    int
	S    string
	Skip string `json:"-"`
}

type encodeMarshaler struct{ v int }

func (m encodeMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]int{"v": m.v}) }

func (m *encodeMarshaler) UnmarshalJSON(b []byte) error {
	var x map[string]int
	err := json.Unmarshal(b, &x)
	m.v = x["v"]
	return err
}

type encodePtrMarshaler struct{ v int }

func (m *encodePtrMarshaler) MarshalJSON() ([]byte, error) { return json.Marshal([]int{m.v}) }

func (m *encodePtrMarshaler) UnmarshalJSON(b []byte) error {
	var x []int
	err := json.Unmarshal(b, &x)
	if len(x) == 1 {
		m.v = x[0]
	}
	return err
}

type encodeNode struct {
	Name string
	Next *encodeNode
}

type encodeEmbedded struct{ E int }

type encodeSample struct {
	Str      string
	Escapes  string
	Invalid  string
	Int      int64
	Neg      int32
	Uint     uint64
	Bool     bool
	Float    float64
	Time     time.Time
	Zone     time.Time
	Dur      time.Duration
	Map      map[string]string
	EmptyMap map[string]int
	Slice    []encodeInner
	Empty    []int
	Bytes    []byte
	Ptr      *encodeInner
	NilPtr   *encodeInner
	Tagged   int `json:"renamed"`
	Custom   encodeMarshaler
	PtrCust  encodePtrMarshaler
	List     *encodeNode
	Array    [2]int
	Any      any
	encodeEmbedded
	unexported int
}

// The compact encoding reads back, through encoding/json, as the same value
// that encoding/json's own encoding reads back as.
func TestCompactJSONReadsBackAsEncodingJSONDoes(t *testing.T) {
	at := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)
	values := []any{
		&encodeSample{},
		&encodeSample{
			Str: "plain", Escapes: "quote \" backslash \\ newline \n tab \t nul \x00 bell \x07 del \x7f <&> ü ✓ \u2028",
			Invalid: "bad \xff\xfe utf-8 \xe2\x82", Int: math.MaxInt64, Neg: -42, Uint: math.MaxUint64, Bool: true, Float: 1.5,
			Time: at, Zone: at.In(time.FixedZone("", -7*3600)), Dur: 90 * time.Second,
			Map: map[string]string{"b": "2", "a": "1", "": "empty key", "ü": "x"}, EmptyMap: map[string]int{},
			Slice: []encodeInner{{}, {N: 1, S: "s", Skip: "dropped"}}, Empty: []int{}, Bytes: []byte("bytes"),
			Ptr: &encodeInner{}, Tagged: 7, Custom: encodeMarshaler{v: 3}, PtrCust: encodePtrMarshaler{v: 4},
			List: &encodeNode{Name: "a", Next: &encodeNode{Name: "b"}}, Array: [2]int{1, 2}, Any: map[string]any{"k": []any{1.0, "x"}},
			encodeEmbedded: encodeEmbedded{E: 9}, unexported: 1,
		},
		&authcapture.Authorization{},
		&authcapture.Authorization{ID: "a1", MerchantID: "m1", Metadata: map[string]string{"k": "v"}, Currency: "USD",
			Phase: authcapture.PhaseApproved, Requested: 10000, Authorized: 9000, Captured: 100, Captures: 1,
			PendingCaptures: []authcapture.PendingCapture{{ID: "cap_2", Amount: 50, Final: true}},
			CreatedAt:       at, AuthorizedAt: at.Add(time.Nanosecond), NextDue: at.Add(time.Hour), Version: 3, Entries: 3, Events: 4},
		&authcapture.Entry{Seq: 1, Version: 1, Kind: authcapture.EntryCapture, Amount: 5, At: at},
		&authcapture.Event{MerchantID: "m1", AuthorizationID: "a1", Seq: 2, Type: authcapture.EventCaptureSucceeded, At: at},
		&authcapture.IdempotencyRecord{MerchantID: "m1", Key: "k", Fingerprint: math.MaxUint64, CreatedAt: at},
	}
	for _, v := range values {
		compact, err := encode(v)
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if !json.Valid([]byte(compact)) {
			t.Fatalf("%T: invalid JSON %s", v, compact)
		}
		std, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(v).Elem()
		fromCompact, fromStd := reflect.New(typ).Interface(), reflect.New(typ).Interface()
		if err := json.Unmarshal([]byte(compact), fromCompact); err != nil {
			t.Fatalf("%T: %v in %s", v, err, compact)
		}
		if err := json.Unmarshal(std, fromStd); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromCompact, fromStd) {
			t.Errorf("%T:\ncompact %s\n reads %+v\n    std %s\n reads %+v", v, compact, fromCompact, std, fromStd)
		}
		if len(compact) > len(std) {
			t.Errorf("%T: compact encoding is %d bytes, encoding/json's %d", v, len(compact), len(std))
		}
	}
}

func TestCompactJSONLeavesOutZeroFields(t *testing.T) {
	got, err := encode(&authcapture.Entry{Seq: 2, Kind: authcapture.EntryCapture})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Seq":2,"Kind":"capture"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got, _ = encode(&authcapture.Authorization{})
	if got != "{}" {
		t.Errorf("zero authorization: %s", got)
	}
}

func TestCompactJSONReportsWhatEncodingJSONCannotWrite(t *testing.T) {
	for _, v := range []any{
		&struct{ T time.Time }{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		&struct{ F float64 }{math.NaN()},
	} {
		if _, err := encode(v); err == nil {
			t.Errorf("%+v: no error", v)
		}
	}
	b, err := encode(&struct{ F float64 }{math.Inf(1)})
	if err == nil || b != "" {
		t.Errorf("failed encoding: %q, %v", b, err)
	}
}
