// Package reservetest runs the multi-process reservations test (core.Rule.Reserve) that
// core/redisstore, core/dynamostore and core/s3store share: the parent spawns Procs processes
// of the store package's test binary (internal/testenv.SpawnChildren, child "reserve"), each
// child builds its store and calls ChildRun, and the parent checks the totals with
// storetest.CheckReserve (the reservations: line), at most 0.05 store requests per admitted
// request, and, with one process killed mid-window, at most one batch stranded.
package reservetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storetest"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The reservations runs (core.Rule.Reserve): 4 OS processes × 16 goroutines hammer one key of a
// store through storetest.RunReserveWorkload for duration,
// on clocks that start together at a window boundary. The limit is per second, so a run spans
// 3 windows (the last one three quarters long) or 2.75 s of a bucket's refill; the goroutines
// offer far more than the limit, mostly answered locally.
const (
	Procs      = 4
	Goroutines = 16
	duration   = 2750 * time.Millisecond
	window     = time.Second
	limit      = 5000 // per reserveWindow
	maxBatch   = 300
)

// workload is one process's share of a reservations run of alg on policy name.
func workload(alg, name string, start time.Time) storetest.ReserveWorkload {
	var p core.Policy
	switch alg {
	case "sliding-window":
		p = core.NewSlidingWindow(name, limit, window)
	case "token-bucket":
		p = core.NewTokenBucket(name, limit, window, limit)
	default:
		p = core.NewFixedWindow(name, limit, window)
	}
	return storetest.ReserveWorkload{Policy: p, Key: "hot", Goroutines: Goroutines, Duration: duration,
		Start: start, Reserve: core.Reservations{MaxBatch: maxBatch}}
}

// slack is the allowance a run may leave unasked for besides the under-admission bound
// (storetest.CheckReserve): a sliding window's first window counts for a whole limit in L,
// but while the previous window's count decays in the next one, only part of the allowance
// of the run's span is reachable (as in memstore's run); a token bucket's allowance accrues
// in the store until a whole batch is there, so up to one batch may wait there when the run
// ends.
func slack(p core.Policy) int64 {
	switch p.Algorithm {
	case core.SlidingWindow:
		return p.Limit
	case core.TokenBucket:
		return maxBatch
	}
	return 0
}

// Across runs one reservations run of alg across Procs processes of this test
// binary (env: what the children need to reach the store) and checks it. With kill, the
// parent kills process 0 (SIGKILL) while it holds a batch of the second window.
func Across(t *testing.T, store, alg string, kill bool, env ...string) {
	t.Helper()
	name := testenv.UniqueName("reserve-" + alg)
	// The clocks start at a window boundary: the children leave a barrier together and each
	// runs its clock from start at real speed.
	start := time.Now().Truncate(window).Add(window)
	w := workload(alg, name, start)
	env = append(env, "TG_RES_ALG="+alg, "TG_RES_POLICY="+name,
		"TG_RES_START="+strconv.FormatInt(start.UnixNano(), 10), "TG_RES_BARRIER="+t.TempDir())
	var total storetest.ReserveCounts
	var outs []string
	if kill {
		var victim storetest.ReserveCounts
		outs, victim = spawnWithVictim(t, env)
		t.Logf("process 0 (killed mid-window): admitted %d, decisions at least %d, %d store requests",
			victim.Admitted, victim.Decisions, victim.StoreRequests)
		total.Add(victim)
	} else {
		outs = testenv.SpawnChildren(t, Procs, "reserve", env...)
	}
	for i, out := range outs {
		c, err := storetest.ParseReserveCounts(out)
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		if kill {
			i++
		}
		t.Logf("process %d: admitted %d of %d decisions, %d store requests", i, c.Admitted, c.Decisions, c.StoreRequests)
		total.Add(c)
	}
	storetest.CheckReserve(t, store, w, Procs, total, slack(w.Policy))
	most, under := storetest.ReserveBounds(w, Procs, total.First, total.Last)
	perAdmitted := float64(total.StoreRequests) / float64(max(total.Admitted, 1))
	t.Logf("%s %s: %.4f store requests per admitted request; stranded or not asked for: %d (L - A) of the bound %d + slack %d",
		store, alg, perAdmitted, most-total.Admitted, under, slack(w.Policy))
	if total.Admitted < 1000 {
		t.Fatalf("admitted %d: the run must admit thousands for its ratio to mean anything", total.Admitted)
	}
	if kill && most-total.Admitted > maxBatch+1 {
		// The survivors spend each window down to its last unit (offered far more than the
		// limit), so what is missing is the killed process's: one batch (of at most
		// MaxBatch after its request's unit; MaxBatch + 1 if it died with the reservation
		// in flight).
		t.Errorf("%d of the limit not admitted with one process killed: want at most the killed process's batch, %d",
			most-total.Admitted, maxBatch+1)
	}
	if !kill && perAdmitted > 0.05 {
		t.Errorf("%d store requests for %d admitted requests (%.4f): want at most 0.05 per admitted request",
			total.StoreRequests, total.Admitted, perAdmitted)
	}
}

