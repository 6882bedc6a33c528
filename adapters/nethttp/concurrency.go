package nethttp

import (
	"net/http"
	"time"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/reply"
	"github.com/tollgate-go/tollgate/internal/adaptercfg"
)

// ConcurrencyOptions configures [Concurrency]. Zero values are the documented defaults.
type ConcurrencyOptions struct {
	Options
	// ExtendEvery is how often the lease of a running request is extended. Optional.
	// Default: half the policy's Lease. Negative: never (requests longer than the lease lose
	// their slot to others).
	ExtendEvery time.Duration
	// Wait lets a request wait (bounded) for a slot instead of being denied at once,
	// polling with full-jitter backoff. Optional. Default: no waiting.
	Wait core.Wait
}

// Concurrency returns middleware that lets at most the policy's Limit requests per key run
// at once, across every instance sharing c's store. A request that gets no slot is denied
// (429, Retry-After, problem+json). The slot is released when the handler returns or panics;
// a panic is re-raised after the release. While the handler runs, the lease is extended every
// ExtendEvery so that long requests keep their slot, and an instance that crashes loses its
// slots when their leases expire.
//
// Placement with [http.TimeoutHandler]: put the timeout OUTSIDE the concurrency middleware,
// http.TimeoutHandler(nethttp.Concurrency(c, o)(h), d, msg). TimeoutHandler answers 503 after
// d but leaves the handler running in its own goroutine; outside, the slot stays held until
// the handler really returns, so the limit counts work that is still running. Inside
// (Concurrency(...)(http.TimeoutHandler(h, …))), the middleware sees TimeoutHandler return at d
// and frees the slot while h still runs, and more than Limit handlers can run at once.
//
// It panics when c is nil or o is invalid, when the middleware is built (never on a request).
func Concurrency(c *core.ConcurrencyLimiter, o ConcurrencyOptions) func(http.Handler) http.Handler {
	if c == nil {
		panic(adaptercfg.NilLimiter("nethttp: Concurrency's limiter").Error())
	}
	if err := o.check("ConcurrencyOptions"); err != nil {
		panic(err.Error())
	}
	o.defaults()
	items := new(reply.PolicyItems)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if o.skipped(w, r, next) {
				return
			}
			lease, res, err := c.AcquireWait(r.Context(), request{r}, o.Wait)
			if err != nil {
				o.ErrorHandler(w, r, err)
				return
			}
			WriteHeaders(w.Header(), &res, o.Headers, items)
			if !res.Allowed {
				deny(w, r, res, o.DenyHandler)
				return
			}
			// Released on every exit path, panics included; extended while the handler runs.
			defer lease.Hold(r.Context(), o.ExtendEvery)()
			next.ServeHTTP(w, r)
		})
	}
}
