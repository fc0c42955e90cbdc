package memstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
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
