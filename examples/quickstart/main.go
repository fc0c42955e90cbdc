// Command quickstart walks through the lifecycles authcapture was built for,
// on the embedded store with a fake clock, and prints a timeline of each
// step's amounts and status.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// demo holds what every scenario shares: a service on memstore, a fake clock
// and a timeline printer.
type demo struct {
	ctx   context.Context
	out   io.Writer
	clock *clocktest.Clock
	svc   *authcapture.Service
	err   error
}

func run(out io.Writer) error {
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := clocktest.New(start)
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{Clock: clock})
	if err != nil {
		return err
	}
	d := &demo{ctx: context.Background(), out: out, clock: clock, svc: svc}
	d.aiJob()
	d.shipments()
	d.rentalDeposit()
	d.expiringHold()
	d.delayedCapture()
	d.selfCancellingDeposit()
	d.restaurantTip()
	d.longJob()
	return d.err
}

func money(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// step prints one line of the timeline, or records the first error.
func (d *demo) step(what string, r *authcapture.Result, err error) *authcapture.Authorization {
	if d.err != nil {
		return nil
	}
	if err != nil {
		d.err = fmt.Errorf("%s: %w", what, err)
		return nil
	}
	d.show(what, r.Authorization)
	return r.Authorization
}

func (d *demo) show(what string, a *authcapture.Authorization) {
	c := a.Currency
	fmt.Fprintf(d.out, "  %s  %-38s open %7s  captured %7s  released %7s  %s\n",
		d.clock.Now().Format("Jan 02 15:04"), what,
		c.Format(a.Open()), c.Format(a.Captured), c.Format(a.Voided+a.Expired), a.Status())
}

// hold creates and authorizes an authorization.
func (d *demo) hold(id, amount, policy string) *authcapture.Authorization {
	r, err := d.svc.Create(d.ctx, authcapture.CreateRequest{MerchantID: "shop", ID: id, Currency: "USD",
		Amount: money(amount), Policy: policy, CaptureMode: authcapture.CaptureManual,
		IdempotencyKey: id + "-create"})
	if d.step("create "+amount, r, err) == nil {
		return nil
	}
	r, err = d.svc.Authorize(d.ctx, authcapture.AuthorizeRequest{MerchantID: "shop", ID: id,
		Amount: money(amount), IdempotencyKey: id + "-authorize"})
	return d.step("authorize "+amount, r, err)
}

func (d *demo) aiJob() {
	fmt.Fprintln(d.out, "AI job: hold the estimate, capture actual usage, release the rest at once")
	if d.hold("job_1", "10.00", "default") == nil {
		return
	}
	d.clock.Advance(90 * time.Second)
	r, err := d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "job_1",
		Amount: money("4.50"), Final: authcapture.Bool(true), IdempotencyKey: "job_1-usage"})
	d.step("capture 4.50 usage (final)", r, err)
	// A retry with the same key, after a lost reply, applies nothing twice.
	r, err = d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "job_1",
		Amount: money("4.50"), Final: authcapture.Bool(true), IdempotencyKey: "job_1-usage"})
	if d.step("retry with the same key", r, err) != nil && r.Replayed {
		fmt.Fprintln(d.out, "                (replayed: the original capture, not a second one)")
	}
	fmt.Fprintln(d.out)
}

func (d *demo) shipments() {
	fmt.Fprintln(d.out, "Order: capture per shipment, void what cannot ship, refund a return")
	if d.hold("order_7", "120.00", "afterpay") == nil {
		return
	}
	var shipped []string // capture IDs
	for i, amount := range []string{"45.00", "30.00"} {
		d.clock.Advance(24 * time.Hour)
		r, err := d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "order_7",
			Amount: money(amount), Reference: fmt.Sprintf("shipment-%d", i+1),
			IdempotencyKey: fmt.Sprintf("order_7-ship-%d", i+1)})
		if d.step(fmt.Sprintf("capture %s shipment %d", amount, i+1), r, err) != nil {
			shipped = append(shipped, r.Entry.CaptureID)
		}
	}
	d.clock.Advance(2 * time.Hour)
	r, err := d.svc.Void(d.ctx, authcapture.VoidRequest{MerchantID: "shop", ID: "order_7",
		All: true, Reason: authcapture.ReasonRequestedByCustomer, IdempotencyKey: "order_7-oos"})
	d.step("void the rest (out of stock)", r, err)
	if len(shipped) == 0 {
		return
	}
	// An item of the first shipment comes back: refund it against that
	// capture. The hold stays closed; only the refund ledger moves.
	r, err = d.svc.Refund(d.ctx, authcapture.RefundRequest{MerchantID: "shop", ID: "order_7", Amount: money("15.00"),
		CaptureID: shipped[0], Reason: authcapture.ReasonRequestedByCustomer, Reference: "return-1",
		IdempotencyKey: "order_7-return-1"})
	if a := d.step("refund 15.00 of shipment 1", r, err); a != nil {
		fmt.Fprintf(d.out, "                (refunded %s of %s captured: %s)\n", a.Currency.Format(a.Refunded),
			a.Currency.Format(a.Captured), a.RefundStatus())
	}
	fmt.Fprintln(d.out)
}

