package memstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/providertest"
	"github.com/authcapture/authcapture/memstore"
)

// TestProviderBoundary runs the provider-boundary races: the ledger ends
// equal to the provider's books in every interleaving.
func TestProviderBoundary(t *testing.T) {
	providertest.Run(t, func(*testing.T) authcapture.Store { return memstore.New() }, 1000)
}
