package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
	"github.com/tollgate-go/tollgate/core/storekit"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// TestAdjustWrites drives Adjust against the scripted fake: each case makes the server
// answer as DynamoDB would (including what dynalite cannot: the item of a failed condition)
// and checks the decision against storekit.Adjust on the state the answers reveal, the
// number of calls, and the expressions sent.
func TestAdjustWrites(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	fw := core.NewFixedWindow("fw", 10, time.Minute)
	start, _ := fw.WindowBounds(ns)
	sw := core.NewSlidingWindow("sw", 10, time.Minute)
	swStart, _ := sw.WindowBounds(ns)
	tb := core.NewTokenBucket("tb", 10, time.Second, 5) // interval 100ms, capacity 5
	iv := int64(tb.EmissionInterval())

	cases := []struct {
		name    string
		p       core.Policy
		delta   int64
		answers []answer
		before  storekit.State // the state before the adjustment, which the answers reveal
		updates int
		gets    int
		exprs   []string // a substring of each UpdateItem's update and condition expressions
	}{
		{
			name: "fixed window charge: one ADD, no condition", p: fw, delta: 3,
			answers: []answer{{item: item("n", n(7))}},
			before:  storekit.State{Window: start, Count: 4}, updates: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "fixed window charge into debt", p: fw, delta: 9,
			answers: []answer{{item: item("n", n(17))}},
			before:  storekit.State{Window: start, Count: 8}, updates: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "fixed window refund within the count", p: fw, delta: -3,
			answers: []answer{{item: item("n", n(2))}},
			before:  storekit.State{Window: start, Count: 5}, updates: 1,
			exprs: []string{"ADD #n :delta|#n >= :abs"},
		},
		{
			name: "refund past zero: a second write sets 0", p: fw, delta: -3,
			answers: []answer{{fail: true}, {}},
			before:  storekit.State{Window: start, Count: 2}, updates: 2,
			exprs: []string{"ADD #n :delta|#n >= :abs", "SET #n = :zero|attribute_not_exists(#n) OR #n < :abs"},
		},
		{
			name: "refund of an empty count known from ALL_OLD: nothing more", p: fw, delta: -3,
			answers: []answer{{fail: true, item: item("n", n(0))}},
			before:  storekit.State{Window: start}, updates: 1,
			exprs: []string{"ADD #n :delta|#n >= :abs"},
		},
		{
			name: "refund past zero while others spend: the ADD again", p: fw, delta: -3,
			answers: []answer{{fail: true}, {fail: true}, {item: item("n", n(4))}},
			before:  storekit.State{Window: start, Count: 7}, updates: 3,
			exprs: []string{"ADD #n :delta|#n >= :abs", "SET #n = :zero|#n < :abs", "ADD #n :delta|#n >= :abs"},
		},
		{
			name: "sliding window: the previous window read, then one ADD", p: sw, delta: 2,
			answers: []answer{{item: item("n", n(6))}, {item: item("n", n(3))}},
			before:  storekit.State{Window: swStart, Count: 1, Prev: 6}, updates: 1, gets: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "token bucket charge, cold cache: full-bucket guess fails, TAT + off", p: tb, delta: 3,
			answers: []answer{{fail: true}, {item: item("tat", n(ns+5*iv))}},
			before:  storekit.State{TAT: ns + 2*iv}, updates: 2,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h", "SET #t = #t + :off, #exp = if_not_exists(#exp, :exp) + :offs|#t > :h"},
		},
		{
			name: "token bucket charge on a full bucket", p: tb, delta: 2,
			answers: []answer{{}},
			before:  storekit.State{TAT: ns - 7*iv}, updates: 1,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h"},
		},
		{
			name: "token bucket refund to full", p: tb, delta: -4,
			answers: []answer{{}},
			before:  storekit.State{TAT: ns + 3*iv}, updates: 1,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h"},
		},
		{
			name: "token bucket refund of part of a debt", p: tb, delta: -2,
			answers: []answer{{fail: true}, {item: item("tat", n(ns+7*iv))}},
			before:  storekit.State{TAT: ns + 9*iv}, updates: 2,
			exprs: []string{"SET #t = :a|#t <= :h", "SET #t = #t + :off|#t > :h"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{answers: c.answers}
			s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
			if err != nil {
				t.Fatal(err)
			}
			_, want := storekit.Adjust(c.p, c.before, c.delta, now.UnixNano())
			got, err := s.Adjust(ctx, "k", c.p, c.delta, now)
			if err != nil {
				t.Fatalf("Adjust: %v", err)
			}
			if got != want {
				t.Errorf("decision\n got  %+v\n want %+v", got, want)
			}
			if len(f.updates) != c.updates || f.gets != c.gets {
				t.Errorf("%d UpdateItem and %d GetItem; want %d and %d", len(f.updates), f.gets, c.updates, c.gets)
			}
			for i, in := range f.updates {
				if i >= len(c.exprs) {
					break
				}
				update, cond, _ := strings.Cut(c.exprs[i], "|")
				gotCond := ""
				if in.ConditionExpression != nil {
					gotCond = *in.ConditionExpression
				}
				if !strings.Contains(*in.UpdateExpression, update) || (cond == "") != (gotCond == "") || !strings.Contains(gotCond, cond) {
					t.Errorf("update %d: %q if %q; want %q if %q", i, *in.UpdateExpression, gotCond, update, cond)
				}
				if in.ReturnValuesOnConditionCheckFailure != types.ReturnValuesOnConditionCheckFailureAllOld {
					t.Errorf("update %d does not ask for ALL_OLD on a failed condition", i)
				}
				for name := range in.ExpressionAttributeNames {
					if !strings.Contains(*in.UpdateExpression+gotCond, name) {
						t.Errorf("update %d names %s without using it (DynamoDB refuses that)", i, name)
					}
				}
			}
		})
	}
}

