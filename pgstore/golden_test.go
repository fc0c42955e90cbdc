package pgstore

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite pgstore/testdata/*.golden from the current encoder")

// goldenCase is one stored value and the name of its line in a golden file.
// back is what the value reads back as when that is not the value itself
// (invalid UTF-8 reads back as U+FFFD, empty metadata as nil).
type goldenCase struct {
	name  string
	value any
	back  any
}

// goldenCases returns the stored values of the golden files, by file. The
// files were first written by the hand-written encoder that preceded
// encoding/json, so they pin the bytes rows already stored hold.
func goldenCases() map[string][]goldenCase {
	at := time.Date(2031, 3, 4, 5, 6, 7, 123456789, time.UTC)
	yearZero := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	lastNano := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	unix := time.Unix(0, 0).UTC()
	oneNano := time.Date(2031, 3, 4, 5, 6, 7, 1, time.UTC)
	whole := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	zoned := at.In(time.FixedZone("", -7*3600))
	text := "quote \" backslash \\ slash / <&> ü ✓ 日本語 😀 \u2028 \u2029 \ufffd"
	control := "nul \x00 bell \x07 bs \b ff \f nl \n cr \r tab \t esc \x1b del \x7f"
	full := authcapture.Authorization{
		ID: "auth_1", MerchantID: "merchant-1", Reference: text,
		Metadata: map[string]string{"b": "2", "a": "1", "note": "ünïcode ✓", "html": "<b>&</b>"},
		Currency: "USD", Policy: "default", Phase: authcapture.PhaseApproved,
		Requested: authcapture.MaxMinorUnits, Authorized: 90000, Captured: 100, Pending: 50, Voided: 7, Expired: 3,
		Captures: 2,
		PendingCaptures: []authcapture.PendingCapture{
			{ID: "cap_2", Amount: 50, Final: true, Scheduled: true}, {ID: "cap_3"}, {},
		},
		CloseReason: authcapture.CloseFinalCapture,
		CaptureMode: authcapture.CaptureDelayed, CaptureDelay: 5 * time.Minute,
		CancelMode: authcapture.CancelDelayed, CancelDelay: math.MaxInt64,
		ExpiryAction: authcapture.ExpiryCapture, CaptureAt: oneNano, CancelAt: whole, CaptureFailures: 3,
		CreatedAt: at, AuthorizedAt: at.Add(time.Nanosecond), ExpiresAt: lastNano, ExpiryRule: "policy default validity 168h0m0s",
		ExpiredAt: unix, ClosedAt: yearZero, NextDue: at.Add(time.Hour),
		Version: math.MaxInt64, Entries: math.MaxInt64 - 1, Events: 1 << 40,
	}
	return map[string][]goldenCase{
		"authorization": {
			{name: "zero", value: &authcapture.Authorization{}},
			{name: "full", value: &full},
			{name: "created", value: &authcapture.Authorization{ID: "a", MerchantID: "m", Currency: "JPY", Policy: "stripe",
				Requested: 1, CreatedAt: at, Version: 1, Entries: 1, Events: 1}},
			{name: "empty-collections", value: &authcapture.Authorization{ID: "a", MerchantID: "m",
				Metadata: map[string]string{}, PendingCaptures: []authcapture.PendingCapture{}},
				back: &authcapture.Authorization{ID: "a", MerchantID: "m", PendingCaptures: []authcapture.PendingCapture{}}},
			{name: "metadata-odd-keys", value: &authcapture.Authorization{Metadata: map[string]string{"": "empty key", "ü": "x", "Z": "", "a.b:c": control}}},
			{name: "negative", value: &authcapture.Authorization{Requested: -1, Captured: math.MinInt64, Captures: -3, CaptureDelay: -time.Nanosecond}},
			{name: "zoned-times", value: &authcapture.Authorization{CreatedAt: zoned, ExpiresAt: time.Date(2031, 3, 4, 5, 6, 7, 0, time.FixedZone("", 5*3600+30*60))}},
			{name: "invalid-utf8", value: &authcapture.Authorization{Reference: "bad \xff\xfe utf-8 \xe2\x82"},
				back: &authcapture.Authorization{Reference: "bad \ufffd\ufffd utf-8 \ufffd\ufffd"}},
		},
		"entry": {
			{name: "zero", value: &authcapture.Entry{}},
			{name: "full", value: &authcapture.Entry{Seq: math.MaxInt64, Version: 9, Kind: authcapture.EntryCapture,
				CaptureState: authcapture.CaptureSucceeded, CaptureID: "cap_1", Final: true, Amount: authcapture.MaxMinorUnits,
				At: at, IdempotencyKey: "key with spaces and \"quotes\" ~!@#$%^&*()", Reference: text, Reason: authcapture.Reason(control)}},
			{name: "capture-seq-only", value: &authcapture.Entry{Seq: 2, Kind: authcapture.EntryCapture}},
			{name: "edge-times", value: &authcapture.Entry{Seq: 1, At: yearZero}},
			{name: "last-nanosecond", value: &authcapture.Entry{Seq: 1, At: lastNano}},
			{name: "unix-epoch", value: &authcapture.Entry{Seq: 1, At: unix}},
		},
		"event": {
			{name: "zero", value: &authcapture.Event{}},
			{name: "full", value: &authcapture.Event{Position: math.MaxInt64, MerchantID: "m1", AuthorizationID: "a1",
				Seq: 2, Version: 3, Type: authcapture.EventCaptureSucceeded, At: at, EntrySeq: 4,
				Amount: authcapture.MaxMinorUnits, Open: -1, Status: authcapture.StatusPartiallyCaptured}},
			{name: "written", value: &authcapture.Event{MerchantID: "m1", AuthorizationID: "a1", Seq: 1, Version: 1,
				Type: authcapture.EventAuthorized, At: oneNano, EntrySeq: 1, Amount: 10000, Open: 10000, Status: authcapture.StatusAuthorized}},
		},
		"idempotency": {
			{name: "zero", value: &authcapture.IdempotencyRecord{}},
			{name: "full", value: &authcapture.IdempotencyRecord{MerchantID: "m1", Key: "k\\\"<>&\u2028", Op: "capture",
				Fingerprint: math.MaxUint64, AuthorizationID: "a1", Version: math.MaxInt64, EntrySeq: 7, CreatedAt: at}},
			{name: "fingerprint-high-bit", value: &authcapture.IdempotencyRecord{Fingerprint: 1 << 63, CreatedAt: whole}},
		},
	}
}

// readGolden returns the lines of testdata/name.golden: a case name, a
// space, and the JSON the column holds.
func readGolden(t *testing.T, name string) map[string][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s.golden: line without a space: %q", name, sc.Text())
		}
		out[k] = []byte(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The JSON of every stored type is byte for byte what the golden files
// hold, and reads back as the value written.
func TestEncodingMatchesGoldenFiles(t *testing.T) {
	for file, cases := range goldenCases() {
		if *updateGolden {
			var b bytes.Buffer
			for _, c := range cases {
				data, err := encode(c.value)
				if err != nil {
					t.Fatalf("%s/%s: %v", file, c.name, err)
				}
				fmt.Fprintf(&b, "%s %s\n", c.name, data)
			}
			if err := os.WriteFile(filepath.Join("testdata", file+".golden"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		golden := readGolden(t, file)
		if len(golden) != len(cases) {
			t.Errorf("%s.golden has %d lines, the test %d cases", file, len(golden), len(cases))
		}
		for _, c := range cases {
			want, ok := golden[c.name]
			if !ok {
				t.Errorf("%s.golden has no line %s", file, c.name)
				continue
			}
			got, err := encode(c.value)
			if err != nil {
				t.Errorf("%s/%s: %v", file, c.name, err)
				continue
			}
			if got != string(want) {
				t.Errorf("%s/%s:\n got %s\nwant %s", file, c.name, got, want)
			}
			back, err := decodeInto(want, c.value)
			if err != nil {
				t.Errorf("%s/%s: decoding: %v", file, c.name, err)
				continue
			}
			wantBack := c.value
			if c.back != nil {
				wantBack = c.back
			}
			if !reflect.DeepEqual(back, wantBack) {
				t.Errorf("%s/%s: reads back as\n%+v\nwant\n%+v", file, c.name, back, wantBack)
			}
			if c.back != nil {
				continue
			}
			again, err := encode(back)
			if err != nil || again != string(want) {
				t.Errorf("%s/%s: what it reads back as encodes as %s (%v), want %s", file, c.name, again, err, want)
			}
		}
	}
}

// decodeInto reads data as the store reads a row of orig's type (an event
// takes its position from its column: orig's) and returns a pointer to it.
func decodeInto(data []byte, orig any) (any, error) {
	switch orig := orig.(type) {
	case *authcapture.Authorization:
		return decodeAuthorization(data)
	case *authcapture.Entry:
		e, err := decodeEntry(data)
		return &e, err
	case *authcapture.Event:
		e, err := decodeEvent(orig.Position, data)
		return &e, err
	case *authcapture.IdempotencyRecord:
		return decodeIdempotency(data)
	}
	return nil, fmt.Errorf("no decoder for %T", orig)
}

// Every field of a stored type is tagged omitzero, so a field added later
// is left out while zero, as the golden files expect.
func TestStoredTypesTagEveryFieldOmitzero(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[authcapture.Authorization](), reflect.TypeFor[authcapture.PendingCapture](),
		reflect.TypeFor[authcapture.Entry](), reflect.TypeFor[authcapture.Event](),
		reflect.TypeFor[authcapture.IdempotencyRecord](),
	} {
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() && f.Tag.Get("json") != ",omitzero" {
				t.Errorf("%s.%s is tagged %q, want `json:\",omitzero\"`", typ.Name(), f.Name, f.Tag)
			}
		}
	}
}
