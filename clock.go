package authcapture

import "time"

// Clock tells the time. The Service reads it once per command attempt;
// tests and examples use the fake in package clocktest.
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock used when Options.Clock is nil: time.Now in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
