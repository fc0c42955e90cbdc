package authcapture_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

func TestAllEventsSpansMerchants(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := f.hold("default", "10.00")
	r, err := f.svc.Create(f.ctx, authcapture.CreateRequest{MerchantID: "m2", Currency: "USD",
		Amount: decimal.RequireFromString("5.00"), CaptureMode: authcapture.CaptureManual, IdempotencyKey: "m2-create"})
	require.NoError(t, err)
	_, err = f.voidAll(a.ID)
	require.NoError(t, err)

	all, err := f.svc.AllEvents(f.ctx, 0, 100)
	require.NoError(t, err)
	var got []string
	for _, e := range all {
		got = append(got, e.MerchantID+" "+e.AuthorizationID+" "+string(e.Type))
	}
	assert.Equal(t, []string{
		"m1 " + a.ID + " " + string(authcapture.EventCreated),
		"m1 " + a.ID + " " + string(authcapture.EventAuthorized),
		"m2 " + r.Authorization.ID + " " + string(authcapture.EventCreated),
		"m1 " + a.ID + " " + string(authcapture.EventVoided),
	}, got)
	page, err := f.svc.AllEvents(f.ctx, all[1].Position, 1)
	require.NoError(t, err)
	assert.Equal(t, all[2:3], page)
}

func TestAllEventsValidatesLikeEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.hold("default", "10.00")
	for _, tc := range []struct {
		after int64
		limit int
	}{{-1, 10}, {0, 0}, {0, -1}, {0, 10_001}} {
		evs, err := f.svc.AllEvents(f.ctx, tc.after, tc.limit)
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument, "after %d, limit %d", tc.after, tc.limit)
		assert.Nil(t, evs)
		var e *authcapture.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "all_events", e.Op)
	}
	var nilCtx context.Context
	_, err := f.svc.AllEvents(nilCtx, 0, 10)
	require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
	evs, err := f.svc.AllEvents(f.ctx, 0, 10_000)
	require.NoError(t, err)
	assert.Len(t, evs, 2)
}
