package backoff_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// The simulation follows AWS's "Exponential Backoff And Jitter" study: N
// clients start together and each must update one shared object once with
// compare-and-swap (an S3 If-Match PUT or a DynamoDB conditional update). An
// attempt reads the version at its start and commits simLatency later; it
// wins if nobody committed in between, otherwise the client backs off and
// tries again. Time is virtual (a discrete-event queue), so a run takes
// microseconds and is exactly reproducible from its seed.
const (
	simLatency = 20 * time.Millisecond // one CAS round trip
	simSeeds   = 20                    // runs averaged per row
)

var simClients = []int{10, 25, 50, 100}

var simJitters = []backoff.Jitter{backoff.NoJitter, backoff.FullJitter, backoff.EqualJitter, backoff.DecorrelatedJitter}

type simResult struct {
	calls      int           // CAS attempts, the successful ones included
	completion time.Duration // when the last client succeeded
}

type simEvent struct {
	at      time.Duration
	seq     int
	client  int
	version int // version read at the attempt's start
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simulate runs one contention episode. Policy is the zero value (Base 25ms,
// Cap 2s) with the given jitter and a seeded source.
func simulate(clients int, jitter backoff.Jitter, seed uint64) simResult {
	p := backoff.Policy{Jitter: jitter, Rand: rand.New(rand.NewPCG(seed, uint64(clients))).Float64}
	var (
		q       simQueue
		seq     int
		version int
		res     simResult
	)
	failures := make([]int, clients)
	prev := make([]time.Duration, clients)
	start := func(c int, at time.Duration) {
		res.calls++
		seq++
		// The commit event carries the version read at the start; commits
		// are the only events, so reads need no event of their own.
		heap.Push(&q, simEvent{at: at + simLatency, seq: seq, client: c, version: version})
	}
	// All clients start at 0, so every read sees version 0: the herd.
	for c := 0; c < clients; c++ {
		start(c, 0)
	}
	// Reads at time t must see commits at t; process commits before the
	// starts they schedule by scheduling starts as separate pending work.
	type pending struct {
		at     time.Duration
		client int
	}
	var starts []pending
	for q.Len() > 0 || len(starts) > 0 {
		// Start every attempt due before the next commit.
		for len(starts) > 0 {
			next := -1
			for i, s := range starts {
				if next < 0 || s.at < starts[next].at {
					next = i
				}
			}
			if q.Len() > 0 && q[0].at <= starts[next].at {
				break
			}
			s := starts[next]
			starts = append(starts[:next], starts[next+1:]...)
			start(s.client, s.at)
		}
		if q.Len() == 0 {
			continue
		}
		e := heap.Pop(&q).(simEvent)
		if e.version == version {
			version++
			res.completion = max(res.completion, e.at)
			continue
		}
		d := p.NextDelay(failures[e.client], prev[e.client])
		failures[e.client]++
		prev[e.client] = d
		starts = append(starts, pending{at: e.at + d, client: e.client})
	}
	return res
}

// simTable averages simSeeds runs per (clients, jitter) pair.
func simTable() map[int]map[backoff.Jitter]simResult {
	out := map[int]map[backoff.Jitter]simResult{}
	for _, n := range simClients {
		out[n] = map[backoff.Jitter]simResult{}
		for _, j := range simJitters {
			var sum simResult
			for s := uint64(1); s <= simSeeds; s++ {
				r := simulate(n, j, s)
				sum.calls += r.calls
				sum.completion += r.completion
			}
			out[n][j] = simResult{calls: sum.calls / simSeeds, completion: sum.completion / simSeeds}
		}
	}
	return out
}

func formatSimTable(t map[int]map[backoff.Jitter]simResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-13s %8s %12s\n", "clients", "jitter", "calls", "completion")
	for _, n := range simClients {
		for _, j := range simJitters {
			r := t[n][j]
			fmt.Fprintf(&b, "%-8d %-13s %8d %12v\n", n, j, r.calls, r.completion.Round(time.Millisecond))
		}
	}
	return b.String()
}

// TestSimulation prints the table quoted in doc.go:
//
//	go test -run TestSimulation -v ./core/backoff/
func TestSimulation(t *testing.T) {
	table := simTable()
	t.Logf("CAS contention, %v per attempt, zero Policy (Base %v, Cap %v), mean of %d seeds:\n%s",
		simLatency, backoff.DefaultBase, backoff.DefaultCap, simSeeds, formatSimTable(table))
	for _, n := range simClients {
		none, full := table[n][backoff.NoJitter], table[n][backoff.FullJitter]
		if full.calls >= none.calls {
			t.Errorf("%d clients: full jitter made %d calls, no jitter %d; want full jitter to need fewer", n, full.calls, none.calls)
		}
		// Without jitter the clients move as one herd: one winner per round.
		if want := n * (n + 1) / 2; none.calls != want {
			t.Errorf("%d clients: no jitter made %d calls, want n(n+1)/2 = %d", n, none.calls, want)
		}
	}
}

// TestSimulationDeterministic: the same seed gives the same run.
func TestSimulationDeterministic(t *testing.T) {
	a, b := simulate(50, backoff.FullJitter, 7), simulate(50, backoff.FullJitter, 7)
	if a != b {
		t.Errorf("two runs with seed 7: %+v and %+v, want equal", a, b)
	}
}

func BenchmarkSimulation(b *testing.B) {
	for _, j := range simJitters {
		b.Run(j.String(), func(b *testing.B) {
			b.ReportAllocs()
			var calls int
			for i := 0; i < b.N; i++ {
				calls += simulate(100, j, uint64(i)).calls
			}
			b.ReportMetric(float64(calls)/float64(b.N), "calls/episode")
		})
	}
}
