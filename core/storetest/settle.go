package storetest

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// SettleWorkload is one process's share of the multi-process settlement test: Goroutines
// callers each make Requests requests on one key; a request takes Estimate when it arrives
// ("reserve"), its handler then "runs" and its real cost is drawn uniformly from 0 to MaxCost,
// and the difference is settled with one Adjust (none when the estimate was right). All of
// it happens at one instant (At), so nothing refills and the limit is the whole budget.
type SettleWorkload struct {
	Policy     core.Policy
	Key        string
	Goroutines int
	Requests   int
	Estimate   int64
	MaxCost    int64
	Seed       int64
	At         time.Time
}

// SettleCounts is what a workload did; String and ParseSettleCounts carry it between
// processes.
type SettleCounts struct {
	Admitted, Denied int64 // requests
	Settled          int64 // the real cost of the admitted requests
	StoreRequests    int64 // Take and Adjust calls
}

// String formats c for a child process's output.
func (c SettleCounts) String() string {
	return fmt.Sprintf("settle-counts %d %d %d %d", c.Admitted, c.Denied, c.Settled, c.StoreRequests)
}

// ParseSettleCounts reads the line String wrote from a process's output.
func ParseSettleCounts(out string) (SettleCounts, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == "settle-counts" {
			var v [4]int64
			for i := range v {
				n, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return SettleCounts{}, err
				}
				v[i] = n
			}
			return SettleCounts{v[0], v[1], v[2], v[3]}, nil
		}
	}
	return SettleCounts{}, fmt.Errorf("storetest: no settle-counts line in %q", out)
}

// Add adds o to c.
func (c *SettleCounts) Add(o SettleCounts) {
	c.Admitted += o.Admitted
	c.Denied += o.Denied
	c.Settled += o.Settled
	c.StoreRequests += o.StoreRequests
}

// RunSettleWorkload runs w against s (one process's part).
func RunSettleWorkload(ctx context.Context, s AdjustStore, w SettleWorkload) (SettleCounts, error) {
	var mu sync.Mutex
	var total SettleCounts
	var wg sync.WaitGroup
	errs := make(chan error, w.Goroutines)
	for g := 0; g < w.Goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(w.Seed*1000 + int64(g)))
			var c SettleCounts
			for i := 0; i < w.Requests; i++ {
				d, err := s.Take(ctx, w.Key, w.Policy, w.Estimate, w.At)
				c.StoreRequests++
				if err != nil {
					errs <- err
					return
				}
				if !d.Allowed {
					c.Denied++
					continue
				}
				real := rng.Int63n(w.MaxCost + 1)
				if delta := real - w.Estimate; delta != 0 {
					if _, err := s.Adjust(ctx, w.Key, w.Policy, delta, w.At); err != nil {
						errs <- err
						return
					}
					c.StoreRequests++
				}
				c.Admitted++
				c.Settled += real
			}
			mu.Lock()
			total.Add(c)
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return total, err
	}
	return total, nil
}

// CheckSettle checks the totals of all processes' workloads against the bound
// core.Rule.Settle documents — settled cost ≤ Limit + K × (MaxCost − Estimate), K the
// callers in flight at once (every goroutine of every process) — and that the debt is
// honoured: at the same instant a further request is denied when more than the limit was
// settled, with a RetryAfter after which it is allowed. It logs:
//
//	settle: store=<name> algorithm=<a> limit=<L> settled_cost=<C> overshoot_bound=<B> store_requests_per_request=<r>
func CheckSettle(t *testing.T, store string, s AdjustStore, w SettleWorkload, inFlight int, c SettleCounts) {
	t.Helper()
	limit := w.Policy.Capacity()
	bound := limit + int64(inFlight)*(w.MaxCost-w.Estimate)
	perReq := float64(c.StoreRequests) / float64(max(c.Admitted+c.Denied, 1))
	t.Logf("settle: store=%s algorithm=%s limit=%d settled_cost=%d overshoot_bound=%d store_requests_per_request=%.2f",
		store, skewName(w.Policy.Algorithm), limit, c.Settled, bound, perReq)
	if c.Settled > bound {
		t.Fatalf("settled cost %d > limit %d + overshoot bound: %d", c.Settled, limit, bound)
	}
	if c.Admitted == 0 || c.Denied == 0 {
		t.Fatalf("admitted %d, denied %d: the workload must both spend the budget and hit the limit", c.Admitted, c.Denied)
	}
	if c.Settled < limit-w.MaxCost*int64(inFlight) {
		t.Fatalf("settled cost %d far below the limit %d: the store lost allowance", c.Settled, limit)
	}
	ctx := context.Background()
	d, err := s.Take(ctx, w.Key, w.Policy, 1, w.At)
	if err != nil {
		t.Fatal(err)
	}
	if c.Settled >= limit && d.Allowed {
		t.Fatalf("settled %d of %d, yet a further request at the same instant was allowed: the debt is not honoured", c.Settled, limit)
	}
	if !d.Allowed {
		if d.RetryAfter <= 0 {
			t.Fatalf("denied in debt with RetryAfter %v", d.RetryAfter)
		}
		later, err := s.Take(ctx, w.Key, w.Policy, 1, w.At.Add(d.RetryAfter))
		if err != nil {
			t.Fatal(err)
		}
		if !later.Allowed {
			t.Fatalf("still denied at the debt's RetryAfter (%v): %+v", d.RetryAfter, later)
		}
	}
}
