package s3store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	c := newCache(4)
	held, err := c.acquire(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		name := fmt.Sprint("k", i)
		e, err := c.acquire(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c.release(name, e)
		if n := len(c.m); n > 5 {
			t.Fatalf("after %d keys the cache holds %d entries, want at most 4 + the one in use", i+1, n)
		}
	}
	if c.m["held"] != held {
		t.Fatal("an entry in use was evicted: its lock would no longer be unique")
	}
	// A second decision on a held key waits for it (and gives up with its context).
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.acquire(short, "held"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire of a held key: %v, want DeadlineExceeded", err)
	}
	c.release("held", held)
	e, err := c.acquire(ctx, "held")
	if err != nil || e != held {
		t.Fatalf("re-acquire after release: %p, %v; want the same entry", e, err)
	}
	c.release("held", e)
}

func TestCacheDisabled(t *testing.T) {
	c := newCache(0)
	e, err := c.acquire(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	e.known = true
	c.release("k", e)
	if len(c.m) != 0 {
		t.Fatalf("CacheSize < 0 kept %d entries, want none", len(c.m))
	}
}

// TestCacheKeepsItsSize pins the bound from both sides: a cache of 4 keeps exactly 4 unused
// keys (each of them decides in one request next time), and a fifth key takes the place of
// one of them, so that the most recent key is the one always remembered.
func TestCacheKeepsItsSize(t *testing.T) {
	ctx := context.Background()
	c := newCache(4)
	use := func(name string) {
		t.Helper()
		e, err := c.acquire(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c.release(name, e)
	}
	for i := range 4 {
		use(fmt.Sprint("k", i))
		if len(c.m) != i+1 {
			t.Fatalf("after %d keys the cache holds %d entries, want %d: a cache below its size evicts nothing", i+1, len(c.m), i+1)
		}
	}
	for i := 4; i < 40; i++ {
		name := fmt.Sprint("k", i)
		use(name)
		if len(c.m) != 4 {
			t.Fatalf("after %d keys the cache holds %d entries, want exactly 4", i+1, len(c.m))
		}
		if c.m[name] == nil {
			t.Fatalf("key %s, just used, is not remembered", name)
		}
	}
}

// TestCacheEvictionScansAFewEntries pins that making room looks at a bounded number of
// entries (16), not at the whole cache: when the entries in use crowd the cache, the one
// unused entry is usually not found and stays, and one new key's insertion costs at most 16
// steps of the map. (Go's map order is random; each trial finds the unused entry among 1,000
// with probability 16/1,000, so 20 trials all finding it would happen with probability 1e-36.)
func TestCacheEvictionScansAFewEntries(t *testing.T) {
	ctx := context.Background()
	survived := 0
	for range 20 {
		c := newCache(1000)
		e, err := c.acquire(ctx, "unused")
		if err != nil {
			t.Fatal(err)
		}
		c.release("unused", e)
		for i := range 1000 {
			if _, err := c.acquire(ctx, fmt.Sprint("held", i)); err != nil {
				t.Fatal(err)
			}
		}
		if c.m["unused"] != nil {
			survived++
		}
	}
	if survived == 0 {
		t.Fatal("every eviction scan found the one unused entry among 1,000 in use: the scan is not bounded")
	}
	// And the scan does find an unused entry when there are few in use.
	found := 0
	for range 50 {
		c := newCache(20)
		e, err := c.acquire(ctx, "unused")
		if err != nil {
			t.Fatal(err)
		}
		c.release("unused", e)
		for i := range 20 {
			if _, err := c.acquire(ctx, fmt.Sprint("held", i)); err != nil {
				t.Fatal(err)
			}
		}
		if c.m["unused"] == nil {
			found++
		}
	}
	t.Logf("the unused entry survived %d of 20 scans among 1,000 in use; was evicted in %d of 50 among 20", survived, found)
	if found < 25 {
		t.Fatalf("the unused entry was evicted in %d of 50 trials among 20 entries in use; a 16-entry scan finds it in about 80%%", found)
	}
}
