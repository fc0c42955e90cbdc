package pgstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/internal/providertest"
)

// TestProviderBoundary runs the provider-boundary races on PostgreSQL: the
// ledger ends equal to the provider's books in every interleaving.
func TestProviderBoundary(t *testing.T) {
	providertest.Run(t, func(t *testing.T) authcapture.Store { return setup(t, 4).store }, 200)
}
