package dynamostore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// fake is a scripted API: each call pops the next answer and records the request, so a test
// can make the server return what real DynamoDB returns and dynalite does not (the item of a
// failed condition, ReturnValuesOnConditionCheckFailure=ALL_OLD).
type fake struct {
	answers []answer
	updates []*dynamodb.UpdateItemInput
	gets    int
}

type answer struct {
	item map[string]types.AttributeValue // UpdateItem attributes, GetItem item, or the failed condition's item
	fail bool                            // a ConditionalCheckFailedException carrying item
	err  error
}

func (f *fake) next(t string) answer {
	if len(f.answers) == 0 {
		panic("fake: unexpected " + t)
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return a
}

func (f *fake) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.updates = append(f.updates, in)
	a := f.next("UpdateItem")
	if a.fail {
		return nil, &types.ConditionalCheckFailedException{Message: new(string), Item: a.item}
	}
	return &dynamodb.UpdateItemOutput{Attributes: a.item}, a.err
}

func (f *fake) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets++
	a := f.next("GetItem")
	return &dynamodb.GetItemOutput{Item: a.item}, a.err
}

func (f *fake) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return &dynamodb.DeleteItemOutput{}, f.next("DeleteItem").err
}

func (f *fake) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.next("DescribeTable")
	return nil, errors.New("fake: DescribeTable is not scripted")
}

func (f *fake) DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error) {
	f.next("DescribeTimeToLive")
	return nil, errors.New("fake: DescribeTimeToLive is not scripted")
}

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func item(kv ...any) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(types.AttributeValue)
	}
	return m
}

func leaseMap(kv map[string]int64) types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for id, exp := range kv {
		m[strings.TrimRight(b64(id), "=")] = n(exp)
	}
	return &types.AttributeValueMemberM{Value: m}
}

