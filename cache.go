package authcapture

import "sync"

// CheapReads is a capability a Store may declare: reads cost about as much
// as a map lookup (memstore), so the Service does not keep its own copy of
// the states it wrote.
type CheapReads interface {
	CheapReads() bool
}

// stateCache holds the state this Service last wrote or read for recently
// used authorizations, so a command can skip the read round trip before its
// write. It is only a guess: the write's version check rejects a stale
// state (the command then reads and runs again), and a command rejected on a
// cached state is evaluated again on a fresh read before the rejection is
// returned. Reads never use it. Eviction is first-in, first-out.
type stateCache struct {
	mu    sync.Mutex
	max   int
	items map[cacheKey]*Authorization
	ring  []cacheKey
	next  int
}

type cacheKey struct{ merchant, id string }

func newStateCache(max int) *stateCache {
	if max <= 0 {
		return nil
	}
	return &stateCache{max: max, items: make(map[cacheKey]*Authorization, max), ring: make([]cacheKey, 0, max)}
}

// get returns a private copy of the cached state, if any.
func (c *stateCache) get(merchant, id string) *Authorization {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	a := c.items[cacheKey{merchant, id}]
	c.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.Clone()
}

// put remembers a copy of a.
func (c *stateCache) put(a *Authorization) {
	if c == nil {
		return
	}
	k := cacheKey{a.MerchantID, a.ID}
	cp := a.Clone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok {
		if len(c.ring) < c.max {
			c.ring = append(c.ring, k)
		} else {
			delete(c.items, c.ring[c.next])
			c.ring[c.next] = k
			c.next = (c.next + 1) % c.max
		}
	}
	c.items[k] = cp
}

// drop forgets an authorization's state.
func (c *stateCache) drop(merchant, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.items, cacheKey{merchant, id}) // its ring slot is reused when it comes round
	c.mu.Unlock()
}
