// Package clocktest provides a fake authcapture.Clock that moves only when
// told to, for tests and examples.
package clocktest

import (
	"sync"
	"time"

	"github.com/authcapture/authcapture"
)

var _ authcapture.Clock = (*Clock)(nil)

// Clock is a fake clock, safe for concurrent use. Its zero value is not
// usable; call New.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock stopped at t (converted to UTC).
func New(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}
