package core

import (
	"fmt"
	"testing"
	"time"
)

// TestDenyCacheBounded floods the cache with distinct denials and checks that every shard stays
// within its share, that the entry count matches the maps, and that a recent denial survives
// eviction of expired ones.
func TestDenyCacheBounded(t *testing.T) {
	c := newDenyCache(160)
	p := NewFixedWindow("p", 1, time.Minute)
	d := Decision{Policy: p, Limit: 1, RetryAfter: time.Second, ResetAfter: time.Second}
	now := int64(1e18)
	for i := 0; i < 20000; i++ {
		c.put(fmt.Sprint("k", i), &d, 1, now+int64(i)*int64(time.Millisecond))
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
