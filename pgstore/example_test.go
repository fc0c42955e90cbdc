package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// A host keeps its payments in PostgreSQL and captures a shipment in the
// same transaction that marks the order shipped.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pool, &pgstore.Options{Schema: "payments"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	svc, err := authcapture.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", ID: "order-1", Currency: "USD",
		Amount: decimal.RequireFromString("80.00"), IdempotencyKey: "order-1-create"}); err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: "order-1",
		Amount: decimal.RequireFromString("80.00"), IdempotencyKey: "order-1-auth"}); err != nil {
		log.Fatal(err)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)
	txSvc, err := authcapture.New(store.WithTx(tx), nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := txSvc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "m1", ID: "order-1",
		Amount: decimal.RequireFromString("30.00"), Reference: "shipment-1", IdempotencyKey: "shipment-1"}); err != nil {
		log.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE shipments SET shipped = true WHERE id = $1", "shipment-1"); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
}
