// Package clocktest provides a fake authcapture.Clock that moves only when
// told to, for tests and examples.
package clocktest

import (
	"sync"
	"time"

	"github.com/authcapture/authcapture"
)

var (
	_ authcapture.Clock = (*Clock)(nil)
	_ authcapture.Timer = (*Clock)(nil)
)

// Clock is a fake clock, safe for concurrent use. Its zero value is not
// usable; call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock stopped at t (converted to UTC).
func New(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative) and fires
// the channels of After whose time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.fire()
	c.mu.Unlock()
}

// Set moves the clock to t and fires the channels of After whose time has
// come.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.fire()
	c.mu.Unlock()
}

// After returns a channel that receives the clock's time once it has been
// moved at least d past now. It makes Clock an authcapture.Timer, so
// authcapture.Scheduler.Run waits on it.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	c.fire()
	return ch
}

// Waiters returns how many After channels have not fired yet, so a test can
// wait until a goroutine is blocked on the clock before moving it.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *Clock) fire() {
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}
