package memstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

// The compact forms (encode.go) name every field of the stored types. A
// field added to one of them must be added to its compact form, or the
// store silently drops it: these lists make that a test failure, and the
// round trips below, which set every field by reflection, check the
// encoding itself. (PendingCapture values are stored whole.)
var coveredFields = map[reflect.Type][]string{
	reflect.TypeFor[authcapture.Authorization](): {"ID", "MerchantID", "Reference", "Metadata", "Currency", "Policy",
		"Phase", "Requested", "Authorized", "Captured", "Pending", "Voided", "Expired", "Captures", "PendingCaptures",
		"CloseReason", "CaptureMode", "CaptureDelay", "CancelMode", "CancelDelay", "ExpiryAction", "CaptureAt",
		"CancelAt", "CaptureFailures", "CreatedAt", "AuthorizedAt", "ExpiresAt", "ExpiryRule", "ExpiredAt", "ClosedAt",
		"NextDue", "Version", "Entries", "Events"},
	reflect.TypeFor[authcapture.Entry](): {"Seq", "Version", "Kind", "CaptureState", "CaptureID", "Final", "Amount",
		"At", "IdempotencyKey", "Reference", "Reason"},
	reflect.TypeFor[authcapture.Event](): {"Position", "MerchantID", "AuthorizationID", "Seq", "Version", "Type", "At",
		"EntrySeq", "Amount", "Open", "Status", "CaptureID", "Reference", "Reason", "CloseReason"},
	reflect.TypeFor[authcapture.IdempotencyRecord](): {"MerchantID", "Key", "Op", "Fingerprint", "AuthorizationID",
		"Version", "EntrySeq", "CreatedAt"},
}

func TestCompactFormsCoverEveryField(t *testing.T) {
	for typ, want := range coveredFields {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		require.Equal(t, want, got, "the fields of %s changed: update its compact form in encode.go, then this list", typ)
	}
}

// fill sets every exported field of the struct v points to to a non-zero
// value that differs from field to field; times get a zone other than UTC.
func fill(t *testing.T, v any, n *int) {
	t.Helper()
	fillValue(t, reflect.ValueOf(v).Elem(), n)
}

func fillValue(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	zone := time.FixedZone("X", -5*3600)
	for i := range v.NumField() {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		*n++
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Date(2026, 3, 4, 5, 6, 7, *n, zone)))
		case f.Kind() == reflect.String:
			f.SetString(fmt.Sprintf("%s-%d", name, *n))
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			f.SetInt(int64(*n))
		case f.Kind() == reflect.Uint64:
			f.SetUint(uint64(*n) << 40)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String:
			m := reflect.MakeMap(f.Type())
			m.SetMapIndex(reflect.ValueOf("k"+strconv.Itoa(*n)), reflect.ValueOf("v"))
			m.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf(""))
			f.Set(m)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			s := reflect.MakeSlice(f.Type(), 2, 2)
			for j := range 2 {
				fillValue(t, s.Index(j), n)
			}
			f.Set(s)
		default:
			t.Fatalf("fill: field %s of %s has a type fill does not know; teach it", name, v.Type())
		}
	}
}

// utcAll returns a copy of the struct v points to with every time field in
// UTC.
func utcAll[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		}
	}
	return v
}

func wantAuth(a *authcapture.Authorization) authcapture.Authorization {
	c := utcAll(*a.Clone())
	if len(c.Metadata) == 0 {
		c.Metadata = nil
	}
	if len(c.PendingCaptures) == 0 {
		c.PendingCaptures = nil
	}
	return c
}

