package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// notPruner is a Store that does not declare Pruner.
type notPruner struct{ authcapture.Store }

func TestPruneRefusesBadRequests(t *testing.T) {
	ctx := context.Background()
	svc, err := authcapture.New(notPruner{memstore.New()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Prune(ctx, authcapture.PruneRequest{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Prune on a store that is not a Pruner: %v, want errors.ErrUnsupported", err)
	}
	svc, err = authcapture.New(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []authcapture.PruneRequest{
		{IdempotencyRetention: -time.Second},
		{EventRetention: -time.Second},
		{KeepEventsFrom: -1},
		{Batch: -1},
		{Batch: authcapture.MaxPruneBatch + 1},
		{AuthorizationRetention: -time.Second},
		// Shorter than the default IdempotencyRetention.
		{AuthorizationRetention: authcapture.DefaultIdempotencyRetention - time.Second},
		{AuthorizationRetention: 2 * time.Hour, IdempotencyRetention: 3 * time.Hour},
	} {
		if res, err := svc.Prune(ctx, req); !errors.Is(err, authcapture.ErrInvalidArgument) || res != (authcapture.PruneResult{}) {
			t.Errorf("Prune(%+v) = %+v, %v; want ErrInvalidArgument", req, res, err)
		}
	}
}

// pruneFixture is a Service on memstore at a test clock, with n
// authorizations created an hour apart under keys "k0", "k1"...
func pruneFixture(t *testing.T, n int) (*authcapture.Service, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := svc.Create(context.Background(), authcapture.CreateRequest{MerchantID: "m1", ID: fmt.Sprintf("a%d", i),
			Currency: "USD", Amount: decimal.NewFromInt(10), IdempotencyKey: fmt.Sprintf("k%d", i)}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
	return svc, clock
}

// The defaults keep a day of idempotency records, and no event without
// KeepEventsFrom.
func TestPruneDefaults(t *testing.T) {
	ctx := context.Background()
	svc, _ := pruneFixture(t, 30) // the clock is 30h after the first, 1h after the last
	res, err := svc.Prune(ctx, authcapture.PruneRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// Created at 0h to 29h, now 30h: those of 0h to 5h are older than 24h.
	if res != (authcapture.PruneResult{Idempotency: 6}) {
		t.Errorf("Prune with the defaults = %+v, want the 6 records older than a day and no events", res)
	}
	evs, err := svc.AllEvents(ctx, 0, 100)
	if err != nil || len(evs) != 30 {
		t.Errorf("AllEvents: %d events, %v; want all 30", len(evs), err)
	}
}

// A retry after its key's record was pruned is a new command: it applies
// again.
func TestRetryAfterPruneIsANewCommand(t *testing.T) {
	ctx := context.Background()
	svc, clock := pruneFixture(t, 0)
	capture := func() (*authcapture.Result, error) {
		return svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", Amount: decimal.NewFromInt(1), IdempotencyKey: "cap"})
	}
	createAuthorized(t, svc, "m1", "a", "10.00")
	if _, err := capture(); err != nil {
		t.Fatal(err)
	}
	if r, err := capture(); err != nil || !r.Replayed {
		t.Fatalf("retry within retention: %v, %v; want a replay", r, err)
	}
	clock.Advance(authcapture.DefaultIdempotencyRetention + time.Second)
	if _, err := svc.Prune(ctx, authcapture.PruneRequest{}); err != nil {
		t.Fatal(err)
	}
	r, err := capture()
	if err != nil || r.Replayed || r.Authorization.Captured != 200 {
		t.Fatalf("retry after the record was pruned: %+v, %v; want a second capture", r, err)
	}
}

// Events go only below KeepEventsFrom and in batches; a canceled context
// stops Prune.
func TestPruneEventsUpToTheRelay(t *testing.T) {
	ctx := context.Background()
	svc, clock := pruneFixture(t, 10)
	evs, err := svc.AllEvents(ctx, 0, 100)
	if err != nil || len(evs) != 10 {
		t.Fatalf("AllEvents: %d, %v", len(evs), err)
	}
	clock.Advance(authcapture.DefaultEventRetention)
	res, err := svc.Prune(ctx, authcapture.PruneRequest{KeepEventsFrom: evs[6].Position + 1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 7 {
		t.Errorf("Prune = %+v, want the 7 events up to the relay's cursor", res)
	}
	left, err := svc.AllEvents(ctx, 0, 100)
	if err != nil || len(left) != 3 || left[0].Position != evs[7].Position {
		t.Errorf("AllEvents after Prune: %d events, %v; want the 3 from the relay's", len(left), err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.Prune(canceled, authcapture.PruneRequest{KeepEventsFrom: math.MaxInt64}); !errors.Is(err, context.Canceled) {
		t.Errorf("Prune with a canceled context: %v", err)
	}
}

// BenchmarkPruneSteadyLoad runs a steady load on memstore, one command per
// iteration in cycles of create, authorize, capture and void (which
// closes the authorization), each with an idempotency key, 16 simulated
// hours apart. A relay reads every event and, every 1,000 commands, Prune
// deletes what is past a retention of 7 days (the default policy has no
// RefundWindow, so its authorizations go after the retention alone), so
// at most about 1,000 commands' worth is kept. It reports the live heap after warming up
// (heap-start-B) and at the end (heap-end-B), their ratio (end/start) and
// the growth per command.
//
//   - retention: idempotency records, read events and closed
//     authorizations are pruned; the heap stays flat (end/start near 1).
//   - keys+events: authorizations are kept for good (the default), so
//     they and their logs grow.
//   - unpruned: everything is kept, for comparison.
func BenchmarkPruneSteadyLoad(b *testing.B) {
	for _, tc := range []struct {
		name string
		req  *authcapture.PruneRequest
	}{
		{"retention", &authcapture.PruneRequest{IdempotencyRetention: steadyRetention, EventRetention: steadyRetention,
			AuthorizationRetention: steadyRetention}},
		{"keys+events", &authcapture.PruneRequest{IdempotencyRetention: steadyRetention, EventRetention: steadyRetention}},
		{"unpruned", nil},
	} {
		b.Run(tc.name, func(b *testing.B) { steadyLoad(b, tc.req) })
	}
}

// steadyRetention and steadyStep are BenchmarkPruneSteadyLoad's
// retention and time between commands.
const (
	steadyRetention = 7 * 24 * time.Hour
	steadyStep      = 16 * time.Hour
)

func steadyLoad(b *testing.B, prune *authcapture.PruneRequest) {
	const (
		every  = 1_000
		warmup = 20_000
	)
	ctx := context.Background()
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	ten, one := decimal.NewFromInt(10), decimal.NewFromInt(1)
	var cursor int64
	cmd := func(i int) {
		id := "a" + fmt.Sprint(i/4)
		key := fmt.Sprintf("k%d", i)
		var err error
		switch i % 4 {
		case 0:
			_, err = svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: id, Currency: "USD", Amount: ten, IdempotencyKey: key})
		case 1:
			_, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: ten, IdempotencyKey: key})
		case 2:
			_, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: one, IdempotencyKey: key})
		case 3:
			_, err = svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: id, All: true, IdempotencyKey: key})
		}
		if err != nil {
			b.Fatal(err)
		}
		clock.Advance(steadyStep)
		if (i+1)%every != 0 {
			return
		}
		for { // the relay
			evs, err := svc.AllEvents(ctx, cursor, 10_000)
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			cursor = evs[len(evs)-1].Position
		}
		if prune != nil {
			req := *prune
			req.KeepEventsFrom = cursor + 1
			if _, err := svc.Prune(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range warmup {
		cmd(i)
	}
	start := heapInUse()
	b.ResetTimer()
	for i := range b.N {
		cmd(warmup + i)
	}
	b.StopTimer()
	end := heapInUse()
	runtime.KeepAlive(svc)
	b.ReportMetric(float64(start), "heap-start-B")
	b.ReportMetric(float64(end), "heap-end-B")
	b.ReportMetric(float64(end)/float64(start), "end/start")
	b.ReportMetric((float64(end)-float64(start))/float64(b.N), "heap-B/cmd")
}

// An authorization retention shorter than a policy's RefundWindow is
// accepted (the presets included: PayPal's is 180 days), and deletes an
// authorization only once it is closed for the retention and past its own
// refund window: the Service's longest window binds nothing else.
func TestPruneAcceptsARetentionShorterThanARefundWindow(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	long := authcapture.DefaultPolicy
	long.Name, long.RefundWindow = "refunds_400d", 400*24*time.Hour
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock,
		Policies: []authcapture.Policy{long}})
	if err != nil {
		t.Fatal(err)
	}
	createAuthorized(t, svc, "m1", "a", "10.00")
	if _, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "a", All: true, IdempotencyKey: "void-a"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2*24*time.Hour + time.Second)
	res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: 2 * 24 * time.Hour})
	if err != nil || res.Authorizations != 1 {
		t.Errorf("Prune with a 2-day retention = %+v, %v; want the voided authorization of the default policy deleted", res, err)
	}
}

