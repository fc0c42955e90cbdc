package memstore_test

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
	"github.com/authcapture/authcapture/internal/statemachine"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(*testing.T) authcapture.Store { return memstore.New() })
}

func TestLinearizability(t *testing.T) {
	storetest.RunLinearizabilityTests(t, func(_ *testing.T, n int) []authcapture.Store {
		s := memstore.New()
		handles := make([]authcapture.Store, n)
		for i := range handles {
			handles[i] = s // one process: every handle is the same store
		}
		return handles
	})
}

func TestStateMachine(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		statemachine.Run(t, func(*testing.T) authcapture.Store { return memstore.New() })
	})
	// The same machine with the Service's state cache in front of the store.
	t.Run("memstore/cached", func(t *testing.T) {
		statemachine.Run(t, func(*testing.T) authcapture.Store { return plainStore{memstore.New()} })
	})
}

// plainStore hides a store's optional capabilities (CheapReads), so the
// Service keeps its state cache.
type plainStore struct{ authcapture.Store }

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
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
			p := reflect.New(f.Type().Elem())
			fillValue(t, p.Elem(), n)
			f.Set(p)
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

// setTimes sets every time field of the struct v points to to tm.
func setTimes(v any, tm time.Time) {
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(tm))
		}
	}
}

// utcAll returns a copy of v with every time field in UTC.
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
	for i := range c.PendingCaptures {
		c.PendingCaptures[i] = utcAll(c.PendingCaptures[i])
	}
	for i := range c.PendingVoids {
		c.PendingVoids[i] = utcAll(c.PendingVoids[i])
	}
	for i := range c.PendingRefunds {
		c.PendingRefunds[i] = utcAll(c.PendingRefunds[i])
	}
	if c.PendingAmountChange != nil {
		pc := utcAll(*c.PendingAmountChange)
		c.PendingAmountChange = &pc
	}
	return c
}

// fullWrite returns a write of a new authorization with every field of
// everything set, its events and idempotency record naming it.
func fullWrite(t *testing.T, merchant, id string) *authcapture.Write {
	n := 0
	a := new(authcapture.Authorization)
	fill(t, a, &n)
	a.MerchantID, a.ID, a.Version = merchant, id, 1
	es := make([]authcapture.Entry, 3)
	for i := range es {
		fill(t, &es[i], &n)
		es[i].Seq = int64(i + 1)
	}
	a.Entries = int64(len(es))
	evs := make([]authcapture.Event, 3)
	for i := range evs {
		fill(t, &evs[i], &n)
		evs[i].MerchantID, evs[i].AuthorizationID = merchant, id
	}
	rec := new(authcapture.IdempotencyRecord)
	fill(t, rec, &n)
	rec.MerchantID, rec.AuthorizationID = merchant, id
	return &authcapture.Write{Authorization: a, Entries: es, Events: evs, Idempotency: rec}
}

// roundTrip writes w to s and checks that everything reads back as written,
// with times in UTC.
func roundTrip(t *testing.T, s *memstore.Store, w *authcapture.Write) {
	t.Helper()
	ctx := context.Background()
	a := w.Authorization
	before, err := s.Events(ctx, a.MerchantID, 0, 0)
	require.NoError(t, err)
	var lastPos int64
	if len(before) > 0 {
		lastPos = before[len(before)-1].Position
	}
	require.NoError(t, s.Write(ctx, w))

	got, err := s.Get(ctx, a.MerchantID, a.ID)
	require.NoError(t, err)
	require.Equal(t, wantAuth(a), wantAuth(got))
	for _, tm := range []time.Time{got.CreatedAt, got.NextDue, got.CaptureAt, got.ClosedAt} {
		require.Equal(t, time.UTC, tm.Location())
	}

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

	evs, err := s.Events(ctx, a.MerchantID, lastPos, 0)
	require.NoError(t, err)
	require.Len(t, evs, len(w.Events))
	for i, e := range w.Events {
		require.Greater(t, evs[i].Position, lastPos)
		lastPos = evs[i].Position
		e.Position = lastPos
		require.Equal(t, utcAll(e), evs[i])
	}

	if w.Idempotency != nil {
		rec, err := s.Idempotency(ctx, w.Idempotency.MerchantID, w.Idempotency.Key)
		require.NoError(t, err)
		require.Equal(t, utcAll(*w.Idempotency), *rec)
	}
}

// TestRoundTrip writes values with every field set and checks that they
// read back whole, then that an update clears what it leaves zero.
func TestRoundTrip(t *testing.T) {
	s := memstore.New()
	w := fullWrite(t, "m1", "a1")
	roundTrip(t, s, w)

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
}

// TestFarTimesRoundTrip writes times far from now, at the edges of what
// Unix nanoseconds hold and beyond, in every time field.
func TestFarTimesRoundTrip(t *testing.T) {
	for i, tm := range []time.Time{
		time.Unix(0, 0),
		time.Unix(0, math.MinInt64),
		time.Unix(0, math.MaxInt64),
		time.Date(2263, 1, 1, 0, 0, 0, 0, time.FixedZone("Z", 3600)),
		time.Date(1677, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		w := fullWrite(t, "m1", "a"+strconv.Itoa(i))
		setTimes(w.Authorization, tm)
		for j := range w.Entries {
			setTimes(&w.Entries[j], tm)
		}
		for j := range w.Events {
			setTimes(&w.Events[j], tm)
		}
		setTimes(w.Idempotency, tm)
		roundTrip(t, memstore.New(), w)
	}
}

// TestDueOrdersFarTimes checks the due index with due times far in the
// past and the future.
func TestDueOrdersFarTimes(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
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
	s := memstore.New()
	w := fullWrite(t, "m1", "a1")
	require.NoError(t, s.Write(ctx, w))
	want := wantAuth(w.Authorization)
	w.Authorization.Metadata["k"] = "changed"
	w.Authorization.PendingCaptures[0].Amount = -1
	w.Authorization.PendingAmountChange.Total = -1
	got, err := s.Get(ctx, "m1", "a1")
	require.NoError(t, err)
	require.Equal(t, want, wantAuth(got))
	got.Metadata["k"] = "changed"
	got.PendingCaptures[0].Amount = -1
	got.PendingAmountChange.Total = -1
	again, err := s.Get(ctx, "m1", "a1")
	require.NoError(t, err)
	require.Equal(t, want, wantAuth(again))
}

// TestLongLog writes a long log in batches of several sizes, with events
// and keys that name its entries, and reads it back in pages.
func TestLongLog(t *testing.T) {
	const long = 160
	ctx := context.Background()
	s := memstore.New()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &authcapture.Authorization{MerchantID: "m", ID: "a"}
	var want []authcapture.Entry
	for v := int64(1); len(want) < long; v++ {
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
	all, err := s.Entries(ctx, "m", "a", 0, 0)
	require.NoError(t, err)
	require.Equal(t, want, all)
	for _, limit := range []int{1, 7, 32, 33} {
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

// TestDueRandom moves random authorizations through the due index and
// checks Due against a sorted list as it goes.
func TestDueRandom(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
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

// BenchmarkStoreCapture measures the store's share of a capture: the Get
// and the Write the Service makes, over 1,024 holds, without the Service.
func BenchmarkStoreCapture(b *testing.B) {
	const holds = 1024
	ctx := context.Background()
	s := memstore.New()
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
