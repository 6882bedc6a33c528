package memstore_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestFloodKeepsLiveState is the reliability issue's key flood: 2,000,000 one-off keys (ten
// times the store's capacity) pour in while 100 hot keys keep asking under a 1-per-hour limit
// and 50 keys hold 2 of 2 leases. Eviction must take the one-off keys: no hot key may be
// allowed twice (its state forgotten) and no extra lease may be granted (a held lease
// forgotten).
func TestFloodKeepsLiveState(t *testing.T) {
	const (
		maxKeys   = 200_000
		floodKeys = 2_000_000
		hotKeys   = 100
		perHot    = 100
		holders   = 50
	)
	s, err := memstore.NewWithConfig(memstore.Config{MaxKeys: maxKeys})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	rate := core.NewFixedWindow("daily", 1, 24*time.Hour)
	sem := core.NewConcurrency("jobs", 2, time.Minute) // expires long before the rate window: the old eviction took leases first
	for h := 0; h < holders; h++ {
		for i := 0; i < 2; i++ {
			d, err := s.Acquire(ctx, "holder-"+strconv.Itoa(h), sem, "lease-"+strconv.Itoa(i), now)
			if err != nil || !d.Allowed {
				t.Fatalf("holder %d lease %d: %v %+v", h, i, err, d)
			}
		}
	}
	allowed := make([]int, hotKeys)
	var peak uint64
	var ms runtime.MemStats
	round := floodKeys / perHot
	for f := 0; f < floodKeys; f++ {
		if f%round == 0 {
			for h := 0; h < hotKeys; h++ {
				d, err := s.Take(ctx, "hot-"+strconv.Itoa(h), rate, 1, now)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					allowed[h]++
				}
			}
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		if _, err := s.Take(ctx, "flood-"+strconv.Itoa(f), rate, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	over := 0
	for _, a := range allowed {
		over += max(a-1, 0)
	}
	extra := 0
	for h := 0; h < holders; h++ {
		for i := 2; i < 4; i++ {
			d, err := s.Acquire(ctx, "holder-"+strconv.Itoa(h), sem, "lease-"+strconv.Itoa(i), now)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				extra++
			}
		}
	}
	t.Logf("flood: keys=%d hot_over_admitted=%d extra_leases=%d peak_heap_mib=%d", floodKeys, over, extra, peak>>20)
	if n := s.Len(); n > maxKeys {
		t.Errorf("the store holds %d entries; MaxKeys is %d", n, maxKeys)
	}
	if over != 0 || extra != 0 {
		t.Fatalf("under a flood of %d one-off keys: %d over-admissions of hot keys, %d extra leases; want 0 and 0", floodKeys, over, extra)
	}
}