// TestFailedConditionItem covers the ALL_OLD path: the state comes from the failed
// condition, with no GetItem; and the GetItem fallback when the item is not returned.
func TestFailedConditionItem(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	tb := core.NewTokenBucket("tb", 10, time.Second, 5) // interval 100ms, tau 500ms
	iv := int64(tb.EmissionInterval())
	fw := core.NewFixedWindow("fw", 10, time.Minute)
	fwStart, _ := fw.WindowBounds(ns)
	cc := core.NewConcurrency("cc", 2, time.Minute)

	cases := []struct {
		name    string
		p       core.Policy
		cost    int64
		answers []answer
		state   storekit.State  // the state the answers reveal, for the pure decision
		leases  storekit.Leases // the same, for concurrency
		updates int
		gets    int
		second  string // a substring of the second UpdateItem's condition
	}{
		{
			name: "gcra wrong guess, ALL_OLD then case B", p: tb, cost: 1,
			answers: []answer{{fail: true, item: item("tat", n(ns+3*iv))}, {item: item("tat", n(ns+4*iv))}},
			state:   storekit.State{TAT: ns + 3*iv}, updates: 2, second: "#t > :now AND #t <= :max",
		},
		{
			name: "gcra denial from ALL_OLD", p: tb, cost: 2,
			answers: []answer{{fail: true, item: item("tat", n(ns+4*iv))}},
			state:   storekit.State{TAT: ns + 4*iv}, updates: 1,
		},
		{
			name: "gcra wrong guess, no item: case B at once", p: tb, cost: 1,
			answers: []answer{{fail: true}, {item: item("tat", n(ns+4*iv))}},
			state:   storekit.State{TAT: ns + 3*iv}, updates: 2, second: "#t > :now AND #t <= :max",
		},
		{
			name: "gcra wrong guess, no item, bucket full: GetItem", p: tb, cost: 1,
			answers: []answer{{fail: true}, {fail: true}, {item: item("tat", n(ns+5*iv))}},
			state:   storekit.State{TAT: ns + 5*iv}, updates: 2, gets: 1, second: "#t > :now AND #t <= :max",
		},
		{
			name: "fixed window cost 2 denial from ALL_OLD", p: fw, cost: 2,
			answers: []answer{{fail: true, item: item("n", n(9))}},
			state:   storekit.State{Window: fwStart, Count: 9}, updates: 1,
		},
		{
			name: "fixed window cost 2 denial without item: GetItem", p: fw, cost: 2,
			answers: []answer{{fail: true}, {item: item("n", n(10))}},
			state:   storekit.State{Window: fwStart, Count: 10}, updates: 1, gets: 1,
		},
		{
			name: "fixed window cost 1 denial needs no read", p: fw, cost: 1,
			answers: []answer{{fail: true}},
			state:   storekit.State{Window: fwStart, Count: 10}, updates: 1,
		},
		{
			name: "lease denial from ALL_OLD", p: cc,
			answers: []answer{{fail: true, item: item("h", leaseMap(map[string]int64{"a": ns + 1e8, "b": ns + 5e9}))}},
			leases:  storekit.Leases{"a": ns + 1e8, "b": ns + 5e9}, updates: 1,
		},
		{
			name: "lease reclaim of an expired lease from ALL_OLD", p: cc,
			answers: []answer{
				{fail: true, item: item("h", leaseMap(map[string]int64{"a": ns - 1, "b": ns + 5e9}))},
				{item: item("h", leaseMap(map[string]int64{"me": ns + int64(time.Minute), "b": ns + 5e9}))},
			},
			leases: storekit.Leases{"a": ns - 1, "b": ns + 5e9}, updates: 2, second: "size(#h) <= :bound AND attribute_not_exists(#h.#id) AND #h.#e0 <= :now",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{answers: c.answers}
			s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
			if err != nil {
				t.Fatal(err)
			}
			var got, want core.Decision
			if c.p.Algorithm == core.Concurrency {
				want = storekit.AcquireLease(c.leases, c.p, "me", now)
				got, err = s.Acquire(ctx, "k", c.p, "me", now)
			} else {
				_, want = storekit.Take(c.p, c.state, c.cost, now.UnixNano())
				got, err = s.Take(ctx, "k", c.p, c.cost, now)
			}
			if err != nil {
				t.Fatalf("decision: %v", err)
			}
			if got != want {
				t.Errorf("decision\n got  %+v\n want %+v", got, want)
			}
			if len(f.updates) != c.updates || f.gets != c.gets {
				t.Errorf("%d UpdateItem and %d GetItem; want %d and %d", len(f.updates), f.gets, c.updates, c.gets)
			}
			if c.second != "" && (len(f.updates) < 2 || !strings.Contains(*f.updates[1].ConditionExpression, c.second)) {
				t.Errorf("second update's condition is not %q", c.second)
			}
			for i, in := range f.updates {
				if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
					t.Errorf("update %d does not ask for ALL_OLD on a failed condition", i)
				}
			}
		})
	}
}