// TestAdjustThenTakeInDebt: after a charge past the limit, a sliding window's denied take of
// cost 1 must read the count (when the server does not return it) to tell how long the debt
// lasts; the count is not simply the limit minus the weighted previous count.
func TestAdjustThenTakeInDebt(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := core.NewSlidingWindow("sw", 10, time.Minute)
	start, _ := p.WindowBounds(now.UnixNano())
	f := &fake{answers: []answer{
		{item: item("n", n(0))},  // the previous window
		{fail: true},             // the take's condition fails; dynalite returns no item
		{item: item("n", n(15))}, // the count, in debt
	}}
	s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
	got, err := s.Take(context.Background(), "k", p, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	_, want := storekit.Take(p, storekit.State{Window: start, Count: 15}, 1, now.UnixNano())
	if got != want {
		t.Fatalf("denied take in debt:\n got  %+v\n want %+v", got, want)
	}
	if f.gets != 2 {
		t.Fatalf("%d GetItem; want 2 (the previous window, then the current count)", f.gets)
	}
}

// TestAdjustBadInput: bad input changes nothing and makes no call.
func TestAdjustBadInput(t *testing.T) {
	f := &fake{}
	s, _ := dynamostore.New(f, dynamostore.Config{Table: "t"})
	ctx := context.Background()
	if _, err := s.Adjust(ctx, "k", core.NewConcurrency("c", 1, time.Minute), 1, time.Now()); !errors.Is(err, core.ErrInvalidPolicy) {
		t.Errorf("concurrency policy: %v; want core.ErrInvalidPolicy", err)
	}
	if _, err := s.Adjust(ctx, strings.Repeat("k", 1<<20+1), core.NewFixedWindow("fw", 1, time.Minute), 1, time.Now()); !errors.Is(err, core.ErrInvalidKey) {
		t.Errorf("oversized key: %v; want core.ErrInvalidKey", err)
	}
	boom := errors.New("boom")
	f.answers = []answer{{err: boom}}
	if _, err := s.Adjust(ctx, "k", core.NewFixedWindow("fw", 1, time.Minute), 1, time.Now()); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "dynamostore: ") {
		t.Errorf("backend failure: %v; want the SDK's error wrapped, prefixed dynamostore:", err)
	}
}