func (d *demo) rentalDeposit() {
	fmt.Fprintln(d.out, "Rental: hold a deposit, capture damages in two phases, release the rest")
	if d.hold("car_3", "500.00", "default") == nil {
		return
	}
	d.clock.Advance(72 * time.Hour)
	r, err := d.svc.BeginCapture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "car_3",
		Amount: money("80.00"), Final: authcapture.Bool(true), Reference: "scratched bumper", IdempotencyKey: "car_3-damage"})
	if d.step("begin capture 80.00 damages", r, err) == nil {
		return
	}
	r, err = d.svc.ConfirmCapture(d.ctx, authcapture.SettleCaptureRequest{MerchantID: "shop", ID: "car_3",
		CaptureID: r.Entry.CaptureID, IdempotencyKey: "car_3-damage-ok"})
	d.step("provider accepted: remainder released", r, err)
	fmt.Fprintln(d.out)
}

func (d *demo) expiringHold() {
	fmt.Fprintln(d.out, "Forgotten hold: nothing captured, the provider's 7 days run out")
	a := d.hold("hold_9", "60.00", "paymongo")
	if a == nil {
		return
	}
	d.clock.Set(a.ExpiresAt)
	got, err := d.svc.Get(d.ctx, "shop", "hold_9")
	if err != nil {
		d.err = err
		return
	}
	d.show("read at ExpiresAt: expired", got)
	_, err = d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "hold_9",
		All: true, IdempotencyKey: "hold_9-late"})
	fmt.Fprintf(d.out, "                a late capture is refused: %v (HTTP %d)\n", err, authcapture.HTTPStatus(err))
}

// provider stands in for the host's payment provider client: the scheduler
// hands it the delayed captures and cancels to carry out, several at once
// (SchedulerOptions.Concurrency), so it is safe for concurrent use.
type provider struct {
	d  *demo
	mu *sync.Mutex // guards d.out
}

func (p provider) Capture(_ context.Context, t authcapture.CaptureTask) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.d.out, "                provider: capture %s %s on %s (key %s)\n", t.Currency.Format(t.Amount), t.Currency, t.AuthorizationID, t.Key)
	return nil
}

func (p provider) Void(_ context.Context, t authcapture.VoidTask) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.d.out, "                provider: void %s %s on %s (key %s)\n", t.Currency.Format(t.Amount), t.Currency, t.AuthorizationID, t.Key)
	return t.Amount, nil // released all it was asked to
}

// sweep runs the scheduler once, as a host's background loop (Scheduler.Run)
// would every second.
func (d *demo) sweep(id string) {
	if d.err != nil {
		return
	}
	sched, err := authcapture.NewScheduler(d.svc, provider{d: d, mu: new(sync.Mutex)}, nil)
	if err != nil {
		d.err = err
		return
	}
	if _, err := sched.RunDue(d.ctx, 100); err != nil {
		d.err = err
		return
	}
	a, err := d.svc.Get(d.ctx, "shop", id)
	if err != nil {
		d.err = err
		return
	}
	d.show("scheduler sweep", a)
}

// holdWith creates and authorizes an authorization with schedules.
func (d *demo) holdWith(req authcapture.CreateRequest) *authcapture.Authorization {
	req.MerchantID, req.Currency, req.IdempotencyKey = "shop", "USD", req.ID+"-create"
	r, err := d.svc.Create(d.ctx, req)
	if d.step("create "+req.Amount.StringFixed(2), r, err) == nil {
		return nil
	}
	r, err = d.svc.Authorize(d.ctx, authcapture.AuthorizeRequest{MerchantID: "shop", ID: req.ID,
		Amount: req.Amount, IdempotencyKey: req.ID + "-authorize"})
	return d.step("authorize "+req.Amount.StringFixed(2), r, err)
}

