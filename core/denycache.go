package core

import (
	"strings"
	"sync"
	"sync/atomic"
)

// denyCache remembers denials: a key denied until T for a cost c is denied locally, with no
// store call, for any cost >= c until T. A flood of denied requests thus costs the backend
// nothing, as in Envoy's ratelimit service. It is bounded, with O(1) eviction: each shard
// remembers its keys in insertion order in a ring of perCap slots, and a new key takes the
// oldest slot, evicting the key named there if it is still cached. Every cached key names at
// least one slot, so a shard never holds more than perCap keys (a dropped entry only costs one
// extra store call).
type denyCache struct {
	shards []denyShard
	perCap int
	// n counts entries, so that the common case of no denials costs one atomic load.
	n atomic.Int64
}

type denyKey struct{ name, key string }

type denyEntry struct {
	until, reset int64 // Unix ns
	cost, limit  int64
}

type denyShard struct {
	mu   sync.Mutex
	m    map[denyKey]denyEntry
	ring []denyKey // insertion order; ring[next] is the oldest slot
	next int
}

const denyShards = 16

func newDenyCache(size int) *denyCache {
	if size <= 0 {
		return nil
	}
	c := &denyCache{shards: make([]denyShard, denyShards), perCap: max(size/denyShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[denyKey]denyEntry)
		c.shards[i].ring = make([]denyKey, c.perCap)
	}
	return c
}

func (c *denyCache) shard(k denyKey) *denyShard {
	return &c.shards[fnv32(k.key)^fnv32(k.name)]
}

// get returns the cached denial for a cost at now, if any.
func (c *denyCache) get(p *Policy, key string, cost, now int64) (Decision, bool) {
	if c == nil || c.n.Load() == 0 {
		return Decision{}, false
	}
	k := denyKey{p.Name, key}
	s := c.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	if ok && now >= e.until {
		delete(s.m, k)
		c.n.Add(-1)
		ok = false
	}
	s.mu.Unlock()
	if !ok || cost < e.cost {
		return Decision{}, false
	}
	return Decision{
		Limit: e.limit, RetryAfter: durNs(e.until - now), ResetAfter: durNs(e.reset - now), Policy: *p,
	}, true
}

func (c *denyCache) put(key string, d *Decision, cost, now int64) {
	if c == nil || d.RetryAfter <= 0 {
		return
	}
	k := denyKey{d.Policy.Name, key}
	e := denyEntry{until: now + int64(d.RetryAfter), reset: now + int64(d.ResetAfter), cost: cost, limit: d.Limit}
	s := c.shard(k)
	s.mu.Lock()
	old, exists := s.m[k]
	if exists && old.until >= e.until && old.cost <= e.cost {
		s.mu.Unlock()
		return
	}
	if !exists {
		// The key may point into a request's memory (a custom Request view over a reused
		// buffer); the cache outlives the request, so it keeps its own copy.
		k = denyKey{strings.Clone(k.name), strings.Clone(k.key)}
		if victim := s.ring[s.next]; victim != (denyKey{}) {
			if _, ok := s.m[victim]; ok {
				delete(s.m, victim)
				c.n.Add(-1)
			}
		}
		s.ring[s.next] = k
		s.next = (s.next + 1) % len(s.ring)
		c.n.Add(1)
	}
	s.m[k] = e
	s.mu.Unlock()
}

func (c *denyCache) forget(name, key string) {
	if c == nil {
		return
	}
	k := denyKey{name, key}
	s := c.shard(k)
	s.mu.Lock()
	if _, ok := s.m[k]; ok {
		delete(s.m, k)
		c.n.Add(-1)
	}
	s.mu.Unlock()
}

// fnv32 is FNV-1a reduced to a shard index.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h % denyShards
}
