package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// newExampleService returns a Service on memstore with a clock stopped at a
// fixed instant, so the examples print the same every time.
func newExampleService() (*authcapture.Service, *clocktest.Clock) {
	clock := clocktest.New(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
	if err != nil {
		panic(err)
	}
	return svc, clock
}

func Example() {
	ctx := context.Background()
	svc, _ := newExampleService()

	// Record the intent, then the provider's approval of a 10.00 hold.
	r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "job_42", Currency: "USD",
		Amount: decimal.RequireFromString("10.00"), IdempotencyKey: "job_42-create"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: r.Authorization.ID,
		Amount: decimal.RequireFromString("10.00"), IdempotencyKey: "job_42-authorize"})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The job used 4.50: capture it and release the rest in the same write.
	r, err = svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "acme", ID: "job_42",
		Amount: decimal.RequireFromString("4.50"), Final: authcapture.Bool(true), IdempotencyKey: "job_42-usage"})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := r.Authorization
	fmt.Println(a.Status(), a.CloseReason)
	fmt.Println("captured", a.Currency.Format(a.Captured), "released", a.Currency.Format(a.Voided))
	// Output:
	// captured final_capture
	// captured 4.50 released 5.50
}

func ExampleService_BeginCapture() {
	ctx := context.Background()
	svc, _ := newExampleService()
	svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "order_1", Currency: "EUR",
		Amount: decimal.RequireFromString("80.00"), IdempotencyKey: "c1"})
	svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: "order_1",
		Amount: decimal.RequireFromString("80.00"), IdempotencyKey: "a1"})

	// Reserve the amount before calling the provider ...
	r, _ := svc.BeginCapture(ctx, authcapture.CaptureRequest{MerchantID: "acme", ID: "order_1",
		Amount: decimal.RequireFromString("30.00"), IdempotencyKey: "ship-1"})
	fmt.Println(r.Authorization.Status(), "pending", r.Authorization.Currency.Format(r.Authorization.Pending))

	// ... a concurrent capture cannot take what is reserved: while it is
	// in flight, that is a temporary conflict (409), worth a retry later ...
	_, err := svc.Capture(ctx, authcapture.CaptureRequest{MerchantID: "acme", ID: "order_1",
		Amount: decimal.RequireFromString("60.00"), IdempotencyKey: "ship-2"})
	fmt.Println(errors.Is(err, authcapture.ErrActionInFlight))

	// ... and the provider's answer settles it.
	r, _ = svc.ConfirmCapture(ctx, authcapture.SettleCaptureRequest{MerchantID: "acme", ID: "order_1",
		CaptureID: r.Entry.CaptureID, IdempotencyKey: "ship-1-ok"})
	fmt.Println(r.Authorization.Status(), "captured", r.Authorization.Currency.Format(r.Authorization.Captured))
	// Output:
	// partially_captured pending 30.00
	// true
	// partially_captured captured 30.00
}

func ExampleService_Void() {
	ctx := context.Background()
	svc, _ := newExampleService()
	svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "cart_9", Currency: "USD",
		Amount: decimal.RequireFromString("100.00"), Policy: "afterpay", IdempotencyKey: "c"})
	svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: "cart_9",
		Amount: decimal.RequireFromString("100.00"), IdempotencyKey: "a"})

	// One item is out of stock: release its 25.00 and keep the rest capturable.
	r, _ := svc.Void(ctx, authcapture.VoidRequest{MerchantID: "acme", ID: "cart_9",
		Amount: decimal.RequireFromString("25.00"), Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: "v"})
	a := r.Authorization
	fmt.Println(a.Status(), "open", a.Currency.Format(a.Open()), "voided", a.Currency.Format(a.Voided))
	// Output: authorized open 75.00 voided 25.00
}

func ExampleService_Capture_idempotent() {
	ctx := context.Background()
	svc, _ := newExampleService()
	svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "p1", Currency: "JPY",
		Amount: decimal.RequireFromString("5000"), IdempotencyKey: "c"})
	svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: "p1",
		Amount: decimal.RequireFromString("5000"), IdempotencyKey: "a"})

	req := authcapture.CaptureRequest{MerchantID: "acme", ID: "p1", Amount: decimal.RequireFromString("1200"), IdempotencyKey: "cap-1"}
	first, _ := svc.Capture(ctx, req)
	retry, _ := svc.Capture(ctx, req) // the reply was lost; the caller retries
	fmt.Println(first.Replayed, retry.Replayed, retry.Entry.CaptureID == first.Entry.CaptureID)
	fmt.Println("captured", retry.Authorization.Currency.Format(retry.Authorization.Captured))

	req.Amount = decimal.RequireFromString("1300")
	_, err := svc.Capture(ctx, req)
	fmt.Println(errors.Is(err, authcapture.ErrIdempotencyMismatch), authcapture.HTTPStatus(err))
	// Output:
	// false true true
	// captured 1200
	// true 409
}

func ExampleService_Get_expiry() {
	ctx := context.Background()
	svc, clock := newExampleService()
	svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "h1", Currency: "USD",
		Amount: decimal.RequireFromString("60.00"), Policy: "paymongo",
		CaptureMode:    authcapture.CaptureManual, // PayMongo's capture_type "manual"
		IdempotencyKey: "c"})
	r, _ := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: "h1",
		Amount: decimal.RequireFromString("60.00"), IdempotencyKey: "a"})
	fmt.Println("expires", r.Authorization.ExpiresAt.Format(time.RFC3339), "by", r.Authorization.ExpiryRule)

	clock.Set(r.Authorization.ExpiresAt) // no sweeper ran: the read applies expiry
	a, _ := svc.Get(ctx, "acme", "h1")
	fmt.Println(a.Status(), "expired", a.Currency.Format(a.Expired))
	// Output:
	// expires 2026-11-09T09:00:00Z by policy paymongo validity 168h0m0s
	// expired expired 60.00
}