// spawnWithVictim starts Procs children like testenv.SpawnChildren; process 0 is the
// victim (TG_RES_VICTIM=1), which the parent kills with SIGKILL as soon as it reports holding
// a batch of the second window (runVictim). It returns the other
// processes' outputs and what the victim did before it died: each admission and each store
// request is a line of its own, written as it happens (a killed process prints no totals), so
// an admission counts if the victim lived to report it; its decisions, reported every 10 ms,
// are a lower bound.
func spawnWithVictim(t *testing.T, env []string) (survivors []string, victim storetest.ReserveCounts) {
	t.Helper()
	cmds := make([]*exec.Cmd, Procs)
	stdouts := make([]bytes.Buffer, Procs)
	stderrs := make([]bytes.Buffer, Procs)
	var pipe *bufio.Scanner
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), "TOLLGATE_TEST_CHILD=reserve", fmt.Sprintf("TOLLGATE_CHILD_INDEX=%d", i)), env...)
		cmd.Stderr = &stderrs[i]
		if i == 0 {
			cmd.Env = append(cmd.Env, "TG_RES_VICTIM=1")
			r, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			pipe = bufio.NewScanner(r)
		} else {
			cmd.Stdout = &stdouts[i]
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child %d: %v", i, err)
		}
		cmds[i] = cmd
	}
	killed := false
	for pipe.Scan() {
		line := pipe.Text()
		switch {
		case line == "ready" && !killed:
			if err := cmds[0].Process.Kill(); err != nil { // SIGKILL
				t.Errorf("kill process 0: %v", err)
			}
			killed = true
		case line == "a":
			victim.Admitted++
		case line == "r":
			victim.StoreRequests++
		case strings.HasPrefix(line, "d "):
			victim.Decisions, _ = strconv.ParseInt(line[2:], 10, 64)
		}
	}
	victim.Decisions = max(victim.Decisions, victim.Admitted)
	err := cmds[0].Wait()
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("process 0 ended with %v (killed: %v): want it killed by SIGKILL mid-run; stderr: %s", err, killed, stderrs[0].String())
	}
	for i := 1; i < Procs; i++ {
		if err := cmds[i].Wait(); err != nil {
			t.Errorf("process %d: %v: %s", i, err, strings.TrimSpace(stderrs[i].String()))
		}
		survivors = append(survivors, stdouts[i].String())
	}
	if t.Failed() {
		t.FailNow()
	}
	return survivors, victim
}

// Announce returns, in the victim process, a function that writes "r" for each store
// request (called before the request is sent); nil elsewhere.
func Announce() func() {
	if os.Getenv("TG_RES_VICTIM") != "1" {
		return nil
	}
	return func() { _, _ = os.Stdout.WriteString("r\n") }
}

