package s3store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.RunChild(map[string]func() (string, error){
		"fixed-window": childFixedWindow,
		"concurrency":  childConcurrency,
		"settle":       childSettle,
	})
	os.Exit(m.Run())
}

const (
	procs      = 4
	goroutines = 8
)

// childStore builds the store a child process uses, from the parent's environment.
func childStore() (*s3store.Store, *counting, error) {
	ep, bucket := os.Getenv("TOLLGATE_S3_ENDPOINT"), os.Getenv("S3STORE_BUCKET")
	if ep == "" || bucket == "" {
		return nil, nil, errors.New("child: TOLLGATE_S3_ENDPOINT and S3STORE_BUCKET are required")
	}
	c, err := s3store.NewClient(context.Background(), s3store.ClientOptions{
		Endpoint: ep, Region: "us-east-1",
		AccessKey: os.Getenv("TOLLGATE_S3_ACCESS_KEY"), SecretKey: os.Getenv("TOLLGATE_S3_SECRET_KEY"),
	})
	if err != nil {
		return nil, nil, err
	}
	api := &counting{API: c}
	mode := s3store.CompareAndSwap
	if os.Getenv("S3STORE_MODE") == "marker" {
		mode = s3store.Marker
	}
	s, err := s3store.New(api, s3store.Config{Bucket: bucket, Mode: mode})
	return s, api, err
}

func envInt(name string) int64 {
	v, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return v
}

// childFixedWindow takes S3STORE_TAKES times per goroutine at one instant (so the window
// cannot roll) and prints its counts.
func childFixedWindow() (string, error) {
	s, api, err := childStore()
	if err != nil {
		return "", err
	}
	p := core.NewFixedWindow(os.Getenv("S3STORE_POLICY"), envInt("S3STORE_LIMIT"), time.Hour)
	now := time.Unix(0, envInt("S3STORE_NOW"))
	takes := int(envInt("S3STORE_TAKES"))
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < takes; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				d, err := s.Take(ctx, "one-hot-key", p, 1, now)
				cancel()
				if err != nil {
					errs <- err
					return
				}
				if d.Allowed {
					allowed.Add(1)
				} else {
					denied.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	return fmt.Sprintf("allowed %d\ndenied %d\nrequests %d\n", allowed.Load(), denied.Load(), api.total()), nil
}

// childConcurrency acquires, holds for a moment and releases leases, and prints every
// holding interval [t1, t2]: t1 is taken after Acquire returned and t2 before Release is
// called, so the lease was held during the whole interval, whatever the clocks' resolution.
func childConcurrency() (string, error) {
	s, api, err := childStore()
	if err != nil {
		return "", err
	}
	p := core.NewConcurrency(os.Getenv("S3STORE_POLICY"), envInt("S3STORE_LIMIT"), time.Minute)
	rounds := int(envInt("S3STORE_TAKES"))
	idx := os.Getenv("TOLLGATE_CHILD_INDEX")
	var mu sync.Mutex
	var out strings.Builder
	var granted, denied atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				id := fmt.Sprintf("p%s-g%d-%d", idx, g, i)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				d, err := s.Acquire(ctx, "one-hot-key", p, id, time.Now())
				if err != nil {
					cancel()
					errs <- err
					return
				}
				if !d.Allowed {
					cancel()
					denied.Add(1)
					continue
				}
				granted.Add(1)
				t1 := time.Now().UnixNano()
				// The work the lease protects. Holding it a moment makes holders overlap;
				// nothing waits for anything here.
				time.Sleep(15 * time.Millisecond)
				t2 := time.Now().UnixNano()
				err = s.Release(ctx, "one-hot-key", p, id, time.Now())
				cancel()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				fmt.Fprintf(&out, "interval %d %d\n", t1, t2)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	fmt.Fprintf(&out, "allowed %d\ndenied %d\nrequests %d\n", granted.Load(), denied.Load(), api.total())
	return out.String(), nil
}

// childTotals sums the counters the children printed and collects their intervals.
type childTotals struct {
	allowed, denied, requests int64
	intervals                 [][2]int64
}

func parseChildren(t *testing.T, outs []string) childTotals {
	t.Helper()
	var c childTotals
	for _, out := range outs {
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("child output %q: %v", sc.Text(), err)
			}
			switch f[0] {
			case "allowed":
				c.allowed += v
			case "denied":
				c.denied += v
			case "requests":
				c.requests += v
			case "interval":
				v2, _ := strconv.ParseInt(f[2], 10, 64)
				c.intervals = append(c.intervals, [2]int64{v, v2})
			}
		}
	}
	return c
}

