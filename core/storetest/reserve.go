package storetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// ReserveWorkload is one process's share of the multi-process reservations test: Goroutines
// callers hammer one key through a core.Limiter whose only limit reserves batches
// (core.Rule.Reserve), for Duration, on a clock that starts at Start and runs at real speed
// (so the batch rule sees real rates). Every process of a run gets the same Start, so their
// clocks differ only by when each process began.
type ReserveWorkload struct {
	Policy     core.Policy
	Key        string
	Goroutines int
	Duration   time.Duration
	Start      time.Time
	Reserve    core.Reservations
	// Stop, when non-nil, is closed to end the workload early (a process about to be
	// killed stops nothing: it is killed).
	Stop <-chan struct{}
}

// ReserveCounts is what a workload did; String and ParseReserveCounts carry it between
// processes.
type ReserveCounts struct {
	Admitted, Decisions int64
	StoreRequests       int64 // as the store's own counter reported
	First, Last         int64 // the earliest and latest clock readings, Unix ns
	// LastDenied is the latest clock reading of a denied decision, Unix ns (0: none): demand
	// went unmet up to it. Allowance that accrues after it, while goroutines a loaded machine
	// starves take no decisions, is not stranded by the reservations.
	LastDenied int64
}

// String formats c for a child process's output.
func (c ReserveCounts) String() string {
	return fmt.Sprintf("reserve-counts %d %d %d %d %d %d", c.Admitted, c.Decisions, c.StoreRequests, c.First, c.Last, c.LastDenied)
}

// ParseReserveCounts reads the line String wrote from a process's output.
func ParseReserveCounts(out string) (ReserveCounts, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && f[0] == "reserve-counts" {
			var v [6]int64
			for i := range v {
				n, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return ReserveCounts{}, err
				}
				v[i] = n
			}
			return ReserveCounts{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
		}
	}
	return ReserveCounts{}, fmt.Errorf("storetest: no reserve-counts line in %q", out)
}

// Add adds o to c (First and Last widen).
func (c *ReserveCounts) Add(o ReserveCounts) {
	c.Admitted += o.Admitted
	c.Decisions += o.Decisions
	c.StoreRequests += o.StoreRequests
	if c.First == 0 || o.First != 0 && o.First < c.First {
		c.First = o.First
	}
	c.Last = max(c.Last, o.Last)
	c.LastDenied = max(c.LastDenied, o.LastDenied)
}

// RunReserveWorkload runs w against s; requests reports how many requests the store's backend
// has received so far (reads included), from the store package's own counting client. It
// gives back the unspent batches (core.Limiter.Close) before it returns.
func RunReserveWorkload(ctx context.Context, s core.Store, requests func() int64, w ReserveWorkload) (ReserveCounts, error) {
	begin := time.Now()
	clock := func() time.Time { return w.Start.Add(time.Since(begin)) }
	rc := w.Reserve
	l, err := core.NewLimiter(core.Config{Store: s, Now: clock, Key: core.KeyStatic(w.Key), Timeout: 2 * time.Second,
		Failure: core.FailClosed, Rules: []core.Rule{{Policy: w.Policy, Reserve: &rc}}})
	if err != nil {
		return ReserveCounts{}, err
	}
	before := requests()
	var admitted, decisions atomic.Int64
	var first, last, lastDenied atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, w.Goroutines)
	for g := 0; g < w.Goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(begin) < w.Duration {
				select {
				case <-w.Stop:
					return
				default:
				}
				now := clock()
				first.CompareAndSwap(0, now.UnixNano())
				res, err := l.AllowKeyAt(ctx, w.Key, 1, now)
				if err != nil {
					errs <- err
					return
				}
				last.Store(max(last.Load(), now.UnixNano()))
				decisions.Add(1)
				if res.Allowed {
					admitted.Add(1)
				} else {
					for {
						old := lastDenied.Load()
						if now.UnixNano() <= old || lastDenied.CompareAndSwap(old, now.UnixNano()) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return ReserveCounts{}, err
	}
	if err := l.Close(ctx); err != nil {
		return ReserveCounts{}, err
	}
	return ReserveCounts{Admitted: admitted.Load(), Decisions: decisions.Load(), StoreRequests: requests() - before,
		First: first.Load(), Last: last.Load(), LastDenied: lastDenied.Load()}, nil
}

// ReserveBounds returns, for a run whose clock readings spanned [first, last], the most the
// policy allows (L: Limit × the windows the clocks entered, or for a token bucket Burst + the
// span's refill) and the documented under-admission bound for that many processes (U: one
// batch of at most MaxBatch per process per window; for a token bucket, one per process, as
// its batches never expire).
func ReserveBounds(w ReserveWorkload, processes int, first, last int64) (most, under int64) {
	p := w.Policy
	maxBatch := w.Reserve.MaxBatch
	if maxBatch <= 0 {
		maxBatch = max(p.Capacity()/16, 1)
	}
	if p.Algorithm == core.TokenBucket {
		return p.Capacity() + (last-first)/int64(p.EmissionInterval()) + 1, int64(processes) * maxBatch
	}
	s1, _ := p.WindowBounds(first)
	s2, _ := p.WindowBounds(last)
	windows := (s2-s1)/int64(p.Window) + 1
	return p.Limit * windows, int64(processes) * maxBatch * windows
}

// CheckReserve checks a run's totals: admitted ≤ L always (nothing unreserved is admitted),
// admitted ≥ L − U − slack when the offered load exceeds the limit (slack: allowance that
// simply was not asked for, such as a sliding window's decay at the run's edges, given by the
// caller), and logs:
//
//	reservations: store=<name> algorithm=<a> processes=<n> limit=<L> admitted=<A> under_bound=<U> store_requests=<R> decisions=<D>
func CheckReserve(t *testing.T, store string, w ReserveWorkload, processes int, c ReserveCounts, slack int64) {
	t.Helper()
	most, under := ReserveBounds(w, processes, c.First, c.Last)
	t.Logf("reservations: store=%s algorithm=%s processes=%d limit=%d admitted=%d under_bound=%d store_requests=%d decisions=%d",
		store, w.Policy.Algorithm, processes, most, c.Admitted, under, c.StoreRequests, c.Decisions)
	if c.Admitted > most {
		t.Fatalf("admitted %d > %d, the most the policy allows over the run: reservations over-admitted", c.Admitted, most)
	}
	// Under-admission counts the allowance up to the last denial: after it no demand went
	// unmet (a goroutine descheduled between its loop check and its clock reading reads a time
	// well past the others' on a loaded machine, and the refill up to it had no taker).
	demanded := most
	if c.LastDenied != 0 {
		demanded, _ = ReserveBounds(w, processes, c.First, c.LastDenied)
	}
	if c.Decisions > c.Admitted*2 && c.Admitted < demanded-under-slack {
		t.Fatalf("admitted %d < %d - %d (under-admission bound) - %d: more allowance was stranded than the bound allows", c.Admitted, demanded, under, slack)
	}
}
