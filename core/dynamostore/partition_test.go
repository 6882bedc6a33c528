package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// partitionSim puts DynamoDB's per-partition ceiling in front of dynalite, which has none:
// each partition key value gets a token bucket of writes write units per second and one of
// reads read units per second, each holding burst's worth of its rate. A call past them is
// answered with a *types.ProvisionedThroughputExceededException, as DynamoDB answers a hot
// partition (with its KeyRangeThroughputExceeded reason), and it never reaches the server.
//
// The check runs inside the SDK's middleware stack, right after its retry middleware, so
// that every attempt is checked and the client's retryer sees the error as the throttling it
// is (retried with backoff, from the retry quota); it therefore needs an SDK client
// underneath (a *dynamodb.Client, as NewClient builds), a fake would ignore it. Every
// UpdateItem and DeleteItem costs one write unit (the store's items are far below 1 KB, and
// DynamoDB charges a write whose condition fails too), every GetItem one read unit (strongly
// consistent, below 4 KB). Control-plane calls pass.
type partitionSim struct {
	dynamostore.API
	attr          string // the table's partition key attribute
	writes, reads float64
	burst         time.Duration
	now           func() time.Time

	mu   sync.Mutex
	keys map[string]*partitionBudget

	writeUnits, readUnits, throttledWrites, throttledReads atomic.Int64
}

type partitionBudget struct{ w, r unitBucket }

// unitBucket is a token bucket of request units; it starts full.
type unitBucket struct {
	tokens float64
	at     time.Time
	primed bool
}

func (b *unitBucket) take(rate, capacity float64, now time.Time) bool {
	if !b.primed {
		b.tokens, b.at, b.primed = capacity, now, true
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(capacity, b.tokens+rate*el.Seconds())
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// newPartitionSim returns api behind DynamoDB's documented per-partition ceiling: 1,000 write
// units and 3,000 read units per second, with 100 ms of burst, on the clock now.
func newPartitionSim(api dynamostore.API, now func() time.Time) *partitionSim {
	return &partitionSim{API: api, attr: dynamostore.DefaultPartitionKey, writes: 1000, reads: 3000,
		burst: 100 * time.Millisecond, now: now, keys: map[string]*partitionBudget{}}
}

// admit spends one unit of pk's write or read budget, or returns the throttling error.
func (s *partitionSim) admit(pk string, write bool) error {
	now := s.now()
	s.mu.Lock()
	p := s.keys[pk]
	if p == nil {
		p = &partitionBudget{}
		s.keys[pk] = p
	}
	var ok bool
	if write {
		ok = p.w.take(s.writes, s.writes*s.burst.Seconds(), now)
	} else {
		ok = p.r.take(s.reads, s.reads*s.burst.Seconds(), now)
	}
	s.mu.Unlock()
	kind, rate, reason := "write", s.writes, "TableWriteKeyRangeThroughputExceeded"
	switch {
	case ok && write:
		s.writeUnits.Add(1)
		return nil
	case ok:
		s.readUnits.Add(1)
		return nil
	case write:
		s.throttledWrites.Add(1)
	default:
		s.throttledReads.Add(1)
		kind, rate, reason = "read", s.reads, "TableReadKeyRangeThroughputExceeded"
	}
	return &types.ProvisionedThroughputExceededException{
		Message:           aws.String(fmt.Sprintf("partition simulator: partition key %q is past %.0f %s units per second", pk, rate, kind)),
		ThrottlingReasons: []types.ThrottlingReason{{Reason: aws.String(reason)}},
	}
}

// ceiling returns the call option that checks each attempt of a call on key against its
// partition's budget.
func (s *partitionSim) ceiling(key map[string]types.AttributeValue, write bool) func(*dynamodb.Options) {
	pk := ""
	if v, ok := key[s.attr].(*types.AttributeValueMemberS); ok {
		pk = v.Value
	}
	check := middleware.FinalizeMiddlewareFunc("PartitionCeiling", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := s.admit(pk, write); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		return next.HandleFinalize(ctx, in)
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(check, (&retry.Attempt{}).ID(), middleware.After)
		})
	}
}

// with returns o and opt in a new slice (o belongs to the caller).
func with(o []func(*dynamodb.Options), opt func(*dynamodb.Options)) []func(*dynamodb.Options) {
	return append(o[:len(o):len(o)], opt)
}

func (s *partitionSim) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return s.API.GetItem(ctx, in, with(o, s.ceiling(in.Key, false))...)
}

func (s *partitionSim) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return s.API.UpdateItem(ctx, in, with(o, s.ceiling(in.Key, true))...)
}

func (s *partitionSim) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return s.API.DeleteItem(ctx, in, with(o, s.ceiling(in.Key, true))...)
}

// throttles is how many calls (attempts) the simulator refused.
func (s *partitionSim) throttles() int64 { return s.throttledWrites.Load() + s.throttledReads.Load() }

// units is how many calls (attempts) the simulator let through to the server.
func (s *partitionSim) units() int64 { return s.writeUnits.Load() + s.readUnits.Load() }

