package core

import (
	"hash/maphash"
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
//
// Admission: a shard that is full, with its oldest entry (the one the next key would evict)
// still live, admits a key only on a repeated denial. Each shard keeps a doorkeeper, a
// direct-mapped array of the hashes of keys denied while it was full; a key found there is
// admitted (evicting the oldest), any other is written there and not cached. The doorkeeper
// is lossy: under a flood of more distinct keys than a shard holds, a repeat offender's slot
// may be overwritten between its denials, so it is usually cached on its second denial and
// sometimes later. A flood of one-off keys (a scan from many addresses, keys
// cycling through more distinct values than the cache holds) then neither evicts the repeat
// offenders the cache is for nor pays a copy and an eviction per request for an entry no
// request would read; a hot denied key pays one extra store call before it is cached.
type denyCache struct {
	seed   maphash.Seed
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
	seen []uint64 // the doorkeeper: hashes of keys denied once while the shard was full
}

const denyShards = 16

func newDenyCache(size int) *denyCache {
	if size <= 0 {
		return nil
	}
	c := &denyCache{seed: maphash.MakeSeed(), shards: make([]denyShard, denyShards), perCap: max(size/denyShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[denyKey]denyEntry)
		c.shards[i].ring = make([]denyKey, c.perCap)
		c.shards[i].seen = make([]uint64, c.perCap)
	}
	return c
}

// hash returns k's hash (never 0, the doorkeeper's empty slot) and its shard: the key's
// seeded hash (keys are client-controlled) mixed with FNV-1a of the policy name (a short
// name from the application's own configuration, cheaper to hash inline).
func (c *denyCache) hash(k denyKey) (uint64, *denyShard) {
	n := uint64(14695981039346656037)
	for i := 0; i < len(k.name); i++ {
		n ^= uint64(k.name[i])
		n *= 1099511628211
	}
	h := (maphash.String(c.seed, k.key) ^ n) | 1
	return h, &c.shards[h>>60%denyShards]
}

// get returns the cached denial for a cost at now, if any.
func (c *denyCache) get(p *Policy, key string, cost, now int64) (Decision, bool) {
	if c == nil || c.n.Load() == 0 {
		return Decision{}, false
	}
	k := denyKey{p.Name, key}
	_, s := c.hash(k)
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
	h, s := c.hash(k)
	s.mu.Lock()
	if len(s.m) >= c.perCap {
		// Full: admit only a key denied before, or into the slot of an oldest entry that
		// has expired (see denyCache). Checked first, so that a one-off key costs one map
		// read. A key cached already is rare here (get answered it, unless its entry covers
		// only larger costs); not admitted, it keeps its entry, which stays true.
		slot := &s.seen[(h>>1)%uint64(len(s.seen))]
		if *slot == h {
			*slot = 0
		} else {
			*slot = h
			if ve, live := s.m[s.ring[s.next]]; live && now < ve.until {
				s.mu.Unlock()
				return
			}
		}
	}
	old, exists := s.m[k]
	if exists && old.until >= e.until && old.cost <= e.cost {
		s.mu.Unlock()
		return
	}
	if !exists {
		victim := s.ring[s.next]
		// The key may point into a request's memory (a custom Request view over a reused
		// buffer); the cache outlives the request, so it keeps its own copy.
		k = denyKey{strings.Clone(k.name), strings.Clone(k.key)}
		if victim != (denyKey{}) {
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
	_, s := c.hash(k)
	s.mu.Lock()
	if _, ok := s.m[k]; ok {
		delete(s.m, k)
		c.n.Add(-1)
	}
	s.mu.Unlock()
}
