package authcapture_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

func TestStateMachine(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		storetest.RunStateMachine(t, func(*testing.T) authcapture.Store { return memstore.New() })
	})
	// The same machine with the Service's state cache in front of the store.
	t.Run("memstore/cached", func(t *testing.T) {
		storetest.RunStateMachine(t, func(*testing.T) authcapture.Store { return hideCapabilities{memstore.New()} })
	})
}
