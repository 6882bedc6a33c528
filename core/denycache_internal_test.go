package core

import (
	"fmt"
	"testing"
	"time"
)

// TestDenyCacheBounded floods the cache with distinct denials, each twice (so that a full
// shard admits it), and checks that every shard stays within its share, that the entry count
// matches the maps, and that a recent denial survives eviction of expired ones.
func TestDenyCacheBounded(t *testing.T) {
	c := newDenyCache(160)
	p := NewFixedWindow("p", 1, time.Minute)
	d := Decision{Policy: p, Limit: 1, RetryAfter: time.Second, ResetAfter: time.Second}
	now := int64(1e18)
	for i := 0; i < 20000; i++ {
		at := now + int64(i)*int64(time.Millisecond)
		c.put(fmt.Sprint("k", i), &d, 1, at)
		c.put(fmt.Sprint("k", i), &d, 1, at)
	}
	total := 0
	for i := range c.shards {
		if n := len(c.shards[i].m); n > c.perCap {
			t.Fatalf("shard %d holds %d entries, cap %d", i, n, c.perCap)
		}
		total += len(c.shards[i].m)
	}
	if int64(total) != c.n.Load() {
		t.Fatalf("entry count %d, maps hold %d", c.n.Load(), total)
	}
	last := now + 19999*int64(time.Millisecond)
	if _, ok := c.get(&p, "k19999", 1, last); !ok {
		t.Fatal("the newest denial was evicted")
	}
}

// TestDenyCacheAdmission: a shard with room caches a denial at once; a shard full of live
// denials caches a key only on its second denial, so that a flood of one-off keys neither
// evicts the keys cached before it nor costs an allocation per request; a shard whose oldest
// denial has expired has room again.
func TestDenyCacheAdmission(t *testing.T) {
	c := newDenyCache(denyShards * 4) // 4 entries per shard
	p := NewFixedWindow("p", 1, time.Minute)
	d := Decision{Policy: p, Limit: 1, RetryAfter: time.Minute, ResetAfter: time.Minute}
	now := int64(1e18)
	// Fill one shard with 4 keys, each cached on its first denial (room).
	var keys []string
	_, target := c.hash(denyKey{"p", "hot-0"})
	for i := 0; len(keys) < 4; i++ {
		k := fmt.Sprint("hot-", i)
		if _, s := c.hash(denyKey{"p", k}); s != target {
			continue
		}
		c.put(k, &d, 1, now)
		if _, ok := c.get(&p, k, 1, now); !ok {
			t.Fatalf("%s not cached on its first denial while the shard had room", k)
		}
		keys = append(keys, k)
	}
	// A flood of one-off keys for the same shard: none is cached, none evicts, none allocates.
	var flood []string
	for i := 0; len(flood) < 1000; i++ {
		k := fmt.Sprint("one-off-", i)
		if _, s := c.hash(denyKey{"p", k}); s == target {
			flood = append(flood, k)
		}
	}
	i := 0
	if n := testing.AllocsPerRun(len(flood)-1, func() { c.put(flood[i], &d, 1, now); i++ }); n != 0 {
		t.Errorf("a one-off denial in a full shard allocates %v times, want 0", n)
	}
	for _, k := range flood {
		if _, ok := c.get(&p, k, 1, now); ok {
			t.Fatalf("one-off key %s was cached in a full shard", k)
		}
	}
	for _, k := range keys {
		if _, ok := c.get(&p, k, 1, now); !ok {
			t.Fatalf("cached key %s was evicted by one-off keys", k)
		}
	}
	// A key denied again is a repeat offender: cached, evicting the oldest.
	repeat := flood[len(flood)-1]
	c.put(repeat, &d, 1, now)
	if _, ok := c.get(&p, repeat, 1, now); !ok {
		t.Fatal("a key denied twice in a full shard was not cached")
	}
	if _, ok := c.get(&p, keys[0], 1, now); ok {
		t.Error("admitting a repeat offender did not evict the oldest entry")
	}
	if n := len(target.m); n != c.perCap {
		t.Errorf("shard holds %d entries, want %d", n, c.perCap)
	}
	// Once the oldest denial has expired, its slot is free: a new key is cached at once.
	later := now + int64(time.Minute)
	c.put(flood[0], &d, 1, later)
	if _, ok := c.get(&p, flood[0], 1, later); !ok {
		t.Error("a shard whose oldest denial expired did not cache a new key")
	}
	if int64(len(target.m)) > int64(c.perCap) {
		t.Errorf("shard holds %d entries, cap %d", len(target.m), c.perCap)
	}
}

func BenchmarkDenyCacheDistinctKeys(b *testing.B) {
	c := newDenyCache(10000)
	p := NewFixedWindow("p", 1, time.Minute)
	d := Decision{Policy: p, Limit: 1, RetryAfter: time.Minute, ResetAfter: time.Minute}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("client-", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.put(keys[i&(len(keys)-1)], &d, 1, int64(1e18))
	}
}

// TestDenyCacheAdmissionPerPolicy: the doorkeeper remembers a denial of (policy, key), not of
// the key alone: a key denied once under one policy is, under another, still on its first
// denial and not cached by a full cache.
func TestDenyCacheAdmissionPerPolicy(t *testing.T) {
	c := newDenyCache(denyShards) // one entry per shard
	a, b := NewFixedWindow("a", 1, time.Minute), NewFixedWindow("b", 1, time.Minute)
	da := Decision{Policy: a, Limit: 1, RetryAfter: time.Minute, ResetAfter: time.Minute}
	db := Decision{Policy: b, Limit: 1, RetryAfter: time.Minute, ResetAfter: time.Minute}
	now := int64(1e18)
	for i := 0; c.n.Load() < denyShards; i++ {
		if i > 10000 {
			t.Fatal("could not fill every shard")
		}
		c.put(fmt.Sprint("fill-", i), &da, 1, now)
	}
	for i := 0; i < 100; i++ {
		k := fmt.Sprint("client-", i)
		c.put(k, &da, 1, now)
		c.put(k, &db, 1, now)
		if _, ok := c.get(&b, k, 1, now); ok {
			t.Fatalf("%s: cached under policy b on its first denial there (denied once under a)", k)
		}
	}
}
