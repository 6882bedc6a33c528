package dynamostore

import "sync"

// cache is a bounded map from partition keys to int64. When full, it drops an arbitrary
// entry: a dropped entry only costs a round trip later, never a wrong decision.
type cache struct {
	mu  sync.Mutex
	m   map[string]int64
	max int
}

func newCache(size int) *cache { return &cache{m: make(map[string]int64), max: size} }

func (c *cache) get(k string) (int64, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *cache) put(k string, v int64) {
	c.mu.Lock()
	c.putLocked(k, v)
	c.mu.Unlock()
}

func (c *cache) putLocked(k string, v int64) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

// raise stores v unless the cached value is already larger (TATs only grow, so a concurrent
// caller's older answer must not replace a newer one).
func (c *cache) raise(k string, v int64) {
	c.mu.Lock()
	if old, ok := c.m[k]; !ok || old < v {
		c.putLocked(k, v)
	}
	c.mu.Unlock()
}

func (c *cache) forget(k string) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
