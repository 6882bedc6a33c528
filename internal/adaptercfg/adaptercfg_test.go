package adaptercfg

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

func TestMissingKeyStatus(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		err      bool
	}{{0, 400, false}, {400, 400, false}, {401, 401, false}, {403, 0, true}, {200, 0, true}, {-1, 0, true}} {
		got, err := MissingKeyStatus("x: Options.MissingKeyStatus", tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("MissingKeyStatus(%d) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), "Options.MissingKeyStatus") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}

func TestSkipped(t *testing.T) {
	for _, tc := range []struct {
		failed, successful bool
		status             int
		want               bool
	}{
		{true, false, 500, true}, {true, false, 400, true}, {true, false, 399, false},
		{false, true, 200, true}, {false, true, 399, true}, {false, true, 400, false},
		{false, false, 500, false}, {false, false, 200, false},
	} {
		if got := Skipped(tc.failed, tc.successful, tc.status); got != tc.want {
			t.Errorf("Skipped(%v, %v, %d) = %v, want %v", tc.failed, tc.successful, tc.status, got, tc.want)
		}
	}
}

// TestOptions: the shared options check refuses both skip rules and a missing-key status
// other than 400 and 401, naming the options' field, and accepts the defaults.
func TestOptions(t *testing.T) {
	for _, c := range []struct {
		status       int
		failed, succ bool
		want         string // "" for no error
	}{
		{0, false, false, ""},
		{401, true, false, ""},
		{400, false, true, ""},
		{0, true, true, "x: Options.SkipFailedRequests and SkipSuccessfulRequests are both set: no request would count"},
		{403, false, false, "x: Options.MissingKeyStatus is 403; a request without a key is answered 400 (the default) or 401"},
	} {
		err := Options("x: Options", c.status, c.failed, c.succ)
		if got := fmt.Sprint(err); (err == nil) != (c.want == "") || err != nil && got != c.want {
			t.Errorf("Options(%d, %v, %v) = %v, want %q", c.status, c.failed, c.succ, err, c.want)
		}
	}
}

// TestNewLimiter: a nil Store becomes a working in-memory store; a given store is the one
// used; a bad configuration is refused as core.NewLimiter refuses it.
func TestNewLimiter(t *testing.T) {
	rules := []core.Rule{{Policy: core.NewFixedWindow("a", 1, time.Minute)}}
	l, err := NewLimiter(core.Config{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := l.AllowKey(ctx, "k", 1); err != nil || !res.Allowed {
		t.Fatalf("first take: %+v %v", res, err)
	}
	if res, err := l.AllowKey(ctx, "k", 1); err != nil || res.Allowed {
		t.Fatalf("second take: %+v %v; want a denial from the default store", res, err)
	}
	shared := memstore.New()
	for i, want := range []bool{true, false} {
		l, err := NewLimiter(core.Config{Store: shared, Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := l.AllowKey(ctx, "shared", 1); err != nil || res.Allowed != want {
			t.Errorf("limiter %d on the given store: %+v %v; want allowed %v (the store is shared)", i, res, err, want)
		}
	}
	if _, err := NewLimiter(core.Config{}); err == nil || !strings.Contains(err.Error(), "limits") {
		t.Errorf("no rules: %v; want core.NewLimiter's error", err)
	}
}
