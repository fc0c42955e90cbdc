package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
	"github.com/authcapture/authcapture/memstore"
)

// A default policy may be one of the policies given in Options, not only a
// preset.
func TestServiceOptionsDefaultPolicyFromOptions(t *testing.T) {
	t.Parallel()
	svc, err := authcapture.New(memstore.New(), &authcapture.Options{
		DefaultPolicy: "custom",
		Policies:      []authcapture.Policy{{Name: "custom", Validity: time.Hour}},
	})
	require.NoError(t, err)
	_, ok := svc.Policy("custom")
	assert.True(t, ok)
}

// A negative scheduler option is refused with an error naming it; zero
// takes the default.
func TestSchedulerOptions(t *testing.T) {
	t.Parallel()
	svc, err := authcapture.New(memstore.New(), nil)
	require.NoError(t, err)
	_, err = authcapture.NewScheduler(nil, nil, nil)
	require.ErrorIs(t, err, authcapture.ErrInvalidArgument)
	_, err = authcapture.NewScheduler(svc, nil, nil)
	require.NoError(t, err)
	for field, opts := range map[string]*authcapture.SchedulerOptions{
		"Interval":  {Interval: -time.Second},
		"BatchSize": {BatchSize: -1},
		"Lease":     {Lease: -time.Minute},
	} {
		_, err := authcapture.NewScheduler(svc, nil, opts)
		require.ErrorIs(t, err, authcapture.ErrInvalidArgument, field)
		assert.Contains(t, err.Error(), "SchedulerOptions."+field)
	}
}
