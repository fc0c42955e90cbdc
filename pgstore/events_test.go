package pgstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
	"github.com/shopspring/decimal"
)

// A transaction that wrote its event first but commits last must not be
// skipped by a relay that has already read the event of one that committed
// in between: with positions taken from a sequence at insert it would be.
func TestEventCommittedLateIsNotSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()

	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	mustWrite(t, b.store.WithTx(tx), newWrite("m1", "slow", "k-slow")) // inserted first
	mustWrite(t, b.store, newWrite("m1", "fast", "k-fast"))            // committed first

	first, err := b.store.Events(ctx, "m1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].AuthorizationID != "fast" {
		t.Fatalf("events before the slow commit: %+v, want fast's only", first)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := first[0].Position
	second, err := b.store.Events(ctx, "m1", after, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(second) != 1 || second[0].AuthorizationID != "slow" || second[0].Position <= after {
		t.Fatalf("events after position %d once the slow transaction committed: %+v, want slow's", after, second)
	}
	all, _ := b.store.Events(ctx, "m1", 0, 10)
	if len(all) != 2 {
		t.Errorf("all events: %+v", all)
	}
}

func TestEventsReturnWhatWasWritten(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	w := newWrite("m1", "a1", "")
	w.Events[0].At = epoch.Add(time.Nanosecond)
	want := w.Events[0]
	mustWrite(t, b.store, w)
	got, err := b.store.Events(ctx, "m1", 0, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("Events: %+v, %v", got, err)
	}
	if got[0].Position < 1 {
		t.Errorf("position %d, want >= 1", got[0].Position)
	}
	want.Position = got[0].Position
	if got[0] != want {
		t.Errorf("event:\n got %+v\nwant %+v", got[0], want)
	}
	if none, _ := b.store.Events(ctx, "m1", got[0].Position, 10); len(none) != 0 {
		t.Errorf("events after the last: %+v", none)
	}
}

// Writers commit captures concurrently, some of them inside their own
// transactions that commit after a random delay; relays poll the cursor at
// the same time. Each relay must see every event of its merchant exactly
// once, in increasing positions and, per authorization, in Seq order.
func TestEventCursorUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	b := setup(t, 40)
	ctx := context.Background()
	if testing.Short() {
		t.Skip("concurrency test")
	}
	const (
		writers  = 12
		auths    = 3 // per writer
		captures = 6 // per authorization
	)
	merchants := []string{"m1", "m2"}
	done := make(chan struct{})

	type seen struct {
		events []authcapture.Event
		err    error
	}
	relay := func(merchant string) seen {
		var out seen
		after := int64(0)
		finished := false
		for {
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := b.store.Events(ctx, merchant, after, 1+rand.IntN(20))
			if err != nil {
				out.err = err
				return out
			}
			for _, e := range page {
				if e.Position <= after {
					out.err = fmt.Errorf("position %d after %d", e.Position, after)
					return out
				}
				if e.MerchantID != merchant {
					out.err = fmt.Errorf("event of %s in %s's cursor", e.MerchantID, merchant)
					return out
				}
				after = e.Position
				out.events = append(out.events, e)
			}
			if finished && len(page) == 0 {
				return out
			}
		}
	}
	var relays sync.WaitGroup
	results := make([]seen, 2*len(merchants))
	for i := range results {
		relays.Add(1)
		go func() {
			defer relays.Done()
			results[i] = relay(merchants[i%len(merchants)])
		}()
	}

	var mu sync.Mutex
	ids := map[string][]string{} // merchant -> authorization IDs
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			merchant := merchants[w%len(merchants)]
			inTx := w%2 == 1
			errs <- func() error {
				for n := range auths {
					id := fmt.Sprintf("w%d-a%d", w, n)
					mu.Lock()
					ids[merchant] = append(ids[merchant], id)
					mu.Unlock()
					cmds := []func(svc *authcapture.Service) error{
						func(svc *authcapture.Service) error {
							_, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: merchant, ID: id, Currency: "USD",
								Amount: decimal.RequireFromString("100.00"), IdempotencyKey: id + "-create"})
							return err
						},
						func(svc *authcapture.Service) error {
							_, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: merchant, ID: id,
								Amount: decimal.RequireFromString("100.00"), IdempotencyKey: id + "-auth"})
							return err
						},
					}
					for c := range captures {
						cmds = append(cmds, func(svc *authcapture.Service) error {
							_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: merchant, ID: id,
								Amount: decimal.RequireFromString("1.00"), IdempotencyKey: fmt.Sprintf("%s-cap%d", id, c)})
							return err
						})
					}
					for _, cmd := range cmds {
						if err := runCommand(ctx, b, inTx, cmd); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	close(done)
	relays.Wait()

	for i, r := range results {
		merchant := merchants[i%len(merchants)]
		if r.err != nil {
			t.Fatalf("relay %d of %s: %v", i, merchant, r.err)
		}
		next := map[string]int64{} // authorization -> last Seq seen
		for _, e := range r.events {
			if e.Seq != next[e.AuthorizationID]+1 {
				t.Fatalf("relay %d of %s: %s event seq %d after %d", i, merchant, e.AuthorizationID, e.Seq, next[e.AuthorizationID])
			}
			next[e.AuthorizationID] = e.Seq
		}
		total := 0
		for _, id := range ids[merchant] {
			a, err := b.store.Get(ctx, merchant, id)
			if err != nil {
				t.Fatal(err)
			}
			if next[id] != a.Events {
				t.Errorf("relay %d of %s saw %d events of %s, it has %d", i, merchant, next[id], id, a.Events)
			}
			total += int(a.Events)
		}
		if len(r.events) != total {
			t.Errorf("relay %d of %s saw %d events, want %d", i, merchant, len(r.events), total)
		}
	}
}

// runCommand runs cmd through a Service on the pool or, if inTx, on the
// caller's transaction that commits after a random delay, so that
// transactions commit in another order than they wrote.
func runCommand(ctx context.Context, b *bundle, inTx bool, cmd func(svc *authcapture.Service) error) error {
	if !inTx {
		svc, err := authcapture.New(b.store, nil)
		if err != nil {
			return err
		}
		return cmd(svc)
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	svc, err := authcapture.New(b.store.WithTx(tx), nil)
	if err != nil {
		return err
	}
	if err := cmd(svc); err != nil {
		return err
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	return tx.Commit(ctx)
}

// More unpositioned events than one stamping statement numbers are all
// stamped, in insertion order.
func TestEventsStampsInChunks(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ctx := context.Background()
	const n = 25_001
	_, err := b.pool.Exec(ctx, `INSERT INTO `+b.schema+`.events (merchant_id, authorization_id, seq, event)
SELECT 'm1', 'a1', g, json_build_object('MerchantID', 'm1', 'AuthorizationID', 'a1', 'Seq', g)
FROM generate_series(1, $1::int) AS g ORDER BY g`, n)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := b.store.Events(ctx, "m1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Position != int64(i+1) {
			t.Fatalf("event %d: seq %d position %d", i, e.Seq, e.Position)
		}
	}
	if pending := b.count(t, "events", "position IS NULL"); pending != 0 {
		t.Errorf("%d events left without a position", pending)
	}
}
