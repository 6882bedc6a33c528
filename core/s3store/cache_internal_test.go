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
