package s3store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestRequestsPerDecision proves the request counts the package documentation quotes, with
// a client that counts calls.
func TestRequestsPerDecision(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			t.Run("CASUncontended", func(t *testing.T) { casUncontended(t, b) })
			t.Run("CASCachedDenials", func(t *testing.T) { casCachedDenials(t, b) })
			t.Run("CASContended", func(t *testing.T) { casContended(t, b) })
			t.Run("MarkerUncontended", func(t *testing.T) { markerRequests(t, b) })
		})
	}
}

// measure returns the requests api made during fn.
func measure(api *counting, fn func()) int64 {
	before := api.total()
	fn()
	return api.total() - before
}

func casUncontended(t *testing.T, b backendS3) {
	api := &counting{API: b.client}
	s := newStore(t, api, s3store.Config{Bucket: b.bucket})
	now := time.Now()
	for _, p := range []core.Policy{
		core.NewFixedWindow(uniq("req-fw"), 1000, time.Hour),
		core.NewSlidingWindow(uniq("req-sw"), 1000, time.Hour),
		core.NewTokenBucket(uniq("req-tb"), 1000, time.Hour, 1000),
	} {
		take := func() {
			if d, err := s.Take(ctx30(t), "k", p, 1, now); err != nil || !d.Allowed {
				t.Fatalf("%s: Take: %+v, %v", p.Name, d, err)
			}
		}
		if n := measure(api, take); n != 2 {
			t.Errorf("%s: first decision on a new key: %d requests, want 2 (GET 404, PUT If-None-Match)", p.Name, n)
		}
		const decisions = 20
		n := measure(api, func() {
			for i := 0; i < decisions; i++ {
				take()
			}
		})
		puts := api.puts.Load()
		peek := measure(api, func() {
			if d, err := s.Take(ctx30(t), "k", p, 0, now); err != nil || !d.Allowed {
				t.Fatalf("%s: peek: %+v, %v", p.Name, d, err)
			}
		})
		if peek != 1 || api.puts.Load() != puts {
			t.Errorf("%s: a cost-0 peek cost %d requests (%s), want one conditional GET and no PUT", p.Name, peek, api)
		}
		t.Logf("%s: %d uncontended decisions: %d requests (%.2f per decision); a peek: %d", p.Algorithm, decisions, n, float64(n)/decisions, peek)
		if n != decisions {
			t.Errorf("%s: %d uncontended decisions cost %d requests, want %d (one PUT If-Match each)", p.Name, decisions, n, decisions)
		}
	}
	// Leases: acquire and release are one request each once the key is known.
	p := core.NewConcurrency(uniq("req-sem"), 2, time.Minute)
	if _, err := s.Acquire(ctx30(t), "k", p, "warm", now); err != nil {
		t.Fatal(err)
	}
	n := measure(api, func() {
		for i := 0; i < 10; i++ {
			id := fmt.Sprint("l", i)
			if d, err := s.Acquire(ctx30(t), "k", p, id, now); err != nil || !d.Allowed {
				t.Fatalf("Acquire %s: %+v, %v", id, d, err)
			}
			if err := s.Release(ctx30(t), "k", p, id, now); err != nil {
				t.Fatalf("Release %s: %v", id, err)
			}
		}
	})
	t.Logf("concurrency: 10 acquire+release pairs: %d requests", n)
	if n != 20 {
		t.Errorf("10 uncontended acquire+release pairs cost %d requests, want 20", n)
	}
}

func casCachedDenials(t *testing.T, b backendS3) {
	api := &counting{API: b.client}
	s := newStore(t, api, s3store.Config{Bucket: b.bucket})
	p := core.NewFixedWindow(uniq("req-deny"), 3, time.Hour)
	now := time.Now()
	for i := 0; i < 3; i++ {
		if _, err := s.Take(ctx30(t), "k", p, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	// The store alone confirms each denial with a conditional GET (a 304, no body).
	n := measure(api, func() {
		for i := 0; i < 5; i++ {
			if d, err := s.Take(ctx30(t), "k", p, 1, now); err != nil || d.Allowed {
				t.Fatalf("Take over the limit: %+v, %v; want a denial", d, err)
			}
		}
	})
	if n != 5 || api.puts.Load() != 3 {
		t.Errorf("5 denials from the store: %d requests (%s), want 5 GETs and no PUT beyond the 3 before", n, api)
	}
	// Through a limiter, its denial cache answers repeated denials without the store.
	lim, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: p}}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := lim.AllowKeyAt(ctx30(t), "k", 1, now); err != nil || res.Allowed {
		t.Fatalf("limiter: first denial: %+v, %v", res, err)
	}
	const flood = 1000
	n = measure(api, func() {
		for i := 0; i < flood; i++ {
			if res, err := lim.AllowKeyAt(ctx30(t), "k", 1, now.Add(time.Duration(i)*time.Millisecond)); err != nil || res.Allowed {
				t.Fatalf("limiter: denial %d: %+v, %v", i, res, err)
			}
		}
	})
	t.Logf("denials: 1 request each from the store alone (conditional GET, 304); %d cached denials through core.Limiter: %d requests", flood, n)
	if n != 0 {
		t.Errorf("%d cached denials through core.Limiter cost %d requests, want 0", flood, n)
	}
}