// fullWrite returns a write of a new authorization with every field of
// everything set; with consistent, its events and idempotency record agree
// with its authorization and log the way the Service writes them.
func fullWrite(t *testing.T, merchant, id string, consistent bool) *authcapture.Write {
	n := 0
	a := new(authcapture.Authorization)
	fill(t, a, &n)
	a.MerchantID, a.ID, a.Version = merchant, id, 1
	es := make([]authcapture.Entry, 3)
	for i := range es {
		fill(t, &es[i], &n)
		es[i].Seq = int64(i + 1)
	}
	evs := make([]authcapture.Event, 3)
	for i := range evs {
		fill(t, &evs[i], &n)
	}
	rec := new(authcapture.IdempotencyRecord)
	fill(t, rec, &n)
	if consistent {
		a.Entries = int64(len(es))
		for i := range es {
			es[i].Version = a.Version
			es[i].At = es[0].At
			es[i].IdempotencyKey = id + "-key"
		}
		es[2].Reference = "" // an entry without a reference
		for i := range evs {
			e := &evs[i]
			e.MerchantID, e.AuthorizationID, e.Version, e.At = merchant, id, a.Version, es[0].At
			e.EntrySeq = int64(i + 1)
			e.Amount = es[i].Amount
			e.CaptureID, e.Reference, e.Reason = es[i].CaptureID, es[i].Reference, es[i].Reason
		}
		evs[2].Amount = evs[2].Open
		rec.MerchantID, rec.AuthorizationID, rec.Version, rec.CreatedAt = merchant, id, a.Version, es[0].At
		rec.Key, rec.EntrySeq = es[0].IdempotencyKey, 2
	}
	return &authcapture.Write{Authorization: a, Entries: es, Events: evs, Idempotency: rec}
}

// roundTrip writes w to s and checks that everything reads back as written
// (times in UTC).
func roundTrip(t *testing.T, s *Store, w *authcapture.Write) {
	t.Helper()
	ctx := context.Background()
	a := w.Authorization
	firstPos := s.pos + 1
	require.NoError(t, s.Write(ctx, w))

	got, err := s.Get(ctx, a.MerchantID, a.ID)
	require.NoError(t, err)
	require.Equal(t, wantAuth(a), wantAuth(got))

	if len(w.Entries) > 0 {
		first := w.Entries[0].Seq
		entries, err := s.Entries(ctx, a.MerchantID, a.ID, first-1, 0)
		require.NoError(t, err)
		var want []authcapture.Entry
		for _, e := range w.Entries {
			want = append(want, utcAll(e))
		}
		require.Equal(t, want, entries)
		if len(want) > 1 {
			one, err := s.Entries(ctx, a.MerchantID, a.ID, first, 1)
			require.NoError(t, err)
			require.Equal(t, want[1:2], one, "entries after the first, limit 1")
		}
	}

	for i, e := range w.Events {
		e.Position = firstPos + int64(i)
		evs, err := s.Events(ctx, e.MerchantID, e.Position-1, 1)
		require.NoError(t, err)
		require.Equal(t, []authcapture.Event{utcAll(e)}, evs)
	}

	if w.Idempotency != nil {
		rec, err := s.Idempotency(ctx, w.Idempotency.MerchantID, w.Idempotency.Key)
		require.NoError(t, err)
		require.Equal(t, utcAll(*w.Idempotency), *rec)
	}
}

// TestRoundTripCompact writes values that fit the compact forms, with
// every field set, and checks that they are stored compactly and read back
// whole.
func TestRoundTripCompact(t *testing.T) {
	s := New()
	w := fullWrite(t, "m1", "a1", true)
	roundTrip(t, s, w)

	m := s.merchants["m1"]
	r := s.record("m1", "a1")
	require.Nil(t, m.spill, "nothing spilled")
	require.NotNil(t, r.x, "metadata and pending captures are extras")
	require.Nil(t, r.x.full, "the authorization is compact")
	for i := range r.log.len() {
		require.True(t, r.log.at(i).compact(), "entry %d is compact", i+1)
	}

	// An update that clears the extras, with zero times and the known
	// strings of the Service.
	a := w.Authorization.Clone()
	*a = authcapture.Authorization{ID: a.ID, MerchantID: a.MerchantID, Currency: "JPY", Policy: "default",
		Phase: authcapture.PhaseApproved, Requested: 5, Authorized: 5, Version: 2, Entries: a.Entries + 1, Events: 7,
		CaptureMode: authcapture.CaptureManual, CancelMode: authcapture.CancelManual, ExpiryAction: authcapture.ExpiryRelease,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ExpiryRule: "explicit"}
	at := time.Date(2026, 1, 2, 0, 0, 0, 1, time.Local)
	w2 := &authcapture.Write{Authorization: a,
		Entries: []authcapture.Entry{{Seq: a.Entries, Version: 2, Kind: authcapture.EntryCapture,
			CaptureState: authcapture.CaptureSucceeded, CaptureID: "cap_1", Amount: 5, At: at, IdempotencyKey: "k2"}},
		Events: []authcapture.Event{{MerchantID: "m1", AuthorizationID: "a1", Seq: 7, Version: 2,
			Type: authcapture.EventCaptureSucceeded, At: at, EntrySeq: a.Entries, Amount: 5, Status: authcapture.StatusCaptured}},
		Idempotency: &authcapture.IdempotencyRecord{MerchantID: "m1", Key: "k2", Op: "capture", Fingerprint: math.MaxUint64,
			AuthorizationID: "a1", Version: 2, EntrySeq: a.Entries, CreatedAt: at}}
	roundTrip(t, s, w2)
	require.Nil(t, r.x, "no extras left")
	require.Nil(t, m.spill, "nothing spilled")
}