// TestRequestsPerAdjust counts DynamoDB calls per Adjust on dynalite, through the counting
// client: one UpdateItem in the common case (a charge, a refund within what was spent, on a
// key whose sliding-window previous count or token-bucket TAT this Store knows), and the
// settlement of a request (a Take of the estimate, an Adjust when the real cost differs).
// Every decision is also checked against core's pure algorithm.
func TestRequestsPerAdjust(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour).Add(time.Minute)
	api, _ := sharedTable(t)
	for _, p := range []core.Policy{
		core.NewFixedWindow(testenv.UniqueName("adj-count-fw"), 1000, time.Hour),
		core.NewSlidingWindow(testenv.UniqueName("adj-count-sw"), 1000, time.Hour),
		core.NewTokenBucket(testenv.UniqueName("adj-count-tb"), 1, time.Hour, 1000),
	} {
		t.Run(p.Algorithm.String(), func(t *testing.T) {
			c := &counting{API: api}
			s := newStore(t, c)
			var st storekit.State
			check := func(what string, got core.Decision, err error, want core.Decision) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got != want {
					t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
				}
			}
			take := func(cost int64) {
				var want core.Decision
				st, want = storekit.Take(p, st, cost, now.UnixNano())
				got, err := s.Take(ctx, "k", p, cost, now)
				check(fmt.Sprintf("take %d", cost), got, err, want)
			}
			adjust := func(delta int64) {
				var want core.Decision
				st, want = storekit.Adjust(p, st, delta, now.UnixNano())
				got, err := s.Adjust(ctx, "k", p, delta, now)
				check(fmt.Sprintf("adjust %+d", delta), got, err, want)
			}
			take(10) // first decision: the sliding window reads its previous window here

			const adjusts = 20
			updates := c.updates.Load()
			n := measure(c, func() {
				for i := range adjusts {
					adjust([]int64{7, -3, 12, -5}[i%4]) // charges, and refunds within the count
				}
			})
			t.Logf("%s: %d adjustments (charges and refunds): %d requests, %d of them UpdateItem = %.2f requests per Adjust",
				p.Algorithm, adjusts, n, c.updates.Load()-updates, float64(n)/adjusts)
			if n != adjusts {
				t.Errorf("%d adjustments took %d requests; want one UpdateItem each", adjusts, n)
			}

			// Settling requests: a Take of the estimate, then an Adjust unless it was right.
			const requests = 12
			settled := 0
			n = measure(c, func() {
				for i := range requests {
					take(5)
					if delta := []int64{0, 4, -2}[i%3]; delta != 0 {
						adjust(delta)
						settled++
					}
				}
			})
			t.Logf("%s: %d requests reserving 5, %d settled at another cost: %d requests (1 when the estimate was right, 2 otherwise)",
				p.Algorithm, requests, settled, n)
			if n != int64(requests+settled) {
				t.Errorf("%d requests with %d settlements took %d DynamoDB requests; want %d", requests, settled, n, requests+settled)
			}

			// The uncommon case: a refund of more than what is left.
			n = measure(c, func() { adjust(-100_000) })
			t.Logf("%s: a refund of more than was spent: %d requests", p.Algorithm, n)
			want := int64(1)
			if p.Algorithm != core.TokenBucket {
				want = 2 // the conditional ADD fails (dynalite returns no item), then SET n = 0
			}
			if n != want {
				t.Errorf("a refund of more than was spent: %d requests; want %d", n, want)
			}
		})
	}
}

// measure returns the DynamoDB calls c saw during fn.
func measure(c *counting, fn func()) int64 {
	before := c.total()
	fn()
	return c.total() - before
}

