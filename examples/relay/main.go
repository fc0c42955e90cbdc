// Command relay publishes the outbox of an authcapture store, the events of
// every merchant, to a NATS JetStream stream, at least once and in position
// order, resuming after a restart from the position it saved in a
// key-value bucket. This demo runs on the embedded store with a few
// authorizations; a host runs the Relay on its own Service (on pgstore,
// say), as one process per store.
//
//	nats-server -js &
//	go run . -nats nats://127.0.0.1:4222
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

func main() {
	url := flag.String("nats", nats.DefaultURL, "the NATS server, with JetStream enabled")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url string) error {
	svc, err := authcapture.New(memstore.New(), nil)
	if err != nil {
		return err
	}
	for _, m := range []string{"shop-1", "shop-2"} {
		r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: m, Currency: "EUR",
			Amount: decimal.RequireFromString("25.00"), CaptureMode: authcapture.CaptureManual, IdempotencyKey: "create-1"})
		if err != nil {
			return err
		}
		if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: m, ID: r.Authorization.ID,
			Amount: decimal.RequireFromString("25.00"), IdempotencyKey: "authorize-1"}); err != nil {
			return err
		}
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	fmt.Println("relaying to stream AUTHCAPTURE_EVENTS, subjects authcapture.events.>; interrupt to stop")
	r := &Relay{Service: svc, JS: js, Stream: "AUTHCAPTURE_EVENTS", Subject: "authcapture.events", Bucket: "authcapture_relay"}
	err = r.Run(ctx)
	published, duplicates := r.Stats()
	fmt.Printf("published %d events, %d repeats dropped\n", published, duplicates)
	return err
}
