package nethttp_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/memstore"
)

// TestConstructionRefusals: a nil limiter or an invalid option is refused when the
// middleware is built (a panic naming the field, as http.Handle does with a bad pattern),
// never on a request; New returns the error.
func TestConstructionRefusals(t *testing.T) {
	l, err := core.NewLimiter(core.Config{Store: memstore.New(), Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, field string
		build       func()
	}{
		{"nil limiter", "RateLimit's limiter", func() { nethttp.RateLimit(nil, nethttp.Options{}) }},
		{"nil concurrency limiter", "Concurrency's limiter", func() { nethttp.Concurrency(nil, nethttp.ConcurrencyOptions{}) }},
		{"status 403", "Options.MissingKeyStatus", func() { nethttp.RateLimit(l, nethttp.Options{MissingKeyStatus: 403}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				v := recover()
				if v == nil || !strings.Contains(fmt.Sprint(v), tc.field) {
					t.Fatalf("panic %v, want one naming %s", v, tc.field)
				}
			}()
			tc.build()
		})
	}
	_, err = nethttp.New(core.Config{Rules: []core.Rule{{Policy: core.NewFixedWindow("p", 1, time.Minute)}}}, nethttp.Options{MissingKeyStatus: 403})
	if err == nil || !strings.Contains(err.Error(), "Options.MissingKeyStatus") {
		t.Fatalf("New with MissingKeyStatus 403: %v, want an error naming the field", err)
	}
}
