package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/authcapture/authcapture"
)

func TestQuickstartRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{
		"capture 4.50 usage (final) open 0.00 captured 4.50 released 5.50 captured",
		"replayed: the original capture",
		"capture 30.00 shipment 2 open 45.00 captured 75.00 released 0.00 partially_captured",
		"void the rest (out of stock) open 0.00 captured 75.00 released 45.00 captured",
		"Nov 04 11:01 refund 15.00 of shipment 1 open 0.00 captured 75.00 released 45.00 captured",
		"(refunded 15.00 of 75.00 captured: partially_refunded)",
		"begin capture 80.00 damages open 420.00 captured 0.00 released 0.00 partially_captured",
		"provider accepted: remainder released open 0.00 captured 80.00 released 420.00 captured",
		"Nov 14 11:01 read at ExpiresAt: expired open 0.00 captured 0.00 released 60.00 expired",
		"authorization has expired",
		"capture scheduled at Nov 14 11:06",
		"Nov 14 11:05 scheduler sweep open 35.00 captured 0.00 released 0.00 authorized",
		"provider: capture 35.00 USD on tix_5 (key " + authcapture.ProviderKey("shop", "tix_5", "sched_2") + ")",
		"Nov 14 11:06 scheduler sweep open 0.00 captured 35.00 released 0.00 captured",
		"provider: void 200.00 USD on dep_2 (key " + authcapture.ProviderKey("shop", "dep_2", "sched_void_2") + ")",
		"Nov 17 11:06 scheduler sweep open 0.00 captured 0.00 released 200.00 voided",
		"a tip above the allowance is refused",
		"capture 92.00 with the tip (final) open 0.00 captured 92.00 released 0.00 captured",
		"overcaptured 12.00 beyond the 80.00 hold",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