// peakOverlap returns the largest number of closed intervals [t1, t2] that share an instant.
func peakOverlap(iv [][2]int64) int {
	type ev struct {
		t     int64
		delta int
	}
	evs := make([]ev, 0, 2*len(iv))
	for _, x := range iv {
		evs = append(evs, ev{x[0], +1}, ev{x[1], -1})
	}
	// Starts before ends at the same instant: closed intervals that touch overlap.
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].delta > evs[j].delta
	})
	cur, peak := 0, 0
	for _, e := range evs {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

// TestPeakOverlapCanFail shows that the holders check detects a violation.
func TestPeakOverlapCanFail(t *testing.T) {
	if got := peakOverlap([][2]int64{{0, 10}, {5, 15}, {10, 20}, {21, 30}}); got != 3 {
		t.Fatalf("peakOverlap = %d, want 3 (three intervals share t=10)", got)
	}
	if got := peakOverlap([][2]int64{{0, 4}, {5, 9}}); got != 1 {
		t.Fatalf("peakOverlap of disjoint intervals = %d, want 1", got)
	}
}

// TestExactAcrossProcesses runs 4 OS processes × 8 goroutines on one key of a real
// S3-compatible server (versitygw): a fixed window admits exactly its limit in both modes,
// and a concurrency limit is never exceeded.
func TestExactAcrossProcesses(t *testing.T) {
	b := versity(t)
	env := func(mode, policy string, limit, takes int) []string {
		return []string{
			"S3STORE_BUCKET=" + b.bucket, "S3STORE_MODE=" + mode, "S3STORE_POLICY=" + policy,
			fmt.Sprintf("S3STORE_LIMIT=%d", limit), fmt.Sprintf("S3STORE_TAKES=%d", takes),
			fmt.Sprintf("S3STORE_NOW=%d", time.Now().Truncate(time.Hour).Add(time.Minute).UnixNano()),
		}
	}
	for _, mode := range []string{"cas", "marker"} {
		t.Run("FixedWindow/"+mode, func(t *testing.T) {
			const limit, takes = 60, 4 // 4 × 8 × 4 = 128 attempts for 60 slots
			outs := testenv.SpawnChildren(t, procs, "fixed-window", env(mode, uniq("xp-"+mode), limit, takes)...)
			c := parseChildren(t, outs)
			t.Logf("%s: %d processes × %d goroutines × %d takes on one key: allowed %d (limit %d), denied %d; %d requests, %.2f per decision",
				mode, procs, goroutines, takes, c.allowed, limit, c.denied, c.requests, float64(c.requests)/float64(c.allowed+c.denied))
			if c.allowed != limit || c.allowed+c.denied != procs*goroutines*takes {
				t.Fatalf("allowed %d, denied %d; want exactly %d allowed of %d", c.allowed, c.denied, limit, procs*goroutines*takes)
			}
		})
	}
	t.Run("Concurrency", func(t *testing.T) {
		const limit, rounds = 3, 6
		outs := testenv.SpawnChildren(t, procs, "concurrency", env("cas", uniq("xp-sem"), limit, rounds)...)
		c := parseChildren(t, outs)
		peak := peakOverlap(c.intervals)
		t.Logf("%d processes × %d goroutines × %d rounds: %d leases granted, %d denied, peak holders %d (limit %d); %d requests",
			procs, goroutines, rounds, c.allowed, c.denied, peak, limit, c.requests)
		if peak > limit {
			t.Fatalf("peak holders %d > limit %d", peak, limit)
		}
		if c.allowed < limit || len(c.intervals) != int(c.allowed) {
			t.Fatalf("granted %d leases with %d intervals; want at least %d, one interval each", c.allowed, len(c.intervals), limit)
		}
	})
}
