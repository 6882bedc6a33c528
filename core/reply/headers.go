package reply

import (
	"strconv"
	"time"

	"github.com/tollgate-go/tollgate/core"
)

// Response header names. RateLimit and RateLimit-Policy follow
// draft-ietf-httpapi-ratelimit-headers (structured fields); X-RateLimit-* are the legacy
// de-facto fields, off by default.
const (
	HeaderRateLimit          = "RateLimit"
	HeaderRateLimitPolicy    = "RateLimit-Policy"
	HeaderRetryAfter         = "Retry-After"
	HeaderXRateLimitLimit    = "X-RateLimit-Limit"
	HeaderXRateLimitRemain   = "X-RateLimit-Remaining"
	HeaderXRateLimitReset    = "X-RateLimit-Reset"
	HeaderContentType        = "Content-Type"
	ContentTypeProblemJSON   = "application/problem+json"
	ProblemTypeQuotaExceeded = "https://iana.org/assignments/http-problem-types#quota-exceeded"
)

// HeaderOptions selects the rate-limit headers an adapter writes.
type HeaderOptions struct {
	// Legacy adds X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (delta
	// seconds) of the binding decision. Optional. Default: off.
	Legacy bool
	// Omit writes no RateLimit / RateLimit-Policy fields (Retry-After is still written on
	// denials, as RFC 9110 §10.2.3 intends). Optional. Default: off.
	Omit bool
}

// SetHeaders writes the rate-limit headers of r through set (which should replace any
// existing value): RateLimit-Policy and RateLimit for every decision made by a store, the
// legacy fields if asked, and Retry-After (delta-seconds, rounded up, at least 1) on an
// enforced denial. A fail-open result gets only what is known: no RateLimit fields, since the
// store did not answer.
func SetHeaders(set func(key, value string), r *core.Result, o HeaderOptions) {
	ds := r.Decisions()
	if len(ds) > 0 && !o.Omit && r.Degraded != core.DegradedOpen {
		if len(ds) == 1 && len(r.Pending()) == 0 {
			set(HeaderRateLimitPolicy, PolicyItem(ds[0].Policy))
		} else {
			set(HeaderRateLimitPolicy, string(AppendRateLimitPolicy(nil, r)))
		}
		var buf [128]byte
		set(HeaderRateLimit, string(AppendRateLimit(buf[:0], r)))
		if o.Legacy {
			// The binding decision's numbers, in the same terms as its RateLimit and
			// RateLimit-Policy items: q (capacity), r, t.
			d := binding(r)
			set(HeaderXRateLimitLimit, strconv.FormatInt(d.Policy.Capacity(), 10))
			set(HeaderXRateLimitRemain, strconv.FormatInt(d.Remaining, 10))
			set(HeaderXRateLimitReset, strconv.FormatInt(Seconds(resetAfter(&d)), 10))
		}
	}
	if !r.Allowed {
		if ra := r.RetryAfter(); ra > 0 {
			set(HeaderRetryAfter, strconv.FormatInt(max(Seconds(ra), 1), 10))
		}
	}
}

// binding returns the decision that matters most: the enforced denial, or else the one with
// the least remaining.
func binding(r *core.Result) core.Decision {
	if d, ok := r.Denial(); ok {
		return d
	}
	ds := r.Decisions()
	b := ds[0]
	for i := 1; i < len(ds); i++ {
		if ds[i].Remaining < b.Remaining {
			b = ds[i]
		}
	}
	return b
}

// AppendRateLimitPolicy appends the RateLimit-Policy field value of r to dst: the
// [PolicyItem] of every decision's policy and of every [core.Result.Pending] policy,
// comma-separated, so that every response of a limiter lists the same policies.
func AppendRateLimitPolicy(dst []byte, r *core.Result) []byte {
	ds, pending := r.Decisions(), r.Pending()
	for i := range ds {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, PolicyItem(ds[i].Policy)...)
	}
	for i := range pending {
		if len(ds)+i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, PolicyItem(pending[i])...)
	}
	return dst
}

// resetAfter is the t of d's RateLimit item: the time until the quota is restored when
// allowed, and on a denial the time until the denied cost could be allowed, which is when
// Retry-After sends the client back. The draft (draft-ietf-httpapi-ratelimit-headers) says a
// client SHOULD NOT retry before t; a token bucket or sliding window refills before it is
// whole again, so t on a denial must be the retry time, never the full reset, or Retry-After
// would be earlier than what t promises.
func resetAfter(d *core.Decision) time.Duration {
	if !d.Allowed {
		return d.RetryAfter
	}
	return d.ResetAfter
}

// AppendRateLimit appends the RateLimit field value of r to dst:
// `"name";r=REMAINING;t=SECONDS` per decision, comma-separated; t is omitted for concurrency.
// On a denied decision t is its RetryAfter (see resetAfter).
func AppendRateLimit(dst []byte, r *core.Result) []byte {
	ds := r.Decisions()
	for i := range ds {
		d := &ds[i]
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, '"')
		dst = append(dst, d.Policy.Name...)
		dst = append(dst, `";r=`...)
		dst = strconv.AppendInt(dst, d.Remaining, 10)
		if d.Policy.Algorithm != core.Concurrency {
			dst = append(dst, ";t="...)
			dst = strconv.AppendInt(dst, Seconds(resetAfter(d)), 10)
		}
	}
	return dst
}

// Seconds rounds d up to whole seconds, as delta-seconds fields need; 0 for d <= 0. It
// divides before rounding, so that durations within a second of the largest do not overflow.
func Seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