// refundWindowFixture returns a Service whose policy "refunds_30d" has a
// 30-day RefundWindow, besides the default policy (none).
func refundWindowFixture(t *testing.T) (*authcapture.Service, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	window := authcapture.DefaultPolicy
	window.Name, window.RefundWindow = "refunds_30d", 30*24*time.Hour
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock,
		Policies: []authcapture.Policy{window}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, clock
}

// An authorization is pruned once it is closed for the retention and past
// its refund window (RefundableUntil, the last capture plus the policy's
// RefundWindow); a policy with no window puts no bound on refunds, so its
// authorizations go after the retention alone. A refund moves nothing:
// the window counts from captures.
func TestPruneWaitsForTheRefundWindow(t *testing.T) {
	const (
		day       = 24 * time.Hour
		retention = day
	)
	for _, tc := range []struct {
		name   string
		policy string
		// captures of 4.00 and 6.00 this long after the start (the second
		// closes the authorization), and a refund of 1.00 after refundAt
		// if positive.
		second, refundAt time.Duration
		until            time.Duration // RefundableUntil after the start; zero for none
		keptUntil        time.Duration // kept at the start plus this, deleted a second later
	}{
		{name: "no window: after the retention alone", policy: "default", keptUntil: retention},
		{name: "no window: a refund extends nothing", policy: "default", refundAt: 12 * time.Hour, keptUntil: retention},
		{name: "30-day window: 30 days after the capture", policy: "refunds_30d", until: 30 * day, keptUntil: 31 * day},
		{name: "30-day window: from the last capture", policy: "refunds_30d", second: 5 * day, until: 35 * day,
			keptUntil: 36 * day},
		{name: "30-day window: a refund extends nothing", policy: "refunds_30d", second: 5 * day, refundAt: 20 * day,
			until: 35 * day, keptUntil: 36 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, clock := refundWindowFixture(t)
			start := clock.Now()
			if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "a", Currency: "USD",
				Amount: decimal.NewFromInt(10), Policy: tc.policy, IdempotencyKey: "create"}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "a", Amount: decimal.NewFromInt(10),
				IdempotencyKey: "authorize"}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", Amount: decimal.NewFromInt(4),
				IdempotencyKey: "cap-1"}); err != nil {
				t.Fatal(err)
			}
			clock.Set(start.Add(tc.second))
			if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", All: true,
				IdempotencyKey: "cap-2"}); err != nil {
				t.Fatal(err)
			}
			if tc.refundAt > 0 {
				clock.Set(start.Add(tc.refundAt))
				if _, err := svc.Refund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: "a", Amount: decimal.NewFromInt(1),
					IdempotencyKey: "refund"}); err != nil {
					t.Fatal(err)
				}
			}
			a, err := svc.Get(ctx, "m1", "a")
			if err != nil {
				t.Fatal(err)
			}
			want := time.Time{}
			if tc.until > 0 {
				want = start.Add(tc.until)
			}
			if !a.RefundableUntil.Equal(want) {
				t.Errorf("RefundableUntil = %s, want %s", a.RefundableUntil, want)
			}
			// Kept until the later of closing and the window's end is a
			// retention old; then gone.
			for _, step := range []struct {
				at   time.Duration
				gone bool
			}{
				{tc.keptUntil, false},
				{tc.keptUntil + time.Second, true},
			} {
				clock.Set(start.Add(step.at))
				res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: retention})
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Authorizations == 1; got != step.gone {
					t.Errorf("Prune %s after the start = %+v; want deleted %v", step.at, res, step.gone)
				}
			}
		})
	}
}