func casContended(t *testing.T, b backendS3) {
	const stores, perStore, takes = 4, 8, 10
	p := core.NewFixedWindow(uniq("req-hot"), 1_000_000, time.Hour)
	now := time.Now()
	run := func(stores int) (decisions, requests int64) {
		apis := make([]*counting, stores)
		var wg sync.WaitGroup
		for i := range apis {
			apis[i] = &counting{API: b.client}
			s := newStore(t, apis[i], s3store.Config{Bucket: b.bucket})
			// Warm the cache, as a running instance would be.
			if _, err := s.Take(ctx30(t), "hot", p, 1, now); err != nil {
				t.Fatal(err)
			}
			apis[i].gets.Store(0)
			apis[i].puts.Store(0)
			for g := 0; g < perStore; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := 0; k < takes; k++ {
						if d, err := s.Take(ctx30(t), "hot", p, 1, now); err != nil || !d.Allowed {
							t.Errorf("Take: %+v, %v", d, err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		for _, a := range apis {
			requests += a.total()
			t.Logf("store: %s", a)
		}
		return int64(stores * perStore * takes), requests
	}
	d, r := run(1)
	t.Logf("1 store × %d goroutines on one key: %d decisions, %d requests (%.2f per decision)", perStore, d, r, float64(r)/float64(d))
	if r != d {
		t.Errorf("one store, %d goroutines on one key: %d requests for %d decisions; want one each (goroutines take turns locally)", perStore, r, d)
	}
	d, r = run(stores)
	t.Logf("%d stores × %d goroutines on one key: %d decisions, %d requests (%.2f per decision)", stores, perStore, d, r, float64(r)/float64(d))
	if r < d {
		t.Errorf("%d requests for %d decisions: fewer than one each is impossible", r, d)
	}
}

func markerRequests(t *testing.T, b backendS3) {
	api := &counting{API: b.client}
	s := newStore(t, api, s3store.Config{Bucket: b.bucket, Mode: s3store.Marker})
	p := core.NewFixedWindow(uniq("req-marker"), 64, time.Hour)
	now := time.Now()
	take := func(want bool) {
		t.Helper()
		if d, err := s.Take(ctx30(t), "k", p, 1, now); err != nil || d.Allowed != want {
			t.Fatalf("Take: %+v, %v; want allowed=%v", d, err, want)
		}
	}
	n := measure(api, func() {
		for i := 0; i < 40; i++ {
			take(true)
		}
	})
	t.Logf("marker: 40 uncontended decisions: %s (%.2f per decision)", api, float64(n)/40)
	if n != 40 || api.heads.Load() != 0 {
		t.Errorf("marker: 40 uncontended decisions: %d requests (%s), want 40 PUTs", n, api)
	}
	// A second instance with a cold cache finds the boundary by search: O(log L) HEADs.
	api2 := &counting{API: b.client}
	s2 := newStore(t, api2, s3store.Config{Bucket: b.bucket, Mode: s3store.Marker})
	if d, err := s2.Take(ctx30(t), "k", p, 1, now); err != nil || !d.Allowed || d.Remaining != 64-41 {
		t.Fatalf("cold instance: %+v, %v; want allowed with remaining 23", d, err)
	}
	t.Logf("marker: a cold instance's first decision at slot 40 of 64: %s", api2)
	if api2.heads.Load() > 2*7 || api2.puts.Load() != 2 {
		t.Errorf("cold instance: %s; want 2 PUTs (slot 0 refused, then the boundary) and at most 2·log2(64)+2 HEADs", api2)
	}
	for i := 41; i < 64; i++ {
		take(true)
	}
	take(false)
	n = measure(api, func() {
		for i := 0; i < 100; i++ {
			take(false)
		}
	})
	if n != 0 {
		t.Errorf("marker: 100 decisions on a window known to be full: %d requests, want 0", n)
	}
}

// TestRequestsPerAdjust counts S3 requests per Adjust in compare-and-swap mode, through the
// counting client: one If-Match PUT on a key this process knows (charges, and refunds
// within what was spent), the settlement of a request (a Take of the estimate, an Adjust
// when the real cost differs), and the cases that cost otherwise. Every decision is also
// checked against core's pure algorithm.
func TestRequestsPerAdjust(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			now := time.Now().Truncate(time.Hour).Add(time.Minute)
			for _, p := range []core.Policy{
				core.NewFixedWindow(uniq("adj-fw"), 1000, time.Hour),
				core.NewSlidingWindow(uniq("adj-sw"), 1000, time.Hour),
				core.NewTokenBucket(uniq("adj-tb"), 1, time.Hour, 1000),
			} {
				t.Run(p.Algorithm.String(), func(t *testing.T) {
					api := &counting{API: b.client}
					s := newStore(t, api, s3store.Config{Bucket: b.bucket})
					var st storekit.State
					check := func(what string, got core.Decision, err error, want core.Decision) {
						t.Helper()
						if err != nil {
							t.Fatalf("%s: %v", what, err)
						}
						sameDecision(t, what, got, want)
					}
					take := func(cost int64) {
						var want core.Decision
						st, want = storekit.Take(p, st, cost, now.UnixNano())
						got, err := s.Take(ctx30(t), "k", p, cost, now)
						check(fmt.Sprintf("take %d", cost), got, err, want)
					}
					adjust := func(key string, st *storekit.State, delta int64) {
						var want core.Decision
						*st, want = storekit.Adjust(p, *st, delta, now.UnixNano())
						got, err := s.Adjust(ctx30(t), key, p, delta, now)
						check(fmt.Sprintf("adjust %+d", delta), got, err, want)
					}
					var fresh storekit.State
					if n := measure(api, func() { adjust("fresh", &fresh, 4) }); n != 2 {
						t.Errorf("an Adjust on a key this process has not seen: %d requests (%s), want 2 (GET 404, PUT)", n, api)
					}
					take(10)

					const adjusts = 20
					puts := api.puts.Load()
					n := measure(api, func() {
						for i := 0; i < adjusts; i++ {
							adjust("k", &st, []int64{7, -3, 12, -5}[i%4])
						}
					})
					t.Logf("%s: %d adjustments (charges and refunds) on a known key: %d requests, %d of them PUT (%.2f per Adjust)",
						p.Algorithm, adjusts, n, api.puts.Load()-puts, float64(n)/adjusts)
					if n != adjusts || api.puts.Load()-puts != adjusts {
						t.Errorf("%d adjustments took %d requests (%s); want one If-Match PUT each", adjusts, n, api)
					}

					const requests = 12
					settled := 0
					n = measure(api, func() {
						for i := 0; i < requests; i++ {
							take(5)
							if delta := []int64{0, 4, -2}[i%3]; delta != 0 {
								adjust("k", &st, delta)
								settled++
							}
						}
					})
					t.Logf("%s: %d requests reserving 5, %d settled at another cost: %d requests (1 when the estimate was right, 2 otherwise)",
						p.Algorithm, requests, settled, n)
					if n != int64(requests+settled) {
						t.Errorf("%d requests with %d settlements took %d S3 requests; want %d", requests, settled, n, requests+settled)
					}

					// A refund of more than was spent is one PUT too; a refund of a key that
					// spent nothing changes nothing, confirmed with a conditional GET (304).
					if n := measure(api, func() { adjust("k", &st, -100_000) }); n != 1 {
						t.Errorf("a refund of more than was spent: %d requests; want 1", n)
					}
					gets, puts := api.gets.Load(), api.puts.Load()
					adjust("k", &st, -1)
					if api.gets.Load()-gets != 1 || api.puts.Load() != puts {
						t.Errorf("a refund of a key with nothing spent: %d GET, %d PUT; want one conditional GET and no PUT", api.gets.Load()-gets, api.puts.Load()-puts)
					}
				})
			}
		})
	}
}