// ChildRun is the store-independent part of a child: it waits at the barrier for the
// other processes, then runs the workload (storetest.RunReserveWorkload, requests counting
// what the store's backend received) and returns its counts, or, in the victim, runs until
// it is killed.
func ChildRun(s core.Store, requests func() int64) (string, error) {
	ns, err := strconv.ParseInt(os.Getenv("TG_RES_START"), 10, 64)
	if err != nil {
		return "", fmt.Errorf("TG_RES_START: %w", err)
	}
	w := workload(os.Getenv("TG_RES_ALG"), os.Getenv("TG_RES_POLICY"), time.Unix(0, ns))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := barrier(os.Getenv("TG_RES_BARRIER")); err != nil {
		return "", err
	}
	if os.Getenv("TG_RES_VICTIM") == "1" {
		return "", runVictim(ctx, s, w)
	}
	c, err := storetest.RunReserveWorkload(ctx, s, requests, w)
	if err != nil {
		return "", err
	}
	return c.String() + "\n", nil
}

// barrier makes the processes start together: each leaves a file in dir and waits
// until all Procs have (polling: they are separate processes).
func barrier(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "ready-"+os.Getenv("TOLLGATE_CHILD_INDEX")), nil, 0o600); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		es, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(es) >= Procs {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("barrier: %d of %d processes after 30 s", len(es), Procs)
		}
		time.Sleep(time.Millisecond)
	}
}

// runVictim is storetest.RunReserveWorkload's loop (the same limiter, clock and callers) for
// the process the parent kills: it writes "a" for each admission as it happens and its
// decisions so far every 10 ms ("d N"). With its 100th admission in the second window (its
// batches there have grown with its rate; the fleet admits about 1,250 per process per
// window), or 600 ms into that window if the others took most of it, it writes "ready" and
// its callers stop (the process goes idle, then dies): it
// holds what is left of its current batch, of up to MaxBatch, which it will neither spend nor
// give back.
func runVictim(ctx context.Context, s core.Store, w storetest.ReserveWorkload) error {
	begin := time.Now()
	clock := func() time.Time { return w.Start.Add(time.Since(begin)) }
	rc := w.Reserve
	l, err := core.NewLimiter(core.Config{Store: s, Now: clock, Key: core.KeyStatic(w.Key), Timeout: 2 * time.Second,
		Failure: core.FailClosed, Rules: []core.Rule{{Policy: w.Policy, Reserve: &rc}}})
	if err != nil {
		return err
	}
	second := w.Start.Add(window)
	end, cancel := context.WithDeadline(ctx, begin.Add(w.Duration)) // the run's end, if not killed
	defer cancel()
	var decisions, inSecond atomic.Int64
	var ready sync.Once
	idle := make(chan struct{}) // closed with "ready": the callers stop
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-end.Done():
				return
			case <-tick.C:
				fmt.Printf("d %d\n", decisions.Load())
			}
		}
	}()
	var wg sync.WaitGroup
	var first atomic.Value
	for range w.Goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end.Err() == nil {
				select {
				case <-idle:
					return
				default:
				}
				now := clock()
				res, err := l.AllowKeyAt(ctx, w.Key, 1, now)
				if err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				decisions.Add(1)
				goIdle := false
				if res.Allowed {
					_, _ = os.Stdout.WriteString("a\n")
					goIdle = !now.Before(second) && inSecond.Add(1) >= 100
				}
				// On a loaded machine the other processes may take most of the second
				// window's batches: the victim then goes idle anyway, 600 ms into it.
				if goIdle || !now.Before(second.Add(600*time.Millisecond)) {
					ready.Do(func() {
						close(idle)
						_, _ = os.Stdout.WriteString("ready\n")
					})
				}
			}
		}()
	}
	wg.Wait()
	<-end.Done()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return errors.New("the victim was not killed before its run ended")
}