// With an AuthorizationRetention, an authorization closed for longer is
// deleted with its log, its provider references and its keys; one open,
// one with a capture in flight and one closed more recently stay, and
// events follow their own retention. Without one, nothing is deleted.
func TestPruneClosedAuthorizations(t *testing.T) {
	ctx := context.Background()
	svc, clock := pruneFixture(t, 0)
	// Longer than every preset's RefundWindow.
	const retention = 200 * 24 * time.Hour
	// Closed now: captured in full, and voided.
	createAuthorized(t, svc, "m1", "captured", "10.00")
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "captured", All: true,
		ProviderRef: "ch_1", IdempotencyKey: "cap-1"}); err != nil {
		t.Fatal(err)
	}
	createAuthorized(t, svc, "m1", "voided", "10.00")
	if _, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "voided", All: true, IdempotencyKey: "void-1"}); err != nil {
		t.Fatal(err)
	}
	// Open, and with a capture in flight, from now on.
	createAuthorized(t, svc, "m1", "open", "10.00")
	createAuthorized(t, svc, "m1", "inflight", "10.00")
	if _, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "inflight", All: true, IdempotencyKey: "begin-1"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(retention / 2)
	// Closed later.
	createAuthorized(t, svc, "m1", "recent", "10.00")
	if _, err := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "m1", ID: "recent", All: true, IdempotencyKey: "void-2"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(retention/2 + time.Second)
	events, err := svc.AllEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}

	if res, err := svc.Prune(ctx, authcapture.PruneRequest{}); err != nil || res.Authorizations != 0 {
		t.Fatalf("Prune without AuthorizationRetention = %+v, %v; want no authorization deleted", res, err)
	}
	res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: retention, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Authorizations != 2 {
		t.Errorf("Prune = %+v, want the 2 authorizations closed for longer than the retention", res)
	}
	for id, gone := range map[string]bool{"captured": true, "voided": true, "open": false, "inflight": false, "recent": false} {
		_, err := svc.Get(ctx, "m1", id)
		_, logErr := svc.Log(ctx, "m1", id)
		if gone && (!errors.Is(err, authcapture.ErrNotFound) || !errors.Is(logErr, authcapture.ErrNotFound)) {
			t.Errorf("%s after Prune: Get %v, Log %v; want ErrNotFound", id, err, logErr)
		}
		if !gone && (err != nil || logErr != nil) {
			t.Errorf("%s after Prune: Get %v, Log %v; want it kept", id, err, logErr)
		}
	}
	if _, err := svc.FindByProviderRef(ctx, "m1", "ch_1"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("FindByProviderRef of a pruned authorization's capture: %v, want ErrNotFound", err)
	}
	// A command naming a pruned authorization finds nothing, also under
	// the key of a command it accepted.
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "captured", Amount: decimal.NewFromInt(1),
		IdempotencyKey: "cap-1"}); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("a retry of a pruned authorization's capture: %v, want ErrNotFound", err)
	}
	// Reads expire the open holds meanwhile, and add events.
	left, err := svc.AllEvents(ctx, 0, 1000)
	if err != nil || len(left) < len(events) || left[len(events)-1] != events[len(events)-1] {
		t.Errorf("AllEvents after Prune: %d, %v; want all %d from before, pruned by their own rule", len(left), err, len(events))
	}
}

