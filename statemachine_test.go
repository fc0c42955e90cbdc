package authcapture_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
	"github.com/authcapture/authcapture/storetest"
)

func TestStateMachine(t *testing.T) {
	storetest.RunStateMachine(t, func(*testing.T) authcapture.Store { return memstore.New() })
}
