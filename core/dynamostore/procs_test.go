package dynamostore_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// The cross-process tests start procs OS processes of this test binary (testenv.SpawnChildren),
// each running goroutines callers against one key on the shared dynalite.
const (
	procs      = 4
	goroutines = 16
)

// TestExactAcrossProcesses: 4 processes × 16 goroutines spend from one fixed-window key with
// limit L; exactly L must be admitted in total.
func TestExactAcrossProcesses(t *testing.T) {
	_, table := sharedTable(t)
	const limit, per = 150, 5 // 4 × 16 × 5 = 320 attempts for 150 admissions
	name := testenv.UniqueName("procs-fw")
	outs := testenv.SpawnChildren(t, procs, "fixed-window",
		"TG_TABLE="+table, "TG_POLICY="+name, "TG_LIMIT="+strconv.Itoa(limit), "TG_PER="+strconv.Itoa(per),
		"TG_NOW="+strconv.FormatInt(time.Now().UnixNano(), 10), "TG_PROCS="+strconv.Itoa(procs))
	var allowed, denied int64
	for i, out := range outs {
		var a, d int64
		if _, err := fmt.Sscanf(strings.TrimSpace(out), "allowed=%d denied=%d", &a, &d); err != nil {
			t.Fatalf("child %d printed %q: %v", i, out, err)
		}
		t.Logf("process %d: allowed %d, denied %d", i, a, d)
		allowed += a
		denied += d
	}
	t.Logf("%d processes × %d goroutines × %d takes: allowed %d (limit %d), denied %d", procs, goroutines, per, allowed, limit, denied)
	if allowed != limit || allowed+denied != procs*goroutines*per {
		t.Fatalf("allowed %d + denied %d across processes; want exactly %d allowed of %d", allowed, denied, limit, procs*goroutines*per)
	}
}

// TestLeasesAcrossProcesses: 4 processes × 16 goroutines acquire, hold for a moment and
// release leases of one key with limit N. Each child prints the interval during which each
// of its goroutines certainly held a lease (from Acquire's return to Release's call); the
// intervals, on one machine's clock, must never overlap more than N deep.
func TestLeasesAcrossProcesses(t *testing.T) {
	_, table := sharedTable(t)
	const limit, rounds = 3, 6
	name := testenv.UniqueName("procs-cc")
	outs := testenv.SpawnChildren(t, procs, "semaphore",
		"TG_TABLE="+table, "TG_POLICY="+name, "TG_LIMIT="+strconv.Itoa(limit), "TG_PER="+strconv.Itoa(rounds),
		"TG_PROCS="+strconv.Itoa(procs))
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	var granted, denied int
	for i, out := range outs {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var a, b int64
			switch {
			case strings.HasPrefix(line, "hold "):
				if _, err := fmt.Sscanf(line, "hold %d %d", &a, &b); err != nil || b < a {
					t.Fatalf("child %d: bad line %q", i, line)
				}
				edges = append(edges, edge{a, +1}, edge{b, -1})
			case strings.HasPrefix(line, "granted="):
				var g, d int
				if _, err := fmt.Sscanf(line, "granted=%d denied=%d", &g, &d); err != nil {
					t.Fatalf("child %d: bad line %q", i, line)
				}
				t.Logf("process %d: granted %d, denied %d", i, g, d)
				granted += g
				denied += d
			default:
				t.Fatalf("child %d: unexpected line %q", i, line)
			}
		}
	}
	// Ends sort before starts at the same instant: touching intervals do not overlap.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	depth, peak := 0, 0
	for _, e := range edges {
		depth += e.delta
		peak = max(peak, depth)
	}
	t.Logf("%d processes × %d goroutines × %d rounds: %d leases granted, %d denied, peak holders %d (limit %d)",
		procs, goroutines, rounds, granted, denied, peak, limit)
	if granted != len(edges)/2 || granted == 0 || denied == 0 {
		t.Fatalf("granted %d (%d intervals), denied %d: the test must see both grants and denials", granted, len(edges)/2, denied)
	}
	if peak > limit {
		t.Fatalf("peak holders across processes %d > limit %d", peak, limit)
	}
}