// A refund in flight on a closed authorization keeps it past the
// retention; once the provider confirms it, the authorization goes with
// the refund's provider reference.
func TestPruneKeepsAClosedAuthorizationWhileARefundIsInFlight(t *testing.T) {
	ctx := context.Background()
	svc, clock := pruneFixture(t, 0)
	const retention = 200 * 24 * time.Hour
	createAuthorized(t, svc, "m1", "a", "10.00")
	if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", All: true, IdempotencyKey: "cap"}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.BeginRefund(ctx, authcapture.RefundRequest{MerchantID: "m1", ID: "a", Amount: decimal.NewFromInt(4),
		ProviderRef: "re_1", IdempotencyKey: "refund"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(retention + time.Hour)
	if res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: retention}); err != nil || res.Authorizations != 0 {
		t.Fatalf("Prune with a refund in flight = %+v, %v; want the authorization kept", res, err)
	}
	if _, err := svc.ConfirmRefund(ctx, authcapture.SettleRefundRequest{MerchantID: "m1", ID: "a", RefundID: r.Entry.RefundID,
		IdempotencyKey: "confirm"}); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Prune(ctx, authcapture.PruneRequest{AuthorizationRetention: retention}); err != nil || res.Authorizations != 1 {
		t.Fatalf("Prune after the refund settled = %+v, %v; want the authorization deleted", res, err)
	}
	if _, err := svc.FindByProviderRef(ctx, "m1", "re_1"); !errors.Is(err, authcapture.ErrNotFound) {
		t.Errorf("FindByProviderRef of the pruned authorization's refund: %v, want ErrNotFound", err)
	}
}

