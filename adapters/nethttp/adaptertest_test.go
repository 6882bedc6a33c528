package nethttp_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-go/tollgate/adapters/adaptertest"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
	"github.com/tollgate-go/tollgate/core"
)

// TestConformance runs the shared adapter suite against the net/http middleware: the global
// guard wraps the ServeMux, a route's guard wraps that route's handler (where
// http.Request.Pattern is set).
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		New: func(t *testing.T, s adaptertest.Setup) adaptertest.Transport {
			mux := http.NewServeMux()
			for _, rt := range s.Routes {
				work, status, cost := rt.Work, rt.Status, rt.ReportCost
				var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if work != nil {
						work()
					}
					if cost > 0 {
						core.ReportCost(r.Context(), cost)
					}
					w.Header().Set("Content-Type", "text/plain")
					if status != 0 {
						w.WriteHeader(status)
					}
					_, _ = io.WriteString(w, adaptertest.OK)
				})
				mux.Handle(rt.Pattern, guard(rt.Guard, nil)(h))
			}
			return adaptertest.ServeHTTP(adaptertest.Recover(guard(s.Global, mux)(mux)))
		},
		Route: func(p string) string { return p },
	})
}

// guard returns the middleware of g (the identity for an empty guard).
func guard(g adaptertest.Guard, mux *http.ServeMux) func(http.Handler) http.Handler {
	o := nethttp.Options{MissingKeyStatus: g.MissingKeyStatus, Headers: g.Headers, Mux: mux,
		SkipFailedRequests: g.SkipFailedRequests, SkipSuccessfulRequests: g.SkipSuccessfulRequests}
	if g.Skip != nil {
		o.Skip = func(r *http.Request) bool { return g.Skip(r.Method, r.URL.Path) }
	}
	return func(h http.Handler) http.Handler {
		if g.Concurrency != nil {
			h = nethttp.Concurrency(g.Concurrency, nethttp.ConcurrencyOptions{Options: o, Wait: g.Wait})(h)
		}
		if g.Limiter != nil {
			h = nethttp.RateLimit(g.Limiter, o)(h)
		}
		return h
	}
}