// TestPartitionSimulator checks the simulator on dynalite with a fake clock: a partition key
// takes exactly its burst of writes (100) and of reads (300) at one instant, then is
// throttled with a *types.ProvisionedThroughputExceededException while other keys, and the
// other budget of the same key, are not; a millisecond later exactly the rate's share (1
// write, 3 reads) passes again. Through a client with retries the throttle is retried as
// throttling, every attempt checked, and the error survives the last attempt.
func TestPartitionSimulator(t *testing.T) {
	_, table := sharedTable(t)
	ep := testenv.DynamoDBEndpoint(t)
	ctx := context.Background()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	once := newPartitionSim(newClient(t, ep, nil, backoff.Policy{MaxAttempts: 1}), now)
	pk := func(name string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: name}}
	}
	write := func(sim *partitionSim, key string) error {
		_, err := sim.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: pk(key),
			UpdateExpression:          aws.String("ADD n :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}})
		return err
	}
	read := func(sim *partitionSim, key string) error {
		_, err := sim.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: pk(key), ConsistentRead: aws.Bool(true)})
		return err
	}
	throttled := func(err error) bool {
		var pte *types.ProvisionedThroughputExceededException
		return errors.As(err, &pte)
	}
	hot, cold := testenv.UniqueName("sim-hot"), testenv.UniqueName("sim-cold")
	for _, tc := range []struct {
		name         string
		call, other  func(*partitionSim, string) error
		burst, perMs int
	}{
		{"writes", write, read, 100, 1},
		{"reads", read, write, 300, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Add(int64(time.Second)) // every bucket full again
			for i := range tc.burst {
				if err := tc.call(once, hot); err != nil {
					t.Fatalf("call %d of the burst: %v", i+1, err)
				}
			}
			if err := tc.call(once, hot); !throttled(err) {
				t.Fatalf("call %d at the same instant: %v, want ProvisionedThroughputExceededException", tc.burst+1, err)
			}
			if err := tc.call(once, cold); err != nil {
				t.Fatalf("another partition key: %v, want it unaffected", err)
			}
			if err := tc.other(once, hot); err != nil {
				t.Fatalf("the same key's other budget: %v, want it unaffected", err)
			}
			clock.Add(int64(time.Millisecond))
			for i := range tc.perMs {
				if err := tc.call(once, hot); err != nil {
					t.Fatalf("call %d a millisecond later: %v", i+1, err)
				}
			}
			if err := tc.call(once, hot); !throttled(err) {
				t.Fatalf("call %d a millisecond later: %v, want ProvisionedThroughputExceededException", tc.perMs+1, err)
			}
		})
	}
	t.Run("retried as throttling", func(t *testing.T) {
		// A client with 3 attempts (1-2 ms apart) on the exhausted key, on the frozen clock.
		sim := newPartitionSim(newClient(t, ep, nil, backoff.Policy{MaxAttempts: 3, Base: time.Millisecond, Cap: 2 * time.Millisecond}), now)
		for range 100 {
			if err := write(sim, hot+"-retry"); err != nil {
				t.Fatal(err)
			}
		}
		err := write(sim, hot+"-retry")
		if !throttled(err) {
			t.Fatalf("after the burst: %v, want ProvisionedThroughputExceededException after the retries", err)
		}
		if got := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err); got != aws.TrueTernary {
			t.Errorf("the SDK's throttle check says %v for %v, want true", got, err)
		}
		if n := sim.throttledWrites.Load(); n != 3 {
			t.Fatalf("%d attempts refused, want 3: each attempt of the retryer is checked", n)
		}
		if sim.writeUnits.Load() != 100 {
			t.Fatalf("%d writes reached the server, want the 100 of the burst", sim.writeUnits.Load())
		}
	})
}

