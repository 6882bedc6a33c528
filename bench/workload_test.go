package bench_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The numbers every contender is configured with.
const (
	// window is every limit's period: long enough that no token refills and no window
	// ends while a benchmark runs, so allowed and denied counts are exact.
	window = 1000 * time.Hour
	// allowLimit is the limit of allowed-heavy workloads: never reached.
	allowLimit = 1 << 40
	// hotDenyLimit is the hot key's limit in denied-heavy workloads: spent before the timer.
	hotDenyLimit = 1000
	// keysDenyLimit is each distinct key's limit in denied-heavy workloads.
	keysDenyLimit = 1
	// numKeys is the number of distinct keys (client addresses).
	numKeys = 100_000
)

// Answers of one request.
const (
	allowed = iota
	denied
	failed // an error or an unexpected status: the benchmark fails
)

// keys are numKeys distinct IPv4 client addresses; hotKey is the one hot client.
var (
	keys   = makeKeys(numKeys)
	hotKey = []string{"192.0.2.1"}
)

func makeKeys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
	}
	return ks
}

// workload is one row of the matrix: which keys, which mix, how many goroutines.
type workload struct {
	keys []string
	deny bool
	g    int
}

// name is the benchmark name part: wl=hot-allow/g=8.
func (w workload) name() string {
	k, m := "hot", "allow"
	if len(w.keys) > 1 {
		k = "keys"
	}
	if w.deny {
		m = "deny"
	}
	return fmt.Sprintf("wl=%s-%s/g=%d", k, m, w.g)
}

// limit is the limit a contender is built with for w.
func (w workload) limit() int64 {
	switch {
	case !w.deny:
		return allowLimit
	case len(w.keys) == 1:
		return hotDenyLimit
	}
	return keysDenyLimit
}

// workloads is the matrix every contender runs: allowed-heavy with 1, 8 and 64 goroutines,
// denied-heavy with 1 and 64 (8 adds little there and the run must stay short), each on the
// hot key and on the distinct keys.
func workloads() []workload {
	var ws []workload
	for _, ks := range [][]string{hotKey, keys} {
		for _, deny := range []bool{false, true} {
			gs := []int{1, 8, 64}
			if deny {
				gs = []int{1, 64}
			}
			for _, g := range gs {
				ws = append(ws, workload{keys: ks, deny: deny, g: g})
			}
		}
	}
	return ws
}

// worker answers requests for key i (an index into the workload's keys). Each goroutine gets
// its own worker, so a worker may reuse its request and response objects.
type worker func(i int) int

// target is one contender built for one workload.
type target struct {
	// newWorker returns a worker for one goroutine.
	newWorker func() worker
	// close releases the contender's goroutines and connections.
	close func()
}

// contender builds targets.
type contender struct {
	name string
	// hotOnly marks contenders without keys (x/time/rate's single limiter).
	hotOnly bool
	// allowOnly marks a bare framework (no limiter): it runs allowed-heavy workloads only.
	allowOnly bool
	// build returns a target whose every key has the given limit per window.
	build func(tb testing.TB, limit int64, keys []string) target
}

// runMatrix runs every contender on every workload as b.Run("wl=…/g=…/lib=NAME").
func runMatrix(b *testing.B, cs []contender) {
	for _, w := range workloads() {
		for _, c := range cs {
			if c.hotOnly && len(w.keys) > 1 || c.allowOnly && w.deny {
				continue
			}
			runOne(b, c, w)
		}
	}
}

// runOne builds c once for w (the rounds of one benchmark, and its -count runs, share it and
// its state), spends the limits of a denied-heavy workload before the timer, and checks every
// timed answer.
func runOne(b *testing.B, c contender, w workload) {
	var (
		t        *target
		start    time.Time
		prefills int64
	)
	b.Run(w.name()+"/lib="+c.name, func(b *testing.B) {
		if t == nil {
			tt := c.build(b, w.limit(), w.keys)
			t = &tt
			start = time.Now()
			if w.deny {
				prefills = prefill(b, c.name, t, w)
			}
		}
		b.ReportAllocs()
		ok, no, bad := drive(b, t, w)
		if bad > 0 {
			b.Fatalf("%s: %d of %d requests failed (error or unexpected status)", c.name, bad, b.N)
		}
		if !w.deny && no > 0 {
			b.Fatalf("%s: denied %d of %d requests under a limit (%d) they never reach", c.name, no, b.N, w.limit())
		}
		if w.deny && ok > 0 && !crossedWindow(start, time.Now()) {
			b.Fatalf("%s: allowed %d of %d requests after the limit (%d per key) was spent (%d allowed before)",
				c.name, ok, b.N, w.limit(), prefills)
		}
	})
	if t != nil {
		t.close()
	}
}

// crossedWindow reports whether an epoch-aligned window boundary lies between a and b, in
// which case a fixed window may rightly allow again.
func crossedWindow(a, b time.Time) bool {
	return a.UnixNano()/int64(window) != b.UnixNano()/int64(window)
}

// prefill spends every key's limit: exactly limit requests per key must be allowed, then the
// next one denied. Distinct keys are spent by 16 goroutines (each with its own worker), which
// keeps the Redis prefill short. It returns the number allowed.
func prefill(tb testing.TB, name string, t *target, w workload) int64 {
	tb.Helper()
	const par = 16
	var (
		wg    sync.WaitGroup
		n     atomic.Int64
		errMu sync.Mutex
		err   error
	)
	for p := 0; p < min(par, len(w.keys)); p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := t.newWorker()
			for i := p; i < len(w.keys); i += par {
				if e := spend(wk, i, w.keys[i], w.limit()); e != nil {
					errMu.Lock()
					err = e
					errMu.Unlock()
					return
				}
				n.Add(w.limit())
			}
		}()
	}
	wg.Wait()
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return n.Load()
}

// spend sends limit+1 requests for key i: all but the last must be allowed.
func spend(wk worker, i int, key string, limit int64) error {
	for j := int64(1); j <= limit+1; j++ {
		want := allowed
		if j > limit {
			want = denied
		}
		if a := wk(i); a != want {
			return fmt.Errorf("request %d of key %s got %s, want %s (limit %d per window)", j, key, answerName[a], answerName[want], limit)
		}
	}
	return nil
}

var answerName = [...]string{allowed: "allowed", denied: "denied", failed: "failed (error or unexpected status)"}

// drive sends b.N requests from w.g goroutines (SetParallelism rounds up to a multiple of
// GOMAXPROCS) spread over w.keys, and counts the answers.
func drive(b *testing.B, t *target, w workload) (ok, no, bad int64) {
	var counts [3]atomic.Int64
	n := len(w.keys)
	if w.g == 1 {
		wk := t.newWorker()
		b.ResetTimer()
		var c [3]int64
		for i := 0; i < b.N; i++ {
			c[wk(i%n)]++
		}
		b.StopTimer()
		return c[allowed], c[denied], c[failed]
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((w.g + procs - 1) / procs)
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		wk := t.newWorker()
		// Goroutines start at different keys, as different clients would.
		i := int(seq.Add(1)*7919) % n
		var c [3]int64
		for pb.Next() {
			c[wk(i)]++
			if i++; i == n {
				i = 0
			}
		}
		for k := range c {
			counts[k].Add(c[k])
		}
	})
	b.StopTimer()
	return counts[allowed].Load(), counts[denied].Load(), counts[failed].Load()
}

// addr returns "ip:port" for a key, as a connection's RemoteAddr.
func addr(key string, port int) string { return key + ":" + strconv.Itoa(port) }
