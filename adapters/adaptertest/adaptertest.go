// Package adaptertest is the conformance suite every Tollgate framework adapter runs: one table
// of behaviours, driven through HTTP requests into a real app of the framework, so that the
// net/http, Gin, Fiber and Echo adapters answer the same requests the same way.
//
// An adapter's test supplies a [Harness]: a function that builds the framework's app for a
// framework-neutral [Setup] (which limiters guard the whole app, which guard one route, what
// each route's handler does) and returns a [Transport] that serves one *http.Request through
// that app. [Run] then checks, with a fake clock where time matters:
//
//   - allow then deny at the limit, with the handler not run for denials;
//   - RateLimit and RateLimit-Policy on allowed AND denied responses, with exact values, for
//     several limits in one limiter and for a global and a per-route limiter stacked;
//   - Retry-After (delta-seconds, rounded up) on denials only;
//   - the RFC 9457 application/problem+json body of a denial, and no body for HEAD;
//   - keying by client IP behind trusted proxies, and a forged X-Forwarded-For from an
//     untrusted peer that changes nothing;
//   - per-route limits independent of each other, with the matched route pattern visible to
//     [core.KeyByRoute];
//   - the skip function;
//   - key function errors mapped to the configured 400 or 401, with no internal error text;
//   - store failures under fail-open, fail-closed (503, no internal text) and fallback, for
//     rate and concurrency limiters;
//   - the concurrency limit with slow handlers, the lease released after a handler panic, and
//     the lease extended while a handler runs longer than the lease.
//
// The package imports only the standard library and core, so the root module can hold it
// without depending on any framework.
package adaptertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
)

// Harness builds one adapter's app for the suite.
type Harness struct {
	// New builds an app for s, with the framework's panic recovery installed (the suite
	// expects a handler panic to become a 500), and returns the transport into it. It may
	// call t.Fatal; it is called once per case, from the test goroutine.
	New func(t *testing.T, s Setup) Transport
	// Route returns what the adapter reports as [core.Request.Route] inside a route that was
	// registered from the neutral pattern p: p itself for net/http's ServeMux, ":name"
	// parameters for Gin, Echo and Fiber ([ColonPattern]).
	Route func(p string) string
}

// Transport serves one HTTP request through an app and returns the response. The request's
// RemoteAddr is the peer address the app must see. It is called from several goroutines at
// once in the concurrency cases.
type Transport func(r *http.Request) (*http.Response, error)

// Setup is one case's app, in framework-neutral terms.
type Setup struct {
	// Global guards every route: installed the framework's app-wide way (a wrapped mux,
	// r.Use, e.Use, app.Use).
	Global Guard
	// Routes are the routes the app serves, registered for every method. Each answers 200
	// with Content-Type text/plain and body "ok" after Work returns.
	Routes []Route
}

// Route is one route of a [Setup].
type Route struct {
	// Pattern is the route in neutral syntax: a leading slash and {name} parameters, as
	// "/items/{id}". Harnesses translate it ([ColonPattern]).
	Pattern string
	// Guard guards this route only, inside the global guard.
	Guard Guard
	// Work runs in the route's handler before it answers: the suite blocks in it (slow
	// handlers) or panics in it. Nil: answer at once.
	Work func()
	// Status is the status the route answers with (its body is still OK). Zero: 200.
	Status int
	// ReportCost, when positive, is reported as the request's real cost from the handler
	// with core.ReportCost on the request's context (the context the framework gives the
	// handler: r.Context(), c.Request.Context(), c.Request().Context(), c.UserContext()).
	ReportCost int64
}

// Guard is the middleware one place of a [Setup] gets. A zero Guard installs nothing. When
// both limiters are set, the rate limiter runs first.
type Guard struct {
	// Limiter is the rate limiter to install, or nil.
	Limiter *core.Limiter
	// Concurrency is the concurrency limiter to install, or nil.
	Concurrency *core.ConcurrencyLimiter
	// Wait is the concurrency middleware's waiting acquire (its Wait option).
	Wait core.Wait
	// Skip is the adapter's skip function (Skip, Next, Skipper), in neutral terms.
	Skip func(method, path string) bool
	// MissingKeyStatus is the adapter's status for a request without a key (0, 400 or 401).
	MissingKeyStatus int
	// Headers selects the rate-limit headers.
	Headers reply.HeaderOptions
	// SkipFailedRequests and SkipSuccessfulRequests are the adapter's skip rules (refunds
	// of requests answered 400 and above, or below 400).
	SkipFailedRequests, SkipSuccessfulRequests bool
}

// Empty reports whether g installs nothing.
func (g Guard) Empty() bool { return g.Limiter == nil && g.Concurrency == nil }

// ColonPattern translates a neutral pattern's {name} parameters to :name, the syntax of Gin,
// Echo and Fiber: "/items/{id}" becomes "/items/:id".
func ColonPattern(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(p[:i])
		b.WriteByte(':')
		b.WriteString(p[i+1 : i+j])
		p = p[i+j+1:]
	}
	b.WriteString(p)
	return b.String()
}

// ServeHTTP returns a transport that serves requests with h, for frameworks built on
// net/http (Gin's and Echo's engines are http.Handlers). The response is recorded by
// httptest.
func ServeHTTP(h http.Handler) Transport {
	return func(r *http.Request) (*http.Response, error) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result(), nil
	}
}

// Recover answers 500 when h panics, as the recovery middleware of Gin, Echo and Fiber do;
// net/http harnesses install it, since the standard library has none.
func Recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// OK is the body every route answers with.
const OK = "ok"