// BenchmarkPartitionCeiling measures one hot key on dynalite behind the partition simulator
// (1,000 writes/s per partition key): 4 limiter instances, each with its own Store, × 16
// goroutines decide on the key as fast as they can, in exact mode (one UpdateItem per
// decision) and with reservations (core.Rule.Reserve, defaults: a batch aims at 100 ms of
// the instance's rate). The limit is never reached (a fixed window of 2^40 an hour, a token
// bucket of 10^8 a second), so every decision must be allowed: one that is not was decided by
// the failure policy (fail closed, breaker off, the client's default retries: 3 attempts from
// 25 ms with full jitter, and its retry quota) after the partition throttled it. The budget
// per decision is 1 s, not the default 100 ms: dynalite shares this machine's 2 cores with the
// benchmark, and once the client's retry quota is spent, throttled decisions fail at once and
// their callers spin, starving the emulator until even the requests the ceiling lets through
// miss 100 ms (0 decisions/s measured so: the emulator's latency, not the ceiling). Metrics:
// decisions/s (allowed decisions per second), failed/op (decisions the failure policy
// decided: throttled past the retries, or, rarely, dynalite stalled past the budget, which
// is logged), throttles/op (ProvisionedThroughputExceeded answers, attempts included) and
// store-requests/op (attempts sent, throttled or not). With reservations a decision that
// fails throttled fails the benchmark. Run:
//
//	source scripts/servers.sh && servers_install && servers_start &&
//	go test -run '^$' -bench PartitionCeiling -benchtime 3s ./core/dynamostore/
func BenchmarkPartitionCeiling(b *testing.B) {
	ep := os.Getenv("TOLLGATE_DYNAMODB_ENDPOINT")
	if ep == "" {
		b.Skip("TOLLGATE_DYNAMODB_ENDPOINT is not set: start dynalite (source scripts/servers.sh && servers_start) to run this benchmark")
	}
	_, table := sharedTable(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := newClient(b, ep, &http.Client{Transport: tr}, backoff.Policy{})
	// The limiters log store errors through slog.Default; the throttled decisions are counted
	// here (failed/op) instead of logged between the result lines.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(prev) })
	const instances, goroutines = 4, 16
	for _, alg := range []struct {
		name string
		p    func(name string) core.Policy
	}{
		{"fixed-window", func(name string) core.Policy { return core.NewFixedWindow(name, 1<<40, time.Hour) }},
		{"token-bucket", func(name string) core.Policy { return core.NewTokenBucket(name, 100_000_000, time.Second, 100_000_000) }},
	} {
		for _, mode := range []string{"exact", "reserve"} {
			b.Run(fmt.Sprintf("%s/mode=%s", alg.name, mode), func(b *testing.B) {
				sim := newPartitionSim(client, time.Now)
				p := alg.p(testenv.UniqueName("ceiling-" + alg.name))
				var rc *core.Reservations
				if mode == "reserve" {
					rc = &core.Reservations{}
				}
				lims := make([]*core.Limiter, instances)
				for i := range lims {
					s, err := dynamostore.New(sim, dynamostore.Config{Table: table})
					if err != nil {
						b.Fatal(err)
					}
					lims[i], err = core.NewLimiter(core.Config{Store: s, Key: core.KeyStatic("hot"), Failure: core.FailClosed,
						Timeout: time.Second, Breaker: core.BreakerConfig{Failures: -1}, Rules: []core.Rule{{Policy: p, Reserve: rc}}})
					if err != nil {
						b.Fatal(err)
					}
				}
				ctx := context.Background()
				quiet(b, client, table)
				var next, allowed, failed atomic.Int64
				var throttledOut atomic.Int64 // failed decisions whose last attempt was throttled
				var unexpected, other atomic.Value
				units, throttles := sim.units(), sim.throttles()
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for g := range instances * goroutines {
					wg.Add(1)
					go func(l *core.Limiter) {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							res, err := l.AllowKey(ctx, "hot", 1)
							switch {
							case err == nil && res.Allowed:
								allowed.Add(1)
							case errors.Is(err, core.ErrStoreUnavailable):
								failed.Add(1)
								var pte *types.ProvisionedThroughputExceededException
								if errors.As(err, &pte) {
									throttledOut.Add(1)
								} else {
									other.CompareAndSwap(nil, err)
								}
							default:
								unexpected.CompareAndSwap(nil, fmt.Errorf("%+v, %v", res, err))
							}
						}
					}(lims[g%instances])
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				for _, l := range lims {
					if err := l.Close(ctx); err != nil {
						b.Error(err)
					}
				}
				if err, _ := unexpected.Load().(error); err != nil {
					b.Fatalf("a decision neither allowed nor failed: %v", err)
				}
				if mode == "reserve" && throttledOut.Load() > 0 {
					b.Errorf("%d of %d decisions failed throttled with reservations", throttledOut.Load(), b.N)
				}
				if err, _ := other.Load().(error); err != nil {
					// Not the ceiling: dynalite stalled past the budget (this machine's 2 cores
					// are shared). Counted in failed/op, and said.
					b.Logf("%d of %d decisions failed, %d of them throttled; another failure: %v",
						failed.Load(), b.N, throttledOut.Load(), err)
				}
				b.ReportMetric(float64(allowed.Load())/elapsed.Seconds(), "decisions/s")
				b.ReportMetric(float64(failed.Load())/float64(b.N), "failed/op")
				b.ReportMetric(float64(sim.throttles()-throttles)/float64(b.N), "throttles/op")
				b.ReportMetric(float64(sim.units()-units+sim.throttles()-throttles)/float64(b.N), "store-requests/op")
			})
		}
	}
}

// quiet waits until dynalite answers a read within 20 ms: the previous run's callers, timed
// out, left requests the emulator still works through, which would otherwise time out the
// next run's first reservations.
func quiet(b *testing.B, c *dynamodb.Client, table string) {
	b.Helper()
	key := map[string]types.AttributeValue{dynamostore.DefaultPartitionKey: &types.AttributeValueMemberS{Value: "quiet"}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key})
		cancel()
		if err != nil {
			b.Fatalf("dynalite: %v", err)
		}
		if time.Since(start) < 20*time.Millisecond {
			return
		}
	}
	b.Fatal("dynalite did not answer a read within 20 ms for 30 s")
}
