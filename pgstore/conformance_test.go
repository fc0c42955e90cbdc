package pgstore_test

import (
	"context"
	"testing"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/pgstore"
	"github.com/authcapture/authcapture/storetest"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestConformance(t *testing.T) {
	storetest.RunConformanceTests(t, func(t *testing.T) authcapture.Store { return setup(t, 0).store })
}

// Each handle has its own pool, as separate processes of a host would.
func TestLinearizability(t *testing.T) {
	storetest.RunLinearizabilityTests(t, func(t *testing.T, n int) []authcapture.Store {
		b := setup(t, 0)
		handles := make([]authcapture.Store, n)
		for i := range handles {
			pool, err := pgxpool.New(context.Background(), databaseURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			s, err := pgstore.New(pool, &pgstore.Options{Schema: b.store.Schema()})
			if err != nil {
				t.Fatal(err)
			}
			handles[i] = s
		}
		return handles
	})
}