func (d *demo) delayedCapture() {
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "Delayed capture (Payrails' PT5M): captured by the scheduler unless the host acts first")
	delay, err := authcapture.ParseDelay("PT5M")
	if err != nil {
		d.err = err
		return
	}
	a := d.holdWith(authcapture.CreateRequest{ID: "tix_5", Amount: money("35.00"), Policy: "payrails",
		CaptureMode: authcapture.CaptureDelayed, CaptureDelay: delay})
	if a == nil {
		return
	}
	fmt.Fprintf(d.out, "                capture scheduled at %s\n", a.CaptureAt.Format("Jan 02 15:04"))
	d.clock.Advance(4 * time.Minute)
	d.sweep("tix_5") // not due yet
	d.clock.Advance(time.Minute)
	d.sweep("tix_5")
}

func (d *demo) selfCancellingDeposit() {
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "Deposit that cancels itself after 3 days unless damages are captured")
	a := d.holdWith(authcapture.CreateRequest{ID: "dep_2", Amount: money("200.00"),
		CancelMode: authcapture.CancelDelayed, CancelDelay: 72 * time.Hour})
	if a == nil {
		return
	}
	fmt.Fprintf(d.out, "                cancel scheduled at %s\n", a.CancelAt.Format("Jan 02 15:04"))
	d.clock.Advance(72 * time.Hour)
	d.sweep("dep_2")
}

func (d *demo) restaurantTip() {
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "Restaurant tip: hold the bill, then capture it with the tip (PayPal: up to 115%, at most 75 USD more)")
	a := d.hold("tab_4", "80.00", "paypal")
	if a == nil {
		return
	}
	d.clock.Advance(2 * time.Hour)
	_, err := d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "tab_4",
		Amount: money("92.01"), Final: authcapture.Bool(true), IdempotencyKey: "tab_4-too-much"})
	fmt.Fprintf(d.out, "                a tip above the allowance is refused: %v (HTTP %d)\n", err, authcapture.HTTPStatus(err))
	r, err := d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "tab_4",
		Amount: money("92.00"), Final: authcapture.Bool(true), Reference: "bill 80.00 + tip 12.00", IdempotencyKey: "tab_4-with-tip"})
	if got := d.step("capture 92.00 with the tip (final)", r, err); got != nil {
		fmt.Fprintf(d.out, "                overcaptured %s beyond the 80.00 hold\n", got.Amounts().Overcaptured.StringFixed(2))
	}
}

func (d *demo) longJob() {
	fmt.Fprintln(d.out)
	fmt.Fprintln(d.out, "AI job past its estimate: raise the hold mid-run, then capture actual usage")
	r, err := d.svc.Create(d.ctx, authcapture.CreateRequest{MerchantID: "shop", ID: "job_2", Currency: "USD",
		Amount: money("20.00"), Policy: "stripe", CaptureMode: authcapture.CaptureManual,
		AuthorizationType: authcapture.AuthorizationEstimated, IdempotencyKey: "job_2-create"})
	if d.step("create 20.00 (estimated)", r, err) == nil {
		return
	}
	r, err = d.svc.Authorize(d.ctx, authcapture.AuthorizeRequest{MerchantID: "shop", ID: "job_2",
		Amount: money("20.00"), IdempotencyKey: "job_2-authorize"})
	d.step("authorize 20.00", r, err)
	d.clock.Advance(10 * time.Minute)
	// The host asks the provider for a larger hold; the answer comes later.
	r, err = d.svc.BeginAmountChange(d.ctx, authcapture.AmountChangeRequest{MerchantID: "shop", ID: "job_2",
		Total: money("35.00"), ProviderRef: "pi_job_2_incr_1", IdempotencyKey: "job_2-raise"})
	d.step("ask the provider for 35.00", r, err)
	d.clock.Advance(time.Second)
	// Its webhook reports the increment approved.
	o, err := d.svc.RecordOutcome(d.ctx, authcapture.OutcomeRequest{MerchantID: "shop", ProviderRef: "pi_job_2_incr_1",
		Kind: authcapture.OutcomeAmountChange, Outcome: authcapture.OutcomeSucceeded, Amount: money("35.00")})
	if err != nil {
		d.err = err
		return
	}
	d.show("webhook: raised to 35.00", o.Authorization)
	d.clock.Advance(20 * time.Minute)
	r, err = d.svc.Capture(d.ctx, authcapture.CaptureRequest{MerchantID: "shop", ID: "job_2",
		Amount: money("31.20"), Final: authcapture.Bool(true), IdempotencyKey: "job_2-usage"})
	d.step("capture 31.20 usage (final)", r, err)
}
