package s3store

import (
	"context"
	"sync"
)

// entry is what this process knows about one (policy, key), and the local lock that
// serialises its decisions: goroutines of one process deciding on one key would only make
// each other lose compare-and-swap races on S3, so they take turns here instead and each
// decides in one request.
type entry struct {
	lock chan struct{} // holds a token while a decision on this key runs
	refs int           // goroutines holding or waiting for lock; guarded by cache.mu

	// Guarded by lock. Compare-and-swap mode:
	known bool   // etag and obj reflect the last read or write
	etag  string // "" with known: the object did not exist
	obj   object

	// Guarded by lock. Marker mode:
	window int64 // the window next and full belong to
	next   int64 // every slot below next exists
	full   bool  // every slot below the limit exists
}

// cache maps object base names to entries, bounded in size. Entries in use are never evicted
// (their number is bounded by the goroutines deciding), so an entry's lock is unique.
type cache struct {
	mu  sync.Mutex
	m   map[string]*entry
	max int // entries kept when unused; 0 keeps none
}

func newCache(max int) *cache { return &cache{m: make(map[string]*entry), max: max} }

// acquire returns name's entry, locked for the caller, or ctx's error.
func (c *cache) acquire(ctx context.Context, name string) (*entry, error) {
	c.mu.Lock()
	e := c.m[name]
	if e == nil {
		c.evict()
		e = &entry{lock: make(chan struct{}, 1)}
		c.m[name] = e
	}
	e.refs++
	c.mu.Unlock()
	select {
	case e.lock <- struct{}{}:
		return e, nil
	case <-ctx.Done():
		c.done(name, e, false)
		return nil, ctx.Err()
	}
}

// release unlocks e.
func (c *cache) release(name string, e *entry) { c.done(name, e, true) }

func (c *cache) done(name string, e *entry, locked bool) {
	if locked {
		<-e.lock
	}
	c.mu.Lock()
	e.refs--
	if e.refs == 0 && len(c.m) > c.max {
		delete(c.m, name)
	}
	c.mu.Unlock()
}

// evict makes room for one entry by dropping unused ones; map iteration order is random, so
// this is random eviction, which needs no bookkeeping on the hot path. Called with mu held.
func (c *cache) evict() {
	if len(c.m) < c.max {
		return
	}
	seen := 0
	for k, e := range c.m {
		if e.refs == 0 {
			delete(c.m, k)
			if len(c.m) < c.max {
				return
			}
		}
		if seen++; seen >= 16 {
			return
		}
	}
}
