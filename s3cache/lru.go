package s3cache

import (
	"container/list"
	"sync"
)

// lru is a cache of entries bounded by the sum of their costs. Safe for concurrent use.
type lru struct {
	mu        sync.Mutex
	max, used int64
	ll        list.List // front = most recently used; values are *entry
	m         map[string]*list.Element
	evictions int64
}

func newLRU(maxBytes int64) *lru {
	return &lru{max: maxBytes, m: make(map[string]*list.Element)}
}

// get returns the entry for name and marks it recently used.
func (c *lru) get(name string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.m[name]
	if el == nil {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry)
}

// put stores e, replacing any entry of the same name, and evicts the least recently used
// entries until the total cost fits. An entry costlier than the whole cache is not stored.
func (c *lru) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.m[e.name]; el != nil {
		c.used -= el.Value.(*entry).cost
		c.ll.Remove(el)
		delete(c.m, e.name)
	}
	if e.cost > c.max {
		return
	}
	c.m[e.name] = c.ll.PushFront(e)
	c.used += e.cost
	for c.used > c.max {
		el := c.ll.Back()
		old := el.Value.(*entry)
		c.ll.Remove(el)
		delete(c.m, old.name)
		c.used -= old.cost
		c.evictions++
	}
}

// remove drops name; it reports whether it was cached.
func (c *lru) remove(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.m[name]
	if el == nil {
		return false
	}
	c.used -= el.Value.(*entry).cost
	c.ll.Remove(el)
	delete(c.m, name)
	return true
}

func (c *lru) size() (entries int, bytes, evictions int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.used, c.evictions
}
