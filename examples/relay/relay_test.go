package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

// connect returns JetStream on the test server: AUTHCAPTURE_TEST_NATS_URL,
// or nats://127.0.0.1:4222. When none answers the test skips, or fails if
// AUTHCAPTURE_TEST_REQUIRE_DATABASE=1 (as in CI).
func connect(t *testing.T) jetstream.JetStream {
	t.Helper()
	url := os.Getenv("AUTHCAPTURE_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	unavailable := func(err error) {
		t.Helper()
		msg := fmt.Sprintf("no NATS server with JetStream at %s (%v): start one (nats-server -js) or set AUTHCAPTURE_TEST_NATS_URL", url, err)
		if os.Getenv("AUTHCAPTURE_TEST_REQUIRE_DATABASE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		unavailable(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		unavailable(err)
	}
	return js
}

// writeEvents runs a few commands on authorizations of three merchants,
// two of them with IDs that are not subject tokens as they are.
func writeEvents(t *testing.T, ctx context.Context, svc *authcapture.Service, round int) {
	t.Helper()
	for i := range 12 {
		m := []string{"shop-1", "shop.2", "shop:3"}[i%3]
		key := fmt.Sprintf("r%d-%d", round, i)
		r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: m, Currency: "EUR",
			Amount: decimal.RequireFromString("10.00"), CaptureMode: authcapture.CaptureManual, IdempotencyKey: key + "-create"})
		if err != nil {
			t.Fatal(err)
		}
		id := r.Authorization.ID
		if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: m, ID: id,
			Amount: decimal.RequireFromString("10.00"), IdempotencyKey: key + "-authorize"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: m, ID: id,
			Amount: decimal.RequireFromString("4.00"), IdempotencyKey: key + "-capture"}); err != nil {
			t.Fatal(err)
		}
	}
}

var errCrash = errors.New("crash between publish and position save")

// A relay that crashes after the stream acknowledged a batch but before it
// saved the position publishes that batch again when it restarts; the
// stream drops the repeats by message ID, so every event is in the stream
// exactly once, in position order, under its subject.
func TestRelayDeliversEveryEventOnceAcrossACrash(t *testing.T) {
	js := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := authcapture.New(memstore.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	writeEvents(t, ctx, svc, 1)

	run := time.Now().UnixNano()
	newRelay := func() *Relay {
		return &Relay{Service: svc, JS: js, Batch: 7, Poll: 10 * time.Millisecond,
			Stream:  fmt.Sprintf("AUTHCAPTURE_RELAY_TEST_%d", run),
			Subject: fmt.Sprintf("authcapture_test_%d.events", run),
			Bucket:  fmt.Sprintf("authcapture_relay_test_%d", run)}
	}
	r := newRelay()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, r.Stream); err != nil {
			t.Errorf("deleting stream %s: %v", r.Stream, err)
		}
		if err := js.DeleteKeyValue(ctx, r.Bucket); err != nil {
			t.Errorf("deleting bucket %s: %v", r.Bucket, err)
		}
	})

	// The first relay saves two positions and crashes before the third.
	saves := 0
	r.beforeSave = func(int64) error {
		if saves++; saves == 3 {
			return errCrash
		}
		return nil
	}
	if err := r.Run(ctx); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the crash", err)
	}
	published, _ := r.Stats()
	if published != 21 {
		t.Fatalf("first run published %d events, want 3 batches of 7", published)
	}

	// More events arrive while no relay runs; a second relay resumes.
	writeEvents(t, ctx, svc, 2)
	want := allEvents(t, ctx, svc)
	r2 := newRelay()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r2.Run(runCtx) }()
	stream, err := js.Stream(ctx, r.Stream)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= uint64(len(want)) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("second run ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Let it poll once more: nothing new may arrive.
	time.Sleep(50 * time.Millisecond)
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: %v", err)
	}
	published2, duplicates := r2.Stats()
	if duplicates != 7 || published+published2 != int64(len(want)) {
		t.Errorf("second run: %d published, %d repeats dropped; want %d and 7 (the batch whose position was lost)",
			published2, duplicates, int64(len(want))-published)
	}

	got := streamEvents(t, ctx, js, r.Stream, len(want))
	if len(got) != len(want) {
		t.Fatalf("stream holds %d events, want %d", len(got), len(want))
	}
	for i := range want {
		w := want[i]
		if got[i].subject != Subject(r.Subject, w) || got[i].msgID != MsgID(w) {
			t.Errorf("message %d: subject %s, ID %s; want %s, %s", i, got[i].subject, got[i].msgID, Subject(r.Subject, w), MsgID(w))
		}
		if !got[i].event.At.Equal(w.At) {
			t.Errorf("message %d: at %v, want %v", i, got[i].event.At, w.At)
		}
		got[i].event.At = w.At
		if got[i].event != w {
			t.Errorf("message %d: %+v\nwant %+v", i, got[i].event, w)
		}
	}
}

func TestSubjectKeepsMerchantsApart(t *testing.T) {
	for _, tc := range []struct{ merchant, want string }{
		{"shop-1", "p.shop-1.capture.succeeded"},
		{"shop.2", "p.shop%2E2.capture.succeeded"},
		{"shop:3", "p.shop%3A3.capture.succeeded"},
		{"shop_4", "p.shop_4.capture.succeeded"},
	} {
		ev := authcapture.Event{MerchantID: tc.merchant, Type: authcapture.EventCaptureSucceeded}
		if got := Subject("p", ev); got != tc.want {
			t.Errorf("Subject of %s: %s, want %s", tc.merchant, got, tc.want)
		}
	}
}

// allEvents returns every event of the service's store.
func allEvents(t *testing.T, ctx context.Context, svc *authcapture.Service) []authcapture.Event {
	t.Helper()
	var out []authcapture.Event
	var after int64
	for {
		page, err := svc.AllEvents(ctx, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

type message struct {
	subject, msgID string
	event          authcapture.Event
}

// streamEvents reads every message of the stream, in stream order.
func streamEvents(t *testing.T, ctx context.Context, js jetstream.JetStream, stream string, n int) []message {
	t.Helper()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	for len(out) < n {
		batch, err := c.FetchNoWait(n - len(out))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			var ev authcapture.Event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, message{subject: msg.Subject(), msgID: msg.Headers().Get(jetstream.MsgIDHeader), event: ev})
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			break
		}
	}
	return out
}
