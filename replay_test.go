package authcapture_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/clocktest"
	"github.com/authcapture/authcapture/memstore"
)

// replayLosingStore is a memstore on which every write of a command whose
// idempotency key is already recorded loses its version check, as such a
// write does when other writers move the authorization on between the
// command's read and its write, again and again.
type replayLosingStore struct{ *memstore.Store }

func (s replayLosingStore) Write(ctx context.Context, w *authcapture.Write) error {
	if r := w.Idempotency; r != nil {
		if _, err := s.Store.Idempotency(ctx, r.MerchantID, r.Key); err == nil {
			return fmt.Errorf("replayLosingStore: injected: %w", authcapture.ErrVersionConflict)
		}
	}
	return s.Store.Write(ctx, w)
}

// A retried command whose key was applied returns the original result,
// however many writers race on the authorization: never a version conflict.
func TestReplayAlwaysReturnsTheOriginalResult(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func() authcapture.Store
	}{
		{"memstore", func() authcapture.Store { return memstore.New() }},
		{"every replayed write loses the race", func() authcapture.Store { return replayLosingStore{memstore.New()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const writers, captures, replays = 32, 4, 3
			ctx := context.Background()
			svc, err := authcapture.New(tc.store(), &authcapture.Options{Clock: clocktest.New(t0)})
			require.NoError(t, err)
			r, err := svc.Create(ctx, authcapture.CreateRequest{MerchantID: "m1", Currency: "USD", Amount: amt("1000.00"),
				CaptureMode: authcapture.CaptureManual, IdempotencyKey: "create"})
			require.NoError(t, err)
			id := r.Authorization.ID
			_, err = svc.Authorize(ctx, authcapture.AuthorizeRequest{MerchantID: "m1", ID: id, Amount: amt("1000.00"), IdempotencyKey: "authorize"})
			require.NoError(t, err)

			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for c := range captures {
						req := authcapture.CaptureRequest{MerchantID: "m1", ID: id, Amount: amt("1.00"),
							IdempotencyKey: fmt.Sprintf("w%d-c%d", w, c)}
						// Retry the key until it is applied, as a client does
						// after a conflict.
						var first *authcapture.Result
						for first == nil {
							r, err := svc.Capture(ctx, req)
							if errors.Is(err, authcapture.ErrVersionConflict) {
								continue
							}
							if !assert.NoError(t, err, "first capture of %s", req.IdempotencyKey) {
								return
							}
							first = r
						}
						// Then again, as a client that lost the reply does.
						for range replays {
							r, err := svc.Capture(ctx, req)
							if !assert.NoError(t, err, "replay of %s", req.IdempotencyKey) {
								return
							}
							assert.True(t, r.Replayed, "replay of %s", req.IdempotencyKey)
							assert.Equal(t, first.Entry, r.Entry, "replay of %s", req.IdempotencyKey)
						}
					}
				})
			}
			wg.Wait()
			a, err := svc.Get(ctx, "m1", id)
			require.NoError(t, err)
			assert.Equal(t, int64(writers*captures*100), a.Captured, "each key applied once")
		})
	}
}
