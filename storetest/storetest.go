// Package storetest is the conformance suite for authcapture.Store
// implementations. Every store runs it from a short test:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunConformanceTests(t, func(t *testing.T) authcapture.Store {
//			return mystore.New() // a new, empty store
//		})
//	}
//
//	func TestLinearizability(t *testing.T) {
//		storetest.RunLinearizabilityTests(t, func(t *testing.T, n int) []authcapture.Store {
//			// n handles (pools, clients) on one new, empty backing store
//		})
//	}
//
// RunConformanceTests checks the contract written on authcapture.Store
// directly, with writes built by hand the way the Service builds them, and
// through authcapture.Service, up to 64 goroutines racing captures and voids
// on one authorization through several Services, and the index of
// provider references and of actions in flight; and the contracts of the
// optional capabilities a store declares (Locker, DueClaimer, Pruner).
// After the Service tests it
// checks the invariants of the aggregate against the stored log and events.
//
// RunLinearizabilityTests records concurrent histories of captures
// (overcaptures included), voids, refunds, amount changes,
// reauthorizations, reads and an expiry (a shared fake clock set to the hold's ExpiresAt
// mid-run), issued through several Services that each hold their own store
// handle, and checks them with porcupine against the reference model of
// the ledger that the Service's own tests use: every accepted command and
// read must report the ledgers, version, status and close reason the
// model predicts, and every rejection the model's sentinel. Calls that
// fail with an error the Service does not recognize have an unknown
// outcome and are modelled as such. A history that fails the check is
// written out as porcupine's HTML visualization in a temporary directory
// that outlives the test, named in the test log.
//
// What the suite asks of a store beyond the interface's doc comments: each
// store it is given starts empty (Due spans all merchants); timestamps come
// back as the same instants to the microsecond; and each test's calls
// finish within a minute.
//
// Subtests are named after the rule each one proves; they run in parallel,
// each on its own store.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/authcapture/authcapture"
)

// MakeStore returns a new, empty store for one test. It may be called
// concurrently by parallel subtests; each call must return a store that
// shares no data with the stores of other calls (a new schema or database,
// say). Anything that needs closing is closed through t.Cleanup. It fails t
// if the store cannot be made.
type MakeStore func(t *testing.T) authcapture.Store

// MakeStores returns n handles on one new, empty backing store: what n
// independent processes (or connection pools) of a host would each hold.
// Writes through any handle must be visible through all of them. For an
// in-memory store all n may be the same value. The same rules as for
// MakeStore apply otherwise.
type MakeStores func(t *testing.T, n int) []authcapture.Store

// RunConformanceTests runs the Store contract against the stores newStore
// makes: each subtest gets a new, empty store.
func RunConformanceTests(t *testing.T, newStore MakeStore) {
	t.Helper()
	runContractTests(t, storeContractTests, newStore)
	runContractTests(t, allEventsContractTests, newStore)
	runContractTests(t, lockerContractTests, newStore)
	runContractTests(t, dueClaimerContractTests, newStore)
	runContractTests(t, prunerContractTests, newStore)
	runContractTests(t, boundaryContractTests, newStore)
	runContractTests(t, serviceContractTests, newStore)
}

// runContractTests runs each of tests as a parallel subtest on a new,
// empty store.
func runContractTests(t *testing.T, tests []contractTest, newStore MakeStore) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// RunLinearizabilityTests checks that concurrent captures, voids, refunds,
// amount changes, reauthorizations, reads and expiry, issued through Services that each hold their own handle on one
// backing store, behave as if they ran one at a time in an order consistent
// with real time. newStores is called once per subtest.
func RunLinearizabilityTests(t *testing.T, newStores MakeStores) {
	t.Helper()
	t.Run("ConcurrentCommandsAreLinearizable", func(t *testing.T) {
		t.Parallel()
		testLinearizable(t, newStores(t, linHandles), false)
	})
	t.Run("LostRepliesAreLinearizableAndApplyOnceOnRetry", func(t *testing.T) {
		t.Parallel()
		testLinearizable(t, newStores(t, linHandles), true)
	})
	t.Run("CheckerRejectsAWrongModel", func(t *testing.T) {
		t.Parallel()
		testCheckerRejectsWrongModel(t, newStores(t, 2))
	})
	t.Run("CheckerRejectsForgedHistories", func(t *testing.T) {
		t.Parallel()
		testCheckerRejectsForgedHistories(t)
	})
}

// contractTest is one rule of the contract and the test that proves it.
type contractTest struct {
	name string
	run  func(t *testing.T, s authcapture.Store)
}

// testTimeout bounds the calls of one test, so that a store that sends the
// Service into a loop, or a backend that hangs, fails the test instead of
// stalling the whole run.
const testTimeout = time.Minute

// testContext returns the context for a test's calls: canceled when the
// test ends or testTimeout has passed.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}