// TestAdjustKeepsTheItemThroughTheDebt: a token-bucket Adjust writes an expiry (DynamoDB TTL,
// whole seconds, plus TTLGrace) that lasts until the new TAT — the bucket's state matters
// until then, and a debt can take it far past now + the bucket's capacity — and, on a full
// bucket, until the bucket would have refilled.
func TestAdjustKeepsTheItemThroughTheDebt(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	ns := now.UnixNano()
	tb := core.NewTokenBucket("tb", 10, time.Second, 5) // interval 100ms, capacity 5: refilled in 500ms
	iv := int64(tb.EmissionInterval())
	grace := int64(dynamostore.TTLGrace / time.Second)
	val := func(in *dynamodb.UpdateItemInput, name string) int64 {
		t.Helper()
		v, ok := in.ExpressionAttributeValues[name].(*types.AttributeValueMemberN)
		if !ok {
			t.Fatalf("update %q has no number %s", *in.UpdateExpression, name)
		}
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	sec := func(ns int64) int64 { return (ns + int64(time.Second) - 1) / int64(time.Second) }

	// A full bucket, a small charge: the expiry is the refill time, past the new TAT.
	f := &fake{answers: []answer{{}}}
	s, err := dynamostore.New(f, dynamostore.Config{Table: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Adjust(ctx, "k", tb, 2, now); err != nil {
		t.Fatal(err)
	}
	if got, want := val(f.updates[0], ":a"), ns+2*iv; got != want {
		t.Errorf("full bucket, charge 2: TAT %d, want %d", got, want)
	}
	if got, want := val(f.updates[0], ":exp"), sec(ns+5*iv)+grace; got != want {
		t.Errorf("full bucket, charge 2: expiry %d, want %d (refilled at now + 500ms, plus the grace)", got, want)
	}

	// A bucket that takes 5 s to refill (capacity 50): the expiry is that far out, though
	// the TAT moved only 200ms.
	tb50 := core.NewTokenBucket("tb50", 10, time.Second, 50)
	f = &fake{answers: []answer{{}}}
	s, _ = dynamostore.New(f, dynamostore.Config{Table: "t"})
	if _, err := s.Adjust(ctx, "k", tb50, 2, now); err != nil {
		t.Fatal(err)
	}
	if got, want := val(f.updates[0], ":exp"), sec(ns+50*iv)+grace; got != want {
		t.Errorf("full 50-token bucket, charge 2: expiry %d, want %d (refilled at now + 5 s, plus the grace)", got, want)
	}

	// A full bucket, a charge deep into debt: the expiry follows the TAT, 10 s out.
	f = &fake{answers: []answer{{}}}
	s, _ = dynamostore.New(f, dynamostore.Config{Table: "t"})
	if _, err := s.Adjust(ctx, "k", tb, 100, now); err != nil {
		t.Fatal(err)
	}
	if got, want := val(f.updates[0], ":exp"), sec(ns+100*iv)+grace; got != want {
		t.Errorf("full bucket, charge 100: expiry %d, want %d (the TAT, 10 s out, plus the grace)", got, want)
	}

	// A bucket in use (the full-bucket guess fails): TAT + off, and the expiry moves as far,
	// rounded up to whole seconds, from at least the refill time.
	f = &fake{answers: []answer{{fail: true}, {item: item("tat", n(ns+32*iv))}}}
	s, _ = dynamostore.New(f, dynamostore.Config{Table: "t"})
	if _, err := s.Adjust(ctx, "k", tb, 25, now); err != nil {
		t.Fatal(err)
	}
	if len(f.updates) != 2 {
		t.Fatalf("%d updates, want 2 (the guess, then TAT + off)", len(f.updates))
	}
	in := f.updates[1]
	if got, want := val(in, ":off"), 25*iv; got != want {
		t.Errorf("in use, charge 25: off %d, want %d", got, want)
	}
	if got, want := val(in, ":offs"), sec(25*iv); got != want {
		t.Errorf("in use, charge 25: the expiry moves %d s, want %d (2.5 s rounded up)", got, want)
	}
	if got, want := val(in, ":exp"), sec(ns+5*iv)+grace; got != want {
		t.Errorf("in use, charge 25: a missing expiry starts at %d, want %d", got, want)
	}
	// A whole number of seconds moves the expiry by exactly that many.
	f = &fake{answers: []answer{{fail: true}, {item: item("tat", n(ns+12*iv))}}}
	s, _ = dynamostore.New(f, dynamostore.Config{Table: "t"})
	if _, err := s.Adjust(ctx, "k", tb, 10, now); err != nil {
		t.Fatal(err)
	}
	if got := val(f.updates[1], ":offs"); got != 1 {
		t.Errorf("in use, charge 10 (1 s): the expiry moves %d s, want 1", got)
	}
}
