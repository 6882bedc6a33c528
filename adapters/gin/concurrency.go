package tollgategin

import (
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-go/tollgate/adapters/nethttp"
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
	// polling with full-jitter backoff (core.ConcurrencyLimiter.AcquireWait). Optional.
	// Default: no waiting.
	Wait core.Wait
}

// Concurrency returns middleware that lets at most the policy's Limit requests per key run
// at once, across every instance sharing c's store. A request that gets no slot is denied
// (429, Retry-After, problem+json). The slot is released when the rest of the chain returns
// or panics (the panic goes on to Gin's recovery middleware, which should be installed
// before this one). While the chain runs, the lease is extended every ExtendEvery. c must not
// be nil (Concurrency panics at once if it is, never on a request).
func Concurrency(c *core.ConcurrencyLimiter, o ConcurrencyOptions) gin.HandlerFunc {
	if c == nil {
		panic(adaptercfg.NilLimiter("tollgategin: Concurrency's limiter").Error())
	}
	if err := o.check("ConcurrencyOptions"); err != nil {
		panic(err.Error())
	}
	o.defaults()
	items := new(reply.PolicyItems)
	return func(gc *gin.Context) {
		if o.Skip != nil && o.Skip(gc) {
			gc.Next()
			return
		}
		lease, res, err := c.AcquireWait(gc.Request.Context(), request{gc}, o.Wait)
		if err != nil {
			fail(gc, err, o.ErrorHandler)
			return
		}
		nethttp.WriteHeaders(gc.Writer.Header(), &res, o.Headers, items)
		if !res.Allowed {
			deny(gc, &res, o.DenyHandler)
			return
		}
		// Released on every exit path, panics included; extended while the handler runs.
		defer lease.Hold(gc.Request.Context(), o.ExtendEvery)()
		gc.Next()
	}
}
