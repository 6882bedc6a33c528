package tollgatelambda

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/reply"
)

// result returns a real decision of a one-limit limiter: allowed (r=1) or, with deny, denied.
func result(t *testing.T, deny bool) core.Result {
	t.Helper()
	now := time.Unix(1_800_000_020, 0)
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Key: core.KeyStatic("k"), Now: func() time.Time { return now },
		Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 2, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	var res core.Result
	for range map[bool]int{false: 1, true: 3}[deny] {
		if res, err = l.AllowKey(context.Background(), "k", 1); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// TestAddHeaders: the fields are added to the response's maps without writing the maps the
// handler returned (they may be shared), in front of a field that is already there, in the
// multi-value map when the field is there, whatever the case; Retry-After replaces.
func TestAddHeaders(t *testing.T) {
	allowed, denied := result(t, false), result(t, true)
	for _, tc := range []struct {
		name   string
		res    core.Result
		h      map[string]string
		mv     map[string][]string
		wantH  map[string]string
		wantMV map[string][]string
	}{
		{"nil maps", allowed, nil, nil,
			map[string]string{"RateLimit-Policy": `"p";q=2;w=60`, "RateLimit": `"p";r=1;t=40`}, nil},
		{"handler headers kept", allowed, map[string]string{"Content-Type": "text/plain"}, nil,
			map[string]string{"Content-Type": "text/plain", "RateLimit-Policy": `"p";q=2;w=60`, "RateLimit": `"p";r=1;t=40`}, nil},
		{"inner middleware's fields come after", allowed,
			map[string]string{"ratelimit-policy": `"inner";q=5;w=60`, "ratelimit": `"inner";r=4;t=40`}, nil,
			map[string]string{"ratelimit-policy": `"p";q=2;w=60, "inner";q=5;w=60`, "ratelimit": `"p";r=1;t=40, "inner";r=4;t=40`}, nil},
		{"multi-value field", allowed, nil, map[string][]string{"RateLimit": {`"inner";r=4;t=40`}},
			map[string]string{"RateLimit-Policy": `"p";q=2;w=60`},
			map[string][]string{"RateLimit": {`"p";r=1;t=40`, `"inner";r=4;t=40`}}},
		{"Retry-After replaced", denied, map[string]string{"retry-after": "999"}, nil,
			map[string]string{"retry-after": "40", "RateLimit-Policy": `"p";q=2;w=60`, "RateLimit": `"p";r=0;t=40`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h0, mv0 := maps.Clone(tc.h), cloneMV(tc.mv)
			h, mv := addHeaders(tc.h, tc.mv, &tc.res, reply.HeaderOptions{}, nil)
			if !reflect.DeepEqual(h, tc.wantH) || !reflect.DeepEqual(mv, tc.wantMV) {
				t.Fatalf("headers %q multi %q\nwant    %q multi %q", h, mv, tc.wantH, tc.wantMV)
			}
			if !reflect.DeepEqual(tc.h, h0) || !reflect.DeepEqual(tc.mv, mv0) {
				t.Fatalf("the handler's maps were written: %q %q, were %q %q", tc.h, tc.mv, h0, mv0)
			}
		})
	}
	t.Run("Omit writes nothing on an allowed request", func(t *testing.T) {
		h := map[string]string{"A": "b"}
		got, _ := addHeaders(h, nil, &allowed, reply.HeaderOptions{Omit: true}, nil)
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("headers %q, want %q", got, h)
		}
	})
}

func cloneMV(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TestOutcome: a handler error is a 502, a zero status a 200, and a base64 body counts its
// decoded bytes.
func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		status  int
		body    string
		b64     bool
		err     error
		wantS   int
		wantLen int64
	}{
		{0, "hello", false, nil, 200, 5},
		{404, "", false, nil, 404, 0},
		{200, "aGVsbG8=", true, nil, 200, 5},
		{200, "aGk=", true, nil, 200, 2},
		{200, "aGVsbG8h", true, nil, 200, 6},
		{200, "ok", false, context.DeadlineExceeded, 502, 0},
	} {
		s, n := outcome(tc.status, tc.body, tc.b64, tc.err)
		if s != tc.wantS || n != tc.wantLen {
			t.Errorf("outcome(%d, %q, %v, %v) = %d, %d; want %d, %d", tc.status, tc.body, tc.b64, tc.err, s, n, tc.wantS, tc.wantLen)
		}
	}
}
