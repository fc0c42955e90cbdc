package pgstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/statemachine"
)

// The state machine makes a store per check; they share one schema,
// emptied for each.
func TestStateMachine(t *testing.T) {
	b := setup(t, 4)
	statemachine.Run(t, func(t *testing.T) authcapture.Store {
		b.reset(t)
		return b.store
	})
}
