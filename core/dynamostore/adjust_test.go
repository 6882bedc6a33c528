package dynamostore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/dynamostore"
)

// TestAdjustWrites drives Adjust against the scripted fake: each case makes the server
// answer as DynamoDB would (including what dynalite cannot: the item of a failed condition)
// and checks the decision against core's Policy.Adjust on the state the answers reveal, the
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
		before  core.State // the state before the adjustment, which the answers reveal
		updates int
		gets    int
		exprs   []string // a substring of each UpdateItem's update and condition expressions
	}{
		{
			name: "fixed window charge: one ADD, no condition", p: fw, delta: 3,
			answers: []answer{{item: item("n", n(7))}},
			before:  core.State{Window: start, Count: 4}, updates: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "fixed window charge into debt", p: fw, delta: 9,
			answers: []answer{{item: item("n", n(17))}},
			before:  core.State{Window: start, Count: 8}, updates: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "fixed window refund within the count", p: fw, delta: -3,
			answers: []answer{{item: item("n", n(2))}},
			before:  core.State{Window: start, Count: 5}, updates: 1,
			exprs: []string{"ADD #n :delta|#n >= :abs"},
		},
		{
			name: "refund past zero: a second write sets 0", p: fw, delta: -3,
			answers: []answer{{fail: true}, {}},
			before:  core.State{Window: start, Count: 2}, updates: 2,
			exprs: []string{"ADD #n :delta|#n >= :abs", "SET #n = :zero|attribute_not_exists(#n) OR #n < :abs"},
		},
		{
			name: "refund of an empty count known from ALL_OLD: nothing more", p: fw, delta: -3,
			answers: []answer{{fail: true, item: item("n", n(0))}},
			before:  core.State{Window: start}, updates: 1,
			exprs: []string{"ADD #n :delta|#n >= :abs"},
		},
		{
			name: "refund past zero while others spend: the ADD again", p: fw, delta: -3,
			answers: []answer{{fail: true}, {fail: true}, {item: item("n", n(4))}},
			before:  core.State{Window: start, Count: 7}, updates: 3,
			exprs: []string{"ADD #n :delta|#n >= :abs", "SET #n = :zero|#n < :abs", "ADD #n :delta|#n >= :abs"},
		},
		{
			name: "sliding window: the previous window read, then one ADD", p: sw, delta: 2,
			answers: []answer{{item: item("n", n(6))}, {item: item("n", n(3))}},
			before:  core.State{Window: swStart, Count: 1, Prev: 6}, updates: 1, gets: 1,
			exprs: []string{"ADD #n :delta|"},
		},
		{
			name: "token bucket charge, cold cache: full-bucket guess fails, TAT + off", p: tb, delta: 3,
			answers: []answer{{fail: true}, {item: item("tat", n(ns+5*iv))}},
			before:  core.State{TAT: ns + 2*iv}, updates: 2,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h", "SET #t = #t + :off, #exp = if_not_exists(#exp, :exp) + :offs|#t > :h"},
		},
		{
			name: "token bucket charge on a full bucket", p: tb, delta: 2,
			answers: []answer{{}},
			before:  core.State{TAT: ns - 7*iv}, updates: 1,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h"},
		},
		{
			name: "token bucket refund to full", p: tb, delta: -4,
			answers: []answer{{}},
			before:  core.State{TAT: ns + 3*iv}, updates: 1,
			exprs: []string{"SET #t = :a|attribute_not_exists(#t) OR #t <= :h"},
		},
		{
			name: "token bucket refund of part of a debt", p: tb, delta: -2,
			answers: []answer{{fail: true}, {item: item("tat", n(ns+7*iv))}},
			before:  core.State{TAT: ns + 9*iv}, updates: 2,
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
			_, want := c.p.Adjust(c.before, c.delta, now)
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
	_, want := p.Take(core.State{Window: start, Count: 15}, 1, now)
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
