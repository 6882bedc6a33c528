package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// heldLeases counts the unexpired leases in key's lease item, read directly from the table.
func heldLeases(ctx context.Context, api dynamostore.API, table string, s *dynamostore.Store, key string, p core.Policy, now time.Time) (int, error) {
	out, err := api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: s.PartitionKey(key, p, now)}}})
	if err != nil {
		return 0, err
	}
	h, _ := out.Item["h"].(*types.AttributeValueMemberM)
	if h == nil {
		return 0, nil
	}
	held := 0
	for name, v := range h.Value {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("lease %s is a %T", name, v)
		}
		exp, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return 0, err
		}
		if exp > now.UnixNano() {
			held++
		}
	}
	return held, nil
}

// privateTable starts a private dynalite (which the test may freeze) with a table on it, and
// returns a store on it and a second client for reading the table behind the store's back.
func privateTable(t *testing.T) (srv *testenv.Server, s *dynamostore.Store, probe *dynamodb.Client, table string) {
	t.Helper()
	srv = testenv.StartDynalite(t)
	c := newClient(t, srv.URL(), nil, backoff.Policy{})
	probe = newClient(t, srv.URL(), nil, backoff.Policy{})
	table = testenv.UniqueName("tollgate-orphan")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := dynamostore.CreateTable(ctx, c, dynamostore.TableOptions{Name: table}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	s, err := dynamostore.New(c, dynamostore.Config{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	return srv, s, probe, table
}

// TestOrphanLeases freezes a private dynalite (SIGSTOP) while a concurrency limiter makes 3
// acquires with a 200 ms budget, thaws it (SIGCONT), and measures how long until all 3 slots
// of the key are free again: about one release round trip, not the 30 s lease. The frozen
// server keeps the requests in its sockets and applies them when it resumes, after the
// limiter gave up: the control subtest shows that such late acquires are applied and hold
// their slots when nobody releases them; the limiter releases them in the background.
func TestOrphanLeases(t *testing.T) {
	srv, s, probe, table := privateTable(t)
	pz := testenv.PauseByPort(t, srv.Addr)
	ctx := context.Background()
	const (
		limit  = 3
		lease  = 30 * time.Second
		budget = 200 * time.Millisecond
	)
	held := func(p core.Policy) int {
		t.Helper()
		n, err := heldLeases(ctx, probe, table, s, "k", p, time.Now())
		if err != nil {
			t.Fatalf("read the lease item: %v", err)
		}
		return n
	}

	t.Run("Control", func(t *testing.T) {
		// The store alone, no limiter: acquires that time out while the server is frozen
		// are applied when it resumes, and nobody releases them.
		p := core.NewConcurrency(testenv.UniqueName("orphan-control"), limit, lease)
		warm(t, s, p)
		pz.Stop()
		defer pz.Cont()
		for i := range limit {
			actx, cancel := context.WithTimeout(ctx, budget)
			_, err := s.Acquire(actx, "k", p, fmt.Sprint("late-", i), time.Now())
			cancel()
			if err == nil {
				t.Fatalf("acquire %d succeeded on a frozen server", i)
			}
		}
		pz.Cont()
		n := testenv.PollHeld(func() int { return held(p) }, func(n int) bool { return n == limit }, 3*time.Second)
		t.Logf("without the limiter: %d of %d slots held by acquires the server applied after their caller gave up", n, limit)
		if n == 0 {
			t.Fatalf("no late acquire was applied: the scenario below would prove nothing")
		}
	})

	t.Run("Limiter", func(t *testing.T) {
		p := core.NewConcurrency(testenv.UniqueName("orphan"), limit, lease)
		cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: p,
			Config: core.Config{Timeout: budget, Failure: core.FailClosed, Breaker: core.BreakerConfig{Failures: -1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		warm(t, s, p)
		pz.Stop()
		defer pz.Cont()
		for i := range limit {
			if _, _, err := cl.AcquireKeyAt(ctx, "k", time.Now()); !errors.Is(err, core.ErrStoreUnavailable) {
				t.Fatalf("acquire %d on a frozen server: %v; want ErrStoreUnavailable", i, err)
			}
		}
		pz.Cont()
		free, took := testenv.MeasureFree(t, limit, func() int { return held(p) })
		t.Logf("orphan: store=dynamodb limit=%d free_after_recovery=%d seconds_to_free=%.3f", limit, free, took.Seconds())
		if free != limit || took > lease/6 {
			t.Fatalf("%d of %d slots free %v after the server resumed; want all, well under the %v lease", free, limit, took, lease)
		}
		for i := range limit {
			l, res, err := cl.AcquireKeyAt(ctx, "k", time.Now())
			if err != nil || l == nil {
				t.Fatalf("acquire %d after recovery: %+v, %v; want a lease (the slot is free)", i, res, err)
			}
			defer func() { _ = l.Release(ctx) }()
		}
	})
}

// warm acquires and releases a lease so that the lease item exists.
func warm(t *testing.T, s core.ConcurrencyStore, p core.Policy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Acquire(ctx, "k", p, "warm", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "k", p, "warm", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestLateAcquireAfterRelease delivers an acquire's UpdateItem after the lease was released
// (the order a stalled server or network can produce; the limiter releases every acquire
// whose outcome it did not learn): the release of the absent lease recorded the release
// watermark, so the late update's condition fails and no slot is held. Before the watermark,
// the late update applied and held the slot for the whole lease time.
func TestLateAcquireAfterRelease(t *testing.T) {
	_, table := sharedTable(t)
	for _, c := range []struct {
		name string
		warm bool // the lease map exists (the common update) or not (the map is created)
		skip int  // updates of the acquire before the one delivered late
	}{{"update", true, 0}, {"create", false, 1}} {
		t.Run(c.name, func(t *testing.T) {
			ep := testenv.DynamoDBEndpoint(t)
			probe, _ := sharedTable(t)
			ctx := context.Background()
			var (
				ld       *testenv.LateDelivery
				s        *dynamostore.Store
				p        core.Policy
				acquired time.Time
			)
			// On a loaded machine the acquire's budget may run out before it sends the
			// update to hold (the "create" case sends two): then nothing was held and the
			// case is tried again with a longer budget. Matching stops as soon as the
			// acquire returns, so the release's own update is never held.
			for _, budget := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second} {
				ld = testenv.NewLateDelivery(func(r *http.Request) bool {
					return strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem")
				})
				s = newStore(t, newClient(t, ep, &http.Client{Transport: ld}, backoff.Policy{MaxAttempts: 1}))
				p = core.NewConcurrency(testenv.UniqueName("late-"+c.name), 3, time.Minute)
				if c.warm {
					warm(t, s, p)
				}
				ld.Hold([]byte(dynamostore.LeaseName("late-lease")), c.skip)
				acquired = time.Now()
				actx, cancel := context.WithTimeout(ctx, budget)
				_, err := s.Acquire(actx, "k", p, "late-lease", acquired)
				cancel()
				held := ld.Stop()
				if held && err == nil {
					t.Fatal("the held acquire succeeded")
				}
				if held {
					break
				}
				t.Logf("the acquire's %v budget ran out before the update to hold was sent; trying again", budget)
			}
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			err := s.Release(rctx, "k", p, "late-lease", time.Now())
			rcancel()
			if err != nil {
				t.Fatalf("release: %v", err)
			}
			status, body := ld.Deliver(t)
			n, err := heldLeases(ctx, probe, table, s, "k", p, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("late UpdateItem after the release: HTTP %d %.80s; %d leases held", status, body, n)
			if status != http.StatusBadRequest || !strings.Contains(body, "ConditionalCheckFailed") || n != 0 {
				t.Fatalf("late acquire: HTTP %d, %d held; want a failed condition and none held", status, n)
			}
			// A live acquire stamped before the watermark (a clock behind) still gets its
			// lease: it moves its stamp past the watermark.
			if d, err := s.Acquire(ctx, "k", p, "live", acquired); err != nil || !d.Allowed || d.Remaining != 2 {
				t.Fatalf("live acquire stamped before the watermark: %+v, %v; want granted, 2 remaining", d, err)
			}
		})
	}
}

// TestNearlyFullLeases is the case: a key at 4,090 of 4,096 leases, then 96
// acquire/release cycles through a limiter, 16 at a time. Each call rewrites (and an acquire
// returns) an item of about 230 KB, so under this load most exceed their budget (50 ms, half
// the default, so that they do on any machine: dynalite serves one call at a time); each of
// those acquires is applied anyway, and used to stay (6 orphans: every free slot). The
// limiter now releases them: the key must be back at exactly 4,090 well before the leases'
// 10 minutes.
func TestNearlyFullLeases(t *testing.T) {
	api, table := sharedTable(t)
	s := newStore(t, nil)
	ctx := context.Background()
	const (
		limit, prefill = dynamostore.MaxLeases, 4090
		cycles, par    = 96, 16
	)
	p := core.NewConcurrency(testenv.UniqueName("nearfull"), limit, 10*time.Minute)
	now := time.Now()
	fillLeases(t, api, table, s.PartitionKey("k", p, now), prefill, func(i int) string { return fmt.Sprintf("%032x", i) }, now.Add(10*time.Minute))
	cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: p,
		Config: core.Config{Failure: core.FailClosed, Timeout: 50 * time.Millisecond, Breaker: core.BreakerConfig{Failures: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var granted, timedOut, denied atomic.Int64
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range cycles / par {
				l, res, err := cl.AcquireKeyAt(ctx, "k", time.Now())
				switch {
				case err != nil:
					timedOut.Add(1)
				case l == nil:
					denied.Add(1)
				default:
					granted.Add(1)
					_ = l.Release(ctx)
				}
				_ = res
			}
		}()
	}
	wg.Wait()
	done := time.Now()
	held := func() int {
		n, err := heldLeases(ctx, api, table, s, "k", p, time.Now())
		if err != nil {
			t.Fatalf("read the lease item: %v", err)
		}
		return n
	}
	after := held()
	// Every orphan is released one at a time, with the limiter's budget, on an item this big:
	// allow 30 s, a twentieth of the lease time.
	n := testenv.PollHeld(held, func(n int) bool { return n == prefill }, 30*time.Second)
	took := time.Since(done)
	t.Logf("nearfull: store=dynamodb leases=%d/%d cycles=%d granted=%d denied=%d failed=%d orphans_after_cycles=%d orphans_after_recovery=%d seconds_to_free=%.3f",
		prefill, limit, cycles, granted.Load(), denied.Load(), timedOut.Load(), after-prefill, n-prefill, took.Seconds())
	if timedOut.Load() == 0 {
		t.Fatalf("no acquire exceeded its budget: the test exercised nothing")
	}
	if n != prefill {
		t.Fatalf("%d leases held 30 s after the cycles; want %d: %d orphans", n, prefill, n-prefill)
	}
}

// fillLeases writes a lease item holding n leases named by id(i), all expiring at exp, in one
// PutItem (filling it through Acquire takes half a minute).
func fillLeases(t *testing.T, api *dynamodb.Client, table, pk string, n int, id func(int) string, exp time.Time) {
	t.Helper()
	m := make(map[string]types.AttributeValue, n)
	for i := range n {
		m[dynamostore.LeaseName(id(i))] = &types.AttributeValueMemberN{Value: strconv.FormatInt(exp.UnixNano(), 10)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: pk},
		"h":                             &types.AttributeValueMemberM{Value: m},
	}}); err != nil {
		t.Fatalf("PutItem of %d leases: %v", n, err)
	}
}

// TestMaxLeasesFit: MaxLeases leases with the longest IDs core accepts (128 bytes) fit in one
// item. Written out in base64 (171 bytes each) such an item passed DynamoDB's 400 KB at 2,237
// leases, and every acquire after that failed; long IDs are now stored hashed.
func TestMaxLeasesFit(t *testing.T) {
	api, table := sharedTable(t)
	s := newStore(t, nil)
	ctx := context.Background()
	p := core.NewConcurrency(testenv.UniqueName("maxfit"), dynamostore.MaxLeases, 10*time.Minute)
	long := func(i int) string { return fmt.Sprintf("%04d", i) + strings.Repeat("x", 124) }
	now := time.Now()
	fillLeases(t, api, table, s.PartitionKey("k", p, now), dynamostore.MaxLeases-2, long, now.Add(10*time.Minute))
	for i := dynamostore.MaxLeases - 2; i < dynamostore.MaxLeases; i++ {
		d, err := s.Acquire(ctx, "k", p, long(i), now)
		if err != nil || !d.Allowed {
			t.Fatalf("acquire %d with a 128-byte ID: %+v, %v; want granted", i, d, err)
		}
	}
	if d, err := s.Acquire(ctx, "k", p, long(dynamostore.MaxLeases), now); err != nil || d.Allowed {
		t.Fatalf("acquire past MaxLeases: %+v, %v; want denied", d, err)
	}
	if _, err := s.Extend(ctx, "k", p, long(7), now); err != nil {
		t.Fatalf("extend a hashed ID: %v", err)
	}
	if err := s.Release(ctx, "k", p, long(7), now); err != nil {
		t.Fatalf("release a hashed ID: %v", err)
	}
	if n, err := heldLeases(ctx, api, table, s, "k", p, now); err != nil || n != dynamostore.MaxLeases-1 {
		t.Fatalf("after releasing one: %d held, %v; want %d", n, err, dynamostore.MaxLeases-1)
	}
}
