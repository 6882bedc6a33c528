package storekit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/storekit"
)

// TestCheckTake: the arguments every store checks before a Take.
func TestCheckTake(t *testing.T) {
	p := core.NewTokenBucket("tb", 10, time.Second, 4)
	cases := []struct {
		p    core.Policy
		cost int64
		want error
	}{
		{p, 0, nil}, {p, 4, nil},
		{p, -1, core.ErrNegativeCost},
		{p, 5, core.ErrCostExceedsCapacity},
		{core.NewConcurrency("c", 1, time.Second), 1, core.ErrInvalidPolicy},
		{core.NewFixedWindow("", 1, time.Second), 1, core.ErrInvalidPolicy},
	}
	for _, c := range cases {
		err := storekit.CheckTake(c.p, c.cost)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("CheckTake(%s, %d) = %v, want %v", c.p.Name, c.cost, err, c.want)
		}
	}
}

// TestCheckAdjust: a valid rate policy.
func TestCheckAdjust(t *testing.T) {
	if err := storekit.CheckAdjust(core.NewFixedWindow("p", 1, time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []core.Policy{core.NewConcurrency("c", 1, time.Second), core.NewFixedWindow("p", 0, time.Second)} {
		if err := storekit.CheckAdjust(p); !errors.Is(err, core.ErrInvalidPolicy) {
			t.Errorf("CheckAdjust(%+v) = %v", p, err)
		}
	}
}

// TestCheckLease: a concurrency policy and a lease id of 1 to 128 printable ASCII bytes
// without spaces.
func TestCheckLease(t *testing.T) {
	c := core.NewConcurrency("c", 1, time.Second)
	cases := []struct {
		p    core.Policy
		id   string
		want error
	}{
		{c, "x", nil},
		{c, strings.Repeat("a", 128), nil},
		{c, "!~", nil},
		{c, "", core.ErrInvalidKey},
		{c, strings.Repeat("a", 129), core.ErrInvalidKey},
		{c, "a b", core.ErrInvalidKey},
		{c, "a\x7f", core.ErrInvalidKey},
		{c, "\x20", core.ErrInvalidKey},
		{c, "ab\x00", core.ErrInvalidKey},
		{core.NewFixedWindow("p", 1, time.Second), "x", core.ErrInvalidPolicy},
		{core.NewConcurrency("c", 1, 0), "x", core.ErrInvalidPolicy},
	}
	for _, k := range cases {
		err := storekit.CheckLease(k.p, k.id)
		if k.want == nil && err != nil || k.want != nil && !errors.Is(err, k.want) {
			t.Errorf("CheckLease(%s, %q) = %v, want %v", k.p.Name, k.id, err, k.want)
		}
	}
}
