package pgstore_test

import (
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/storetest"
)

// BenchmarkSchedulerDrain runs storetest's drain of 2,000 due captures at
// concurrency 32 against a 50 ms provider on pgstore.
func BenchmarkSchedulerDrain(b *testing.B) {
	b.Run("pgstore", func(b *testing.B) {
		storetest.BenchmarkSchedulerDrain(b, func(b *testing.B) authcapture.Store { return setup(b, 36).store })
	})
}
