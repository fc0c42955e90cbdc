package authcapture_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authcapture/authcapture"
)

func TestParseDelay(t *testing.T) {
	t.Parallel()
	good := map[string]time.Duration{
		"PT5M":           5 * time.Minute,
		"PT1H30M":        90 * time.Minute,
		"P1DT2H":         26 * time.Hour,
		"P2W":            14 * 24 * time.Hour,
		"P1D":            24 * time.Hour,
		"PT0.5S":         500 * time.Millisecond,
		"PT1.000000001S": time.Second + 1,
		"PT90M":          90 * time.Minute,
		"P1DT1H1M1S":     25*time.Hour + time.Minute + time.Second,
		"P90D":           90 * 24 * time.Hour,
	}
	for in, want := range good {
		got, err := authcapture.ParseDelay(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		back, err := authcapture.ParseDelay(authcapture.FormatDelay(got))
		require.NoError(t, err, in)
		assert.Equal(t, got, back, "FormatDelay round trip of %s", in)
	}
	for _, in := range []string{
		"", "P", "PT", "5M", "PT5", "PT-5M", "-PT5M", "PT0S", "P0D", "P1Y", "P1M", "PT5X", "P1H",
		"PT1M1H", "PT5M5M", "P1DT", "PT1.5M", "PT.5S", "PT1.S", "P91D", "P14W", "PT0.0000000001S",
		"pt5m", "PT5M ", "PT1e3S", "P1W1D1W",
	} {
		_, err := authcapture.ParseDelay(in)
		assert.ErrorIs(t, err, authcapture.ErrInvalidSchedule, "%q", in)
	}
}

func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"PT5M", "P1DT2H", "PT0.5S", "P1Y", "PT", "P2W"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := authcapture.ParseDelay(s)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("ParseDelay(%q): untyped error %v", s, err)
			}
			return
		}
		if d <= 0 || d > 90*24*time.Hour {
			t.Fatalf("ParseDelay(%q) = %s out of range", s, d)
		}
		back, err := authcapture.ParseDelay(authcapture.FormatDelay(d))
		if err != nil || back != d {
			t.Fatalf("round trip of %q: %s -> %q -> %s, %v", s, d, authcapture.FormatDelay(d), back, err)
		}
	})
}