// Every path that records a succeeded capture sets RefundableUntil to its
// time plus the policy's RefundWindow; a capture that failed sets nothing.
func TestEveryCapturePathSetsRefundableUntil(t *testing.T) {
	const window = 30 * 24 * time.Hour
	ten := decimal.NewFromInt(10)
	for _, tc := range []struct {
		name string
		mode authcapture.CaptureMode
		// capture captures (or fails to) on the authorization "a",
		// authorized in mode, at the clock's time.
		capture func(t *testing.T, svc *authcapture.Service, clock *clocktest.Clock)
		none    bool // no capture succeeds
	}{
		{name: "direct", capture: func(t *testing.T, svc *authcapture.Service, _ *clocktest.Clock) {
			_, err := svc.Capture(context.Background(), authcapture.CaptureRequest{MerchantID: "m1", ID: "a", Amount: ten, IdempotencyKey: "cap"})
			require.NoError(t, err)
		}},
		{name: "two-phase, confirmed", capture: func(t *testing.T, svc *authcapture.Service, clock *clocktest.Clock) {
			ctx := context.Background()
			r, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", Amount: ten, IdempotencyKey: "begin"})
			require.NoError(t, err)
			_, err = svc.ConfirmCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: "a", CaptureID: r.Entry.CaptureID,
				IdempotencyKey: "confirm"})
			require.NoError(t, err)
		}},
		{name: "two-phase, failed", none: true, capture: func(t *testing.T, svc *authcapture.Service, clock *clocktest.Clock) {
			ctx := context.Background()
			r, err := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "a", Amount: ten, IdempotencyKey: "begin"})
			require.NoError(t, err)
			_, err = svc.FailCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "m1", ID: "a", CaptureID: r.Entry.CaptureID,
				IdempotencyKey: "fail"})
			require.NoError(t, err)
		}},
		{name: "recorded outcome", capture: func(t *testing.T, svc *authcapture.Service, _ *clocktest.Clock) {
			_, err := svc.RecordOutcome(context.Background(), authcapture.OutcomeRequest{MerchantID: "m1", ProviderRef: "ch_1",
				AuthorizationID: "a", Kind: authcapture.OutcomeCapture, Outcome: authcapture.OutcomeSucceeded, Amount: ten})
			require.NoError(t, err)
		}},
		{name: "automatic, at approval", mode: authcapture.CaptureAutomatic},
		{name: "scheduled", mode: authcapture.CaptureDelayed, capture: func(t *testing.T, svc *authcapture.Service, clock *clocktest.Clock) {
			s, err := authcapture.NewScheduler(svc, newExecutor(), nil)
			require.NoError(t, err)
			res, err := s.RunDue(context.Background(), 10)
			require.NoError(t, err)
			require.Equal(t, 1, res.Captured, "%+v", res)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			svc, clock := refundWindowFixture(t)
			req := authcapture.CreateRequest{MerchantID: "m1", ID: "a", Currency: "USD", Amount: ten,
				Policy: "refunds_30d", CaptureMode: tc.mode, IdempotencyKey: "create"}
			if tc.mode == authcapture.CaptureDelayed {
				req.CaptureDelay = time.Hour
			}
			_, err := svc.Create(ctx, req)
			require.NoError(t, err)
			_, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "a", Amount: ten, IdempotencyKey: "authorize"})
			require.NoError(t, err)
			if tc.capture != nil {
				clock.Advance(2 * time.Hour)
				tc.capture(t, svc, clock)
			}
			a, err := svc.Get(ctx, "m1", "a")
			require.NoError(t, err)
			want := time.Time{}
			if !tc.none {
				want = clock.Now().Add(window) // the capture's time
				require.Equal(t, int64(1000), a.Captured)
			}
			assert.True(t, a.RefundableUntil.Equal(want), "RefundableUntil %s, want %s", a.RefundableUntil, want)
		})
	}
}