// childStore builds a store in a child process from the environment the parent passed.
func childStore() (*dynamostore.Store, *dynamodb.Client, error) {
	c, err := dynamostore.NewClient(context.Background(), clientOptions(os.Getenv("TOLLGATE_DYNAMODB_ENDPOINT"), nil, backoff.Policy{MaxAttempts: 5}))
	if err != nil {
		return nil, nil, err
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: os.Getenv("TG_TABLE")})
	return s, c, err
}

func envInt(name string) int64 {
	v, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return v
}

// barrier makes the children start together: each adds itself to a counter item and waits
// until all have.
func barrier(ctx context.Context, c *dynamodb.Client) error {
	table, n := os.Getenv("TG_TABLE"), envInt("TG_PROCS")
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "barrier:" + os.Getenv("TG_POLICY")}}
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &table, Key: key, UpdateExpression: aws.String("ADD ready :one"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	})
	if err != nil {
		return err
	}
	for {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		if v, ok := out.Item["ready"].(*types.AttributeValueMemberN); ok && v.Value == strconv.FormatInt(n, 10) {
			return nil
		}
		if err := backoff.Sleep(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
}

// hammer runs goroutines callers of fn and returns the first error.
func hammer(fn func() error) error {
	var wg sync.WaitGroup
	var first atomic.Value
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				first.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

func childFixedWindow() (string, error) {
	s, c, err := childStore()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := barrier(ctx, c); err != nil {
		return "", fmt.Errorf("barrier: %w", err)
	}
	p := core.NewFixedWindow(os.Getenv("TG_POLICY"), envInt("TG_LIMIT"), time.Hour)
	now := time.Unix(0, envInt("TG_NOW"))
	var allowed, denied atomic.Int64
	err = hammer(func() error {
		for range envInt("TG_PER") {
			d, err := s.Take(ctx, "hot", p, 1, now)
			if err != nil {
				return err
			}
			if d.Allowed {
				allowed.Add(1)
			} else {
				denied.Add(1)
			}
		}
		return nil
	})
	return fmt.Sprintf("allowed=%d denied=%d\n", allowed.Load(), denied.Load()), err
}

func childSemaphore() (string, error) {
	s, c, err := childStore()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := barrier(ctx, c); err != nil {
		return "", fmt.Errorf("barrier: %w", err)
	}
	p := core.NewConcurrency(os.Getenv("TG_POLICY"), envInt("TG_LIMIT"), time.Minute)
	var mu sync.Mutex
	var out strings.Builder
	var granted, denied atomic.Int64
	idx := os.Getenv("TOLLGATE_CHILD_INDEX")
	var seq atomic.Int64
	err = hammer(func() error {
		for range envInt("TG_PER") {
			id := fmt.Sprintf("p%s-%d", idx, seq.Add(1))
			d, err := s.Acquire(ctx, "hot", p, id, time.Now())
			if err != nil {
				return err
			}
			if !d.Allowed {
				denied.Add(1)
				continue
			}
			granted.Add(1)
			start := time.Now().UnixNano()
			// The work the lease protects: long enough that an over-granting store would
			// show overlapping holders.
			time.Sleep(2 * time.Millisecond)
			end := time.Now().UnixNano()
			if err := s.Release(ctx, "hot", p, id, time.Now()); err != nil {
				return err
			}
			mu.Lock()
			fmt.Fprintf(&out, "hold %d %d\n", start, end)
			mu.Unlock()
		}
		return nil
	})
	// A process may see no grant at all (3 slots for 64 contenders, held 2 ms each); the
	// parent checks that the run as a whole saw grants and denials.
	fmt.Fprintf(&out, "granted=%d denied=%d\n", granted.Load(), denied.Load())
	return out.String(), err
}
