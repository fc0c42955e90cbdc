package memstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/statemachine"
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

func TestStateMachine(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		statemachine.Run(t, func(*testing.T) authcapture.Store { return memstore.New() })
	})
	// The same machine with the Service's state cache in front of the store.
	t.Run("memstore/cached", func(t *testing.T) {
		statemachine.Run(t, func(*testing.T) authcapture.Store { return plainStore{memstore.New()} })
	})
}

// plainStore hides a store's optional capabilities (CheapReads), so the
// Service keeps its state cache.
type plainStore struct{ authcapture.Store }