func ExampleParseAmount() {
	for _, s := range []string{"10.50", "10.001"} {
		minor, err := authcapture.ParseAmount(s, "USD")
		fmt.Println(minor, errors.Is(err, authcapture.ErrAmountPrecision))
	}
	// Output:
	// 1050 false
	// 0 true
}

// An Adyen-style adjustment of a pre-authorisation: a decrease begun
// reserves its amount, then the provider's answer settles it.
func ExampleService_BeginAmountChange() {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	adjust := authcapture.Policy{Name: "adjustable", MultipleCaptures: true, PartialCapture: true, PartialVoid: true,
		Validity: 28 * 24 * time.Hour, IncrementalAuthorization: true, DecrementalAuthorization: true,
		AmountChangeTypes: []authcapture.AuthorizationType{authcapture.AuthorizationEstimated}}
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock, Policies: []authcapture.Policy{adjust}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "hotel", ID: "stay_1", Currency: "EUR",
		Amount: decimal.RequireFromString("300.00"), Policy: "adjustable", AuthorizationType: authcapture.AuthorizationEstimated,
		IdempotencyKey: "stay_1-create"}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "hotel", ID: "stay_1",
		Amount: decimal.RequireFromString("300.00"), IdempotencyKey: "stay_1-authorize"}); err != nil {
		fmt.Println(err)
		return
	}

	// The guest leaves a night early: ask the provider for 200.00.
	r, err := svc.BeginAmountChange(ctx, authcapture.AmountChangeRequest{MerchantID: "hotel", ID: "stay_1",
		Total: decimal.RequireFromString("200.00"), ProviderRef: "psp-mod-1", IdempotencyKey: "stay_1-shorter"})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := r.Authorization
	fmt.Println("pending decrease", a.Currency.Format(a.PendingDecrement), "open", a.Currency.Format(a.Open()))

	// The provider's AUTHORISATION_ADJUSTMENT webhook approves it.
	o, err := svc.RecordOutcome(ctx, authcapture.OutcomeRequest{MerchantID: "hotel", ProviderRef: "psp-mod-1",
		Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded})
	if err != nil {
		fmt.Println(err)
		return
	}
	a = o.Authorization
	fmt.Println(o.Effect, "authorized", a.Currency.Format(a.Authorized), "open", a.Currency.Format(a.Open()), "changes", a.AmountChanges)
	// Output:
	// pending decrease 100.00 open 200.00
	// settled authorized 200.00 open 200.00 changes 1
}

// A long order outlives PayPal's 3-day honor period: PayPal reauthorizes
// an authorization once, from day 4 to day 29, and the host records the
// new authorization. Its funds stay held until day 29 of the original
// authorization, as the preset says (ReauthorizationValidity); a host
// whose provider returns another expiry passes it as ExpiresAt. The
// scheduler warns 48 hours before the hold lapses.
func ExampleService_Reauthorize() {
	ctx := context.Background()
	const day = 24 * time.Hour
	paypal := authcapture.PayPal // once, from day 4 to day 29 of a 29-day hold
	paypal.Name, paypal.ExpiringSoon = "paypal-notices", 48*time.Hour
	clock := clocktest.New(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock, Policies: []authcapture.Policy{paypal}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "acme", ID: "order_7", Currency: "USD", Policy: "paypal-notices",
		Amount: decimal.RequireFromString("80.00"), CaptureMode: authcapture.CaptureManual, IdempotencyKey: "order_7-create"}); err != nil {
		fmt.Println(err)
		return
	}
	r, err := svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "acme", ID: "order_7", ProviderRef: "0VF52814937998046",
		Amount: decimal.RequireFromString("80.00"), IdempotencyKey: "order_7-authorize"})
	if err != nil {
		fmt.Println(err)
		return
	}
	a := r.Authorization
	fmt.Println("hold until", a.ExpiresAt.Format(time.DateOnly), "warning at", a.ExpiringNoticeAt.Format(time.DateOnly))

	clock.Advance(3 * day) // too early: PayPal reauthorizes from day 4
	_, err = svc.Reauthorize(ctx, authcapture.ReauthorizeRequest{MerchantID: "acme", ID: "order_7", IdempotencyKey: "order_7-reauth-1"})
	fmt.Println(errors.Is(err, authcapture.ErrReauthorizationWindow))

	clock.Advance(2 * day) // day 5: PayPal answers with a new authorization ID
	r, err = svc.Reauthorize(ctx, authcapture.ReauthorizeRequest{MerchantID: "acme", ID: "order_7", ProviderRef: "8AA831015G517922L",
		IdempotencyKey: "order_7-reauth-2"})
	if err != nil {
		fmt.Println(err)
		return
	}
	a = r.Authorization
	fmt.Println("hold until", a.ExpiresAt.Format(time.DateOnly), "warning at", a.ExpiringNoticeAt.Format(time.DateOnly), "("+a.ExpiryRule+")")

	_, err = svc.Reauthorize(ctx, authcapture.ReauthorizeRequest{MerchantID: "acme", ID: "order_7", IdempotencyKey: "order_7-reauth-3"})
	fmt.Println(errors.Is(err, authcapture.ErrReauthorizationNotAllowed))
	// Output:
	// hold until 2026-12-01 warning at 2026-11-29
	// true
	// hold until 2026-12-01 warning at 2026-11-29 (reauthorization: policy paypal-notices reauthorization validity 696h0m0s)
	// true
}