func TestTimeEncoding(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(maxUnixSec, 999_999_999),
		time.Unix(-maxUnixSec, 0),
		time.Date(2026, 5, 6, 7, 8, 9, 10, time.FixedZone("Z", 3600)),
	} {
		n, ok := encTime(tm)
		require.True(t, ok, "%v", tm)
		require.True(t, tm.Equal(decTime(n)), "%v", tm)
		if !tm.IsZero() {
			require.Equal(t, time.UTC, decTime(n).Location())
		}
	}
	for _, tm := range []time.Time{
		time.Unix(0, math.MinInt64), // the encoding of the zero time
		time.Unix(0, math.MaxInt64), // encodable, but beyond the conservative bound
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		_, ok := encTime(tm)
		require.False(t, ok, "%v", tm)
	}
}

// TestDueOrdersTimesOutsideTheEncoding checks the due index with due times
// that the heap keys clamp.
func TestDueOrdersTimesOutsideTheEncoding(t *testing.T) {
	ctx := context.Background()
	s := New()
	dues := []time.Time{
		time.Date(3001, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1001, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, math.MaxInt64).UTC(),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i, due := range dues {
		a := &authcapture.Authorization{MerchantID: "m", ID: strconv.Itoa(i), Version: 1, NextDue: due}
		require.NoError(t, s.Write(ctx, &authcapture.Write{Authorization: a}))
	}
	sorted := slices.Clone(dues)
	slices.SortFunc(sorted, func(a, b time.Time) int { return a.Compare(b) })
	for k, until := range sorted {
		refs, err := s.Due(ctx, until, 100)
		require.NoError(t, err)
		require.Len(t, refs, k+1, "due by %v", until)
		for j, ref := range refs {
			require.True(t, sorted[j].Equal(ref.DueAt), "due by %v: %d is %v", until, j, ref.DueAt)
		}
	}
	// Clearing and moving.
	a, err := s.Get(ctx, "m", "5")
	require.NoError(t, err)
	a.Version++
	a.NextDue = time.Time{}
	require.NoError(t, s.Write(ctx, &authcapture.Write{Authorization: a}))
	refs, err := s.Due(ctx, sorted[len(sorted)-1], 100)
	require.NoError(t, err)
	require.Len(t, refs, len(dues)-1)
	require.True(t, sorted[1].Equal(refs[0].DueAt))
}

// TestNothingAliases checks that what a caller holds, given or returned,
// shares nothing with the store.
func TestNothingAliases(t *testing.T) {
	ctx := context.Background()
	s := New()
	w := fullWrite(t, "m1", "a1", true)
	require.NoError(t, s.Write(ctx, w))
	want := wantAuth(w.Authorization)
	w.Authorization.Metadata["k"] = "changed"
	w.Authorization.PendingCaptures[0].Amount = -1
	got, err := s.Get(ctx, "m1", "a1")
	require.NoError(t, err)
	require.Equal(t, want, wantAuth(got))
	got.Metadata["k"] = "changed"
	got.PendingCaptures[0].Amount = -1
	again, err := s.Get(ctx, "m1", "a1")
	require.NoError(t, err)
	require.Equal(t, want, wantAuth(again))
}

// TestIndexGrows checks the hash index across growth and with colliding
// hashes.
func TestIndexGrows(t *testing.T) {
	var x index
	keys := map[uint32][]uint32{}
	for i := uint32(1); i <= 5000; i++ {
		h := i * 2654435761
		if i%7 == 0 {
			h = 42 // many equal hashes
		}
		x.insert(h, i)
		keys[h] = append(keys[h], i)
	}
	for h, refs := range keys {
		for _, ref := range refs {
			require.Equal(t, ref, x.lookup(h, func(r uint32) bool { return r == ref }))
		}
	}
	require.Zero(t, x.lookup(7, func(uint32) bool { return true }))
	require.LessOrEqual(t, 4*x.n, 3*len(x.slots))
}

// BenchmarkStoreCapture measures the store's share of a capture: the Get
// and the Write the Service makes, over 1,024 holds, without the Service.
func BenchmarkStoreCapture(b *testing.B) {
	const holds = 1024
	ctx := context.Background()
	s := New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ids := make([]string, holds)
	for i := range ids {
		ids[i] = "a" + strconv.Itoa(i)
		a := &authcapture.Authorization{ID: ids[i], MerchantID: "m1", Currency: "USD", Policy: "default",
			Phase: authcapture.PhaseApproved, Requested: 1e12, Authorized: 1e12, Version: 1, Entries: 1, Events: 1,
			CaptureMode: authcapture.CaptureManual, CancelMode: authcapture.CancelManual, ExpiryAction: authcapture.ExpiryRelease,
			CreatedAt: now, AuthorizedAt: now, ExpiresAt: now.Add(time.Hour), NextDue: now.Add(time.Hour),
			ExpiryRule: "policy default validity 168h0m0s"}
		err := s.Write(ctx, &authcapture.Write{Authorization: a,
			Entries: []authcapture.Entry{{Seq: 1, Version: 1, Kind: authcapture.EntryCreated, At: now}},
			Events: []authcapture.Event{{MerchantID: "m1", AuthorizationID: ids[i], Seq: 1, Version: 1,
				Type: authcapture.EventCreated, At: now, EntrySeq: 1}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	w := &authcapture.Write{Entries: make([]authcapture.Entry, 1), Events: make([]authcapture.Event, 1),
		Idempotency: &authcapture.IdempotencyRecord{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, err := s.Get(ctx, "m1", ids[i%holds])
		if err != nil {
			b.Fatal(err)
		}
		a.Version++
		a.Captured++
		a.Captures++
		a.Entries++
		open := a.Open()
		w.Authorization = a
		w.Entries[0] = authcapture.Entry{Seq: a.Entries, Version: a.Version, Kind: authcapture.EntryCapture,
			CaptureState: authcapture.CaptureSucceeded, CaptureID: "cap_0123456789abcdef01234567", Amount: 1, At: now,
			IdempotencyKey: keys[i]}
		w.Events[0] = authcapture.Event{MerchantID: "m1", AuthorizationID: a.ID, Seq: a.Events + 1, Version: a.Version,
			Type: authcapture.EventCaptureSucceeded, At: now, EntrySeq: a.Entries, Amount: 1, Open: open,
			Status: authcapture.StatusPartiallyCaptured}
		a.Events++
		*w.Idempotency = authcapture.IdempotencyRecord{MerchantID: "m1", Key: keys[i], Op: "capture",
			Fingerprint: uint64(i), AuthorizationID: a.ID, Version: a.Version, EntrySeq: a.Entries, CreatedAt: now}
		if err := s.Write(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLongLog writes a log across the chunks of entryLog in batches of
// several sizes, with events and keys that name its entries, and reads it
// back in pages.
func TestLongLog(t *testing.T) {
	ctx := context.Background()
	s := New()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &authcapture.Authorization{MerchantID: "m", ID: "a"}
	var want []authcapture.Entry
	for v := int64(1); len(want) < 5*logChunk; v++ {
		a.Version = v
		w := &authcapture.Write{Authorization: a}
		for range int(v%5) + 1 {
			a.Entries++
			e := authcapture.Entry{Seq: a.Entries, Version: v, Kind: authcapture.EntryCapture, Amount: a.Entries,
				At: at.Add(time.Duration(v)), IdempotencyKey: "k" + strconv.FormatInt(v, 10)}
			w.Entries = append(w.Entries, e)
			want = append(want, e)
		}
		last := w.Entries[len(w.Entries)-1]
		a.Events++
		w.Events = []authcapture.Event{{MerchantID: "m", AuthorizationID: "a", Seq: a.Events, Version: v,
			Type: authcapture.EventCaptureSucceeded, At: last.At, EntrySeq: last.Seq, Amount: last.Amount}}
		w.Idempotency = &authcapture.IdempotencyRecord{MerchantID: "m", Key: last.IdempotencyKey, Op: "capture",
			AuthorizationID: "a", Version: v, EntrySeq: last.Seq, CreatedAt: last.At}
		require.NoError(t, s.Write(ctx, w))
		rec, err := s.Idempotency(ctx, "m", last.IdempotencyKey)
		require.NoError(t, err)
		require.Equal(t, *w.Idempotency, *rec)
	}
	require.Nil(t, s.merchants["m"].spill)
	all, err := s.Entries(ctx, "m", "a", 0, 0)
	require.NoError(t, err)
	require.Equal(t, want, all)
	for _, limit := range []int{1, 7, logChunk, logChunk + 1} {
		var got []authcapture.Entry
		for after := int64(0); ; {
			page, err := s.Entries(ctx, "m", "a", after, limit)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), limit)
			got = append(got, page...)
			after = page[len(page)-1].Seq
		}
		require.Equal(t, want, got, "limit %d", limit)
	}
	evs, err := s.Events(ctx, "m", 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, int(a.Events))
	for _, ev := range evs {
		e := want[ev.EntrySeq-1]
		require.Equal(t, e.Amount, ev.Amount)
		require.Equal(t, e.Version, ev.Version)
		require.True(t, e.At.Equal(ev.At))
	}
}

// TestDueHeapRandom moves random authorizations through the due index and
// checks the heap and Due against a sorted list after each step.
func TestDueHeapRandom(t *testing.T) {
	ctx := context.Background()
	s := New()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 600
	version := make([]int64, n)
	due := make([]time.Time, n)
	for step := range 4000 {
		i := rng.IntN(n)
		version[i]++
		due[i] = time.Time{}
		if rng.IntN(4) > 0 {
			due[i] = base.Add(time.Duration(rng.IntN(300)) * time.Second)
		}
		a := &authcapture.Authorization{MerchantID: "m", ID: strconv.Itoa(i), Version: version[i], NextDue: due[i]}
		require.NoError(t, s.Write(ctx, &authcapture.Write{Authorization: a}))

		if step%10 != 0 {
			continue
		}
		h := s.due
		for j := range h {
			if h[j].r.heapIdx != int32(j) || j > 0 && h.less(j, (j-1)/arity) {
				t.Fatalf("step %d: item %d is out of place", step, j)
			}
		}
		if step%50 != 0 {
			continue
		}
		until := base.Add(time.Duration(rng.IntN(320)) * time.Second)
		limit := 1 + rng.IntN(100)
		var want []time.Time
		for _, d := range due {
			if !d.IsZero() && !d.After(until) {
				want = append(want, d)
			}
		}
		slices.SortFunc(want, time.Time.Compare)
		want = want[:min(limit, len(want))]
		refs, err := s.Due(ctx, until, limit)
		require.NoError(t, err)
		require.Len(t, refs, len(want))
		for k, ref := range refs {
			require.True(t, want[k].Equal(ref.DueAt))
			i, _ := strconv.Atoi(ref.ID)
			require.True(t, due[i].Equal(ref.DueAt))
		}
	}
}