// TestBackendErrorsWrapped: an SDK error reaches the caller wrapped, with the package prefix.
func TestBackendErrorsWrapped(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{answers: []answer{{err: boom}}}
	s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
	_, err := s.Take(context.Background(), "k", core.NewFixedWindow("fw", 1, time.Minute), 1, time.Now())
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "dynamostore: ") {
		t.Fatalf("got %v; want an error wrapping the SDK's, prefixed dynamostore:", err)
	}
	_, err = s.Take(context.Background(), strings.Repeat("k", 1<<20+1), core.NewFixedWindow("fw", 1, time.Minute), 1, time.Now())
	if !errors.Is(err, core.ErrInvalidKey) {
		t.Fatalf("oversized key: %v; want core.ErrInvalidKey", err)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestLostRaceIsDenial: on a server that does not return the item of a failed condition,
// every round reads the item separately; under churn each read can show room the next write
// no longer has. After maxRounds (8) such rounds the answer is the denial the failed
// conditions prove, not an error (CI saw "state kept changing under contention" from
// storetest's 32 goroutines on a limit of 4 against dynalite).
func TestLostRaceIsDenial(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	const rounds = 8
	lostRounds := func(read answer) []answer {
		var as []answer
		for range rounds {
			as = append(as, answer{fail: true}, read)
		}
		return as
	}

	t.Run("concurrency", func(t *testing.T) {
		cc := core.NewConcurrency("cc", 2, time.Minute)
		f := &fake{answers: lostRounds(answer{item: item("h", leaseMap(map[string]int64{"a": ns + 3e8}))})}
		s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
		got, err := s.Acquire(ctx, "k", cc, "me", now)
		if err != nil {
			t.Fatalf("Acquire: %v; want a denial", err)
		}
		want := core.Decision{Limit: 2, Policy: cc, RetryAfter: 300 * time.Millisecond}
		if got != want {
			t.Errorf("decision\n got  %+v\n want %+v", got, want)
		}
		if len(f.updates) != rounds || f.gets != rounds {
			t.Errorf("%d UpdateItem and %d GetItem; want %d each", len(f.updates), f.gets, rounds)
		}
	})

	t.Run("concurrency watermark is not a lost race", func(t *testing.T) {
		// Every read shows a newer release watermark past the stamp: the failures may all be
		// the watermark's, which proves nothing about the slots, so the answer stays an error.
		cc := core.NewConcurrency("cc", 2, time.Minute)
		var as []answer
		for i := range int64(rounds) {
			as = append(as, answer{fail: true}, answer{item: item("h", leaseMap(nil), "r", n(ns+1e12+i*1e9))})
		}
		f := &fake{answers: as}
		s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
		if _, err := s.Acquire(ctx, "k", cc, "me", now); err == nil {
			t.Fatal("Acquire: a decision; want the contention error")
		}
	})

	t.Run("fixed window", func(t *testing.T) {
		fw := core.NewFixedWindow("fw", 10, time.Minute)
		start, _ := fw.WindowBounds(ns)
		f := &fake{answers: lostRounds(answer{item: item("n", n(5))})}
		s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
		got, err := s.Take(ctx, "k", fw, 2, now)
		if err != nil {
			t.Fatalf("Take: %v; want a denial", err)
		}
		_, want := storekit.Take(fw, storekit.State{Window: start, Count: 9}, 2, now.UnixNano())
		if got != want || got.Allowed {
			t.Errorf("decision\n got  %+v\n want %+v", got, want)
		}
	})

	t.Run("sliding window", func(t *testing.T) {
		sw := core.NewSlidingWindow("sw", 10, time.Minute)
		start, _ := sw.WindowBounds(ns)
		// The previous window's count is read once first.
		f := &fake{answers: append([]answer{{item: item("n", n(0))}}, lostRounds(answer{item: item("n", n(3))})...)}
		s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
		got, err := s.Take(ctx, "k", sw, 2, now)
		if err != nil {
			t.Fatalf("Take: %v; want a denial", err)
		}
		_, want := storekit.Take(sw, storekit.State{Window: start, Count: 9}, 2, now.UnixNano())
		if got != want || got.Allowed {
			t.Errorf("decision\n got  %+v\n want %+v", got, want)
		}
	})
}

// TestLeaseEdges pins the lease writes at their edges, on the requests themselves: a lease
// that expires exactly now is expired (reclaimed, not renewed, not counted as held, not a
// reason to wait), a reclaiming grant's size bound is exact, more expired leases than one
// update may remove are removed without a grant first, and the release watermark's item
// lives as long as the lease it guards.
func TestLeaseEdges(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	live := ns + int64(time.Minute)
	cc := core.NewConcurrency("cc", 2, time.Minute)
	newStore := func(f *fake) *dynamostore.Store {
		s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	values := func(in *dynamodb.UpdateItemInput, name string) string {
		v, ok := in.ExpressionAttributeValues[name].(*types.AttributeValueMemberN)
		if !ok {
			return "<none>"
		}
		return v.Value
	}

	t.Run("expired exactly now is reclaimed", func(t *testing.T) {
		f := &fake{answers: []answer{
			{fail: true, item: item("h", leaseMap(map[string]int64{"a": ns, "b": live}))},
			{item: item("h", leaseMap(map[string]int64{"me": live, "b": live}))},
		}}
		if d, err := newStore(f).Acquire(ctx, "k", cc, "me", now); err != nil || !d.Allowed {
			t.Fatalf("Acquire: %+v, %v; want a grant", d, err)
		}
		in := f.updates[1]
		if c := *in.ConditionExpression; !strings.Contains(c, "size(#h) <= :bound AND attribute_not_exists(#h.#id) AND #h.#e0 <= :now") {
			t.Errorf("reclaiming grant's condition %q; want the lease expiring now removed", c)
		}
		// size 2 − 1 reclaimed + me ≤ 2: the map may hold at most Limit + k − 1 = 2 before.
		if got := values(in, ":bound"); got != "2" {
			t.Errorf(":bound = %s; want 2 (Limit + reclaimed − 1)", got)
		}
	})

	t.Run("own lease expiring now is not renewed", func(t *testing.T) {
		f := &fake{answers: []answer{
			{fail: true, item: item("h", leaseMap(map[string]int64{"me": ns, "b": live}))},
			{item: item("h", leaseMap(map[string]int64{"me": live, "b": live}))},
		}}
		if d, err := newStore(f).Acquire(ctx, "k", cc, "me", now); err != nil || !d.Allowed {
			t.Fatalf("Acquire: %+v, %v; want a grant", d, err)
		}
		in := f.updates[1]
		if c := *in.ConditionExpression; !strings.HasPrefix(c, "(size(#h) <= :bound AND attribute_exists(#h.#id))") {
			t.Errorf("condition %q; want a size-bounded grant over the expired own lease, not a renewal", c)
		}
		if got := values(in, ":bound"); got != "2" {
			t.Errorf(":bound = %s; want 2 (Limit: the own lease is replaced, not added)", got)
		}
	})

	t.Run("a lease expiring now is not counted as held", func(t *testing.T) {
		three := core.NewConcurrency("c3", 3, time.Minute)
		f := &fake{answers: []answer{{item: item("h", leaseMap(map[string]int64{"me": live, "a": ns}))}}}
		d, err := newStore(f).Acquire(ctx, "k", three, "me", now)
		if err != nil || !d.Allowed || d.Remaining != 2 {
			t.Fatalf("Acquire: %+v, %v; want a grant with 2 remaining", d, err)
		}
	})

	t.Run("too many expired leases: removed first, granted after", func(t *testing.T) {
		one := core.NewConcurrency("c1", 1, time.Minute)
		expired := map[string]int64{}
		for i := range 33 { // maxReclaim (32) + 1, all expired: after the removal one is left
			expired[strconv.Itoa(i)] = ns - 1
		}
		f := &fake{answers: []answer{
			{fail: true, item: item("h", leaseMap(expired))},
			{}, // the removal
			{item: item("h", leaseMap(map[string]int64{"me": live}))},
		}}
		if d, err := newStore(f).Acquire(ctx, "k", one, "me", now); err != nil || !d.Allowed {
			t.Fatalf("Acquire: %+v, %v; want a grant", d, err)
		}
		if len(f.updates) != 3 {
			t.Fatalf("%d updates; want 3 (fail, removal, grant)", len(f.updates))
		}
		rm := f.updates[1]
		if u := *rm.UpdateExpression; !strings.HasPrefix(u, "REMOVE #h.#e0, ") || strings.Contains(u, "SET") {
			t.Errorf("second update %q; want a removal of expired leases only", u)
		}
		if c := *rm.ConditionExpression; !strings.HasPrefix(c, "attribute_exists(#h) AND #h.#e0 <= :now") || strings.Count(c, "<= :now") != 32 {
			t.Errorf("removal condition %q; want the 32 removed leases still expired", c)
		}
	})

	t.Run("the release watermark lives as long as the lease", func(t *testing.T) {
		f := &fake{answers: []answer{{fail: true}, {}}}
		if err := newStore(f).Release(ctx, "k", cc, "gone", now); err != nil {
			t.Fatalf("Release: %v", err)
		}
		want := strconv.FormatInt((ns+int64(time.Minute))/int64(time.Second)+int64(dynamostore.TTLGrace/time.Second), 10)
		if len(f.updates) != 2 || values(f.updates[1], ":exp") != want {
			t.Fatalf("watermark write %d updates, :exp %s; want 2 updates, :exp %s (the lease's end + TTLGrace)", len(f.updates), values(f.updates[len(f.updates)-1], ":exp"), want)
		}
	})

	t.Run("a lost race waits for the next live lease, not one expiring now", func(t *testing.T) {
		var as []answer
		for range 8 {
			as = append(as, answer{fail: true}, answer{item: item("h", leaseMap(map[string]int64{"a": ns}))})
		}
		d, err := newStore(&fake{answers: as}).Acquire(ctx, "k", cc, "me", now)
		if err != nil || d.Allowed || d.RetryAfter != storekit.ConcurrencyRetryAfter {
			t.Fatalf("Acquire: %+v, %v; want a denial with RetryAfter %v", d, err, storekit.ConcurrencyRetryAfter)
		}
	})
}

// TestDecisionEdges pins the rate decisions' requests at their edges: a read after a failed
// write that shows room (the item was reset in between) retries the write rather than
// answering; a sliding window whose room is exactly 0 writes before it admits; the expiry each
// write carries; and the token bucket's two update forms at a TAT exactly now.
func TestDecisionEdges(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	newStore := func(f *fake) *dynamostore.Store {
		s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	value := func(in *dynamodb.UpdateItemInput, name string) string {
		v, ok := in.ExpressionAttributeValues[name].(*types.AttributeValueMemberN)
		if !ok {
			return "<none>"
		}
		return v.Value
	}
	ttlOf := func(ns int64) string {
		sec := ns / int64(time.Second)
		if ns%int64(time.Second) > 0 {
			sec++
		}
		return strconv.FormatInt(sec+int64(dynamostore.TTLGrace/time.Second), 10)
	}

	t.Run("fixed window: reset between write and read, retried", func(t *testing.T) {
		fw := core.NewFixedWindow("fw", 10, time.Minute)
		_, end := fw.WindowBounds(ns)
		f := &fake{answers: []answer{{fail: true}, {item: item("n", n(0))}, {item: item("n", n(2))}}}
		d, err := newStore(f).Take(ctx, "k", fw, 2, now)
		if err != nil || !d.Allowed || d.Remaining != 8 {
			t.Fatalf("Take: %+v, %v; want the retried write's grant, 8 remaining", d, err)
		}
		if len(f.updates) != 2 || f.gets != 1 {
			t.Fatalf("%d updates, %d reads; want the write retried once after one read", len(f.updates), f.gets)
		}
		if got := value(f.updates[0], ":exp"); got != ttlOf(end) {
			t.Errorf(":exp %s; want %s (the window's end + TTLGrace)", got, ttlOf(end))
		}
	})

	t.Run("sliding window: reset between write and read, retried", func(t *testing.T) {
		sw := core.NewSlidingWindow("sw", 10, time.Minute)
		_, end := sw.WindowBounds(ns)
		f := &fake{answers: []answer{{item: item("n", n(0))}, {fail: true}, {item: item("n", n(0))}, {item: item("n", n(2))}}}
		d, err := newStore(f).Take(ctx, "k", sw, 2, now)
		if err != nil || !d.Allowed {
			t.Fatalf("Take: %+v, %v; want the retried write's grant", d, err)
		}
		if len(f.updates) != 2 {
			t.Fatalf("%d updates; want the write retried once", len(f.updates))
		}
		// The item is read as the previous window for a whole window after this one.
		if got := value(f.updates[0], ":exp"); got != ttlOf(end+int64(time.Minute)) {
			t.Errorf(":exp %s; want %s (the next window's end + TTLGrace)", got, ttlOf(end+int64(time.Minute)))
		}
	})

	t.Run("sliding window: room exactly 0 still writes", func(t *testing.T) {
		sw := core.NewSlidingWindow("sw0", 2, time.Minute)
		// previous 0; cost 2 = limit: room 0. The write fails, the read shows 0 (a reset):
		// the decision must come from a write, not from that read.
		f := &fake{answers: []answer{{item: item("n", n(0))}, {fail: true}, {item: item("n", n(0))}, {item: item("n", n(2))}}}
		d, err := newStore(f).Take(ctx, "k", sw, 2, now)
		if err != nil || !d.Allowed {
			t.Fatalf("Take: %+v, %v; want a grant", d, err)
		}
		if len(f.updates) != 2 {
			t.Fatalf("%d updates; want 2: a grant read off a reset item without writing would not count the cost", len(f.updates))
		}
	})

	tb := core.NewTokenBucket("tb", 10, time.Second, 5) // interval 100ms, tau 500ms
	iv := int64(tb.EmissionInterval())
	t.Run("token bucket: expiry of both update forms", func(t *testing.T) {
		f := &fake{answers: []answer{{}, {item: item("tat", n(ns+2*iv))}}}
		s := newStore(f)
		if _, err := s.Take(ctx, "k", tb, 1, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Take(ctx, "k", tb, 1, now); err != nil {
			t.Fatal(err)
		}
		for i, in := range f.updates {
			if got, want := value(in, ":exp"), ttlOf(ns+5*iv); got != want {
				t.Errorf("update %d :exp %s; want %s (now + the bucket's capacity + TTLGrace)", i, got, want)
			}
		}
		if got := value(f.updates[1], ":max"); got != strconv.FormatInt(ns+5*iv-iv, 10) {
			t.Errorf(":max %s; want now + tau - cost", got)
		}
	})

	t.Run("token bucket: a TAT exactly now is a full bucket", func(t *testing.T) {
		// The first Take leaves the TAT at now+1 interval in the cache; the second, one
		// interval later, meets it exactly: the set form, not the increment (whose
		// condition #t > :now would fail).
		f := &fake{answers: []answer{{}, {}}}
		s := newStore(f)
		if _, err := s.Take(ctx, "k", tb, 1, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Take(ctx, "k", tb, 1, now.Add(time.Duration(iv))); err != nil {
			t.Fatal(err)
		}
		if c := *f.updates[1].ConditionExpression; !strings.HasPrefix(c, "attribute_not_exists(#t) OR #t <= :now") {
			t.Errorf("second update's condition %q; want the set form", c)
		}
	})

	t.Run("token bucket: set form failed at a TAT exactly now, increment at once", func(t *testing.T) {
		f := &fake{answers: []answer{{}, {fail: true}, {item: item("tat", n(ns+iv+2*iv))}}}
		s := newStore(f)
		if _, err := s.Take(ctx, "k", tb, 1, now); err != nil {
			t.Fatal(err)
		}
		d, err := s.Take(ctx, "k", tb, 1, now.Add(time.Duration(iv)))
		if err != nil || !d.Allowed {
			t.Fatalf("Take: %+v, %v; want a grant", d, err)
		}
		if f.gets != 0 || len(f.updates) != 3 || !strings.HasPrefix(*f.updates[2].ConditionExpression, "#t > :now AND #t <= :max") {
			t.Fatalf("%d reads, %d updates; want no read and the increment form third", f.gets, len(f.updates))
		}
	})
}
