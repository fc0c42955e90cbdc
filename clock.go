package authcapture

import "time"

// Clock tells the time. The Service reads it once per command attempt;
// tests and examples use the fake in package clocktest.
//
// A clock may step back (an NTP correction, hosts whose clocks differ). A
// change to an authorization is then dated at the latest time the
// authorization records (CreatedAt, AuthorizedAt, ExpiredAt, ClosedAt),
// never before it: its log entries, events and times never precede its
// creation, approval or expiry.
type Clock interface {
	Now() time.Time
}

// Timer is a capability a Clock may declare: it can signal when time has
// passed on it. Scheduler.Run waits for its next sweep on the service's
// Clock if it is a Timer, and on real time otherwise; clocktest.Clock is
// one, so tests drive Run by advancing the fake clock.
type Timer interface {
	// After returns a channel that receives the clock's time once at
	// least d has passed on the clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the Clock used when Options.Clock is nil: time.Now in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
