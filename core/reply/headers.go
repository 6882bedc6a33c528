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

// maxFields is the most fields a response gets: RateLimit-Policy, RateLimit, the three
// legacy fields and Retry-After.
const maxFields = 6

// Fields are the rate-limit header fields of one response, in the order they are written:
// RateLimit-Policy and RateLimit for every decision made by a store, the legacy fields if
// asked, and Retry-After (delta-seconds, rounded up, at least 1) on an enforced denial. A
// fail-open result gets only what is known: no RateLimit fields, since the store did not
// answer.
//
// It is the one header writer of the adapters: [Fields.Render] decides which fields a
// result gets and renders their values, and each adapter only copies them into its
// framework's header type, adding each field to what the response already has (so that
// stacked limiters each contribute their policies) except Retry-After, which replaces:
//
//	var f reply.Fields
//	f.Render(res, o, &items) // items: the middleware's reply.PolicyItems
//	for i := range f.Len() {
//		name, value, replace := f.Field(i)
//		// add value to (or, with replace, set it as) the response's field name
//	}
//
// A Fields lives on the caller's stack: rendering allocates nothing while the values fit
// its inline buffer (a few policies).
type Fields struct {
	n      int
	end    int // bytes of buf in use
	f      [maxFields]field
	shared []string // the cached values of field 0, RateLimit-Policy, or nil
	raw    []byte   // with shared, field 0's value: the cached bytes, never modified
	spill  []byte   // the values that did not fit in buf
	buf    [192]byte
}

// field is one rendered field: its value is buf[lo:hi], or spill[lo:hi] when spilled.
type field struct {
	name             string
	lo, hi           int32
	spilled, replace bool
}

// Render sets f to the fields of r under o, replacing what f held. items keeps the limiter's
// rendered RateLimit-Policy items (see [PolicyItems]); nil renders them afresh.
func (f *Fields) Render(r *core.Result, o HeaderOptions, items *PolicyItems) {
	f.n, f.end, f.shared, f.raw, f.spill = 0, 0, nil, nil, f.spill[:0]
	ds := r.Decisions()
	if len(ds) > 0 && !o.Omit && r.Degraded != core.DegradedOpen {
		var e *policyEntry
		if len(ds) == 1 && len(r.Pending()) == 0 {
			e = items.entry(&ds[0].Policy)
		}
		if e != nil {
			f.f[0] = field{name: HeaderRateLimitPolicy}
			f.n, f.shared, f.raw = 1, e.values, e.raw
		} else {
			f.add(HeaderRateLimitPolicy, appendRateLimitPolicy(f.next(), r, items), false)
		}
		f.add(HeaderRateLimit, AppendRateLimit(f.next(), r), false)
		if o.Legacy {
			// The binding decision's numbers, in the same terms as its RateLimit and
			// RateLimit-Policy items: q (capacity), r, t.
			d := binding(r)
			f.add(HeaderXRateLimitLimit, strconv.AppendInt(f.next(), d.Policy.Capacity(), 10), false)
			f.add(HeaderXRateLimitRemain, strconv.AppendInt(f.next(), d.Remaining, 10), false)
			f.add(HeaderXRateLimitReset, strconv.AppendInt(f.next(), Seconds(resetAfter(&d)), 10), false)
		}
	}
	if !r.Allowed {
		if ra := r.RetryAfter(); ra > 0 {
			f.add(HeaderRetryAfter, strconv.AppendInt(f.next(), max(Seconds(ra), 1), 10), true)
		}
	}
}

// next returns the free part of the buffer, empty, to append a value to.
func (f *Fields) next() []byte { return f.buf[f.end:f.end] }

// add records a value appended to next(): in place when it fit, else copied to spill (a
// copy rather than the appended slice itself, which the escape analysis could not tell
// from f's own buffer stored in f, and which would move every Fields to the heap).
func (f *Fields) add(name string, v []byte, replace bool) {
	x := &f.f[f.n]
	f.n++
	x.name, x.replace = name, replace
	if len(v) <= len(f.buf)-f.end {
		x.lo, x.hi, x.spilled = int32(f.end), int32(f.end+len(v)), false
		f.end += len(v)
		return
	}
	x.lo, x.spilled = int32(len(f.spill)), true
	f.spill = append(f.spill, v...)
	x.hi = int32(len(f.spill))
}

// Len returns the number of fields.
func (f *Fields) Len() int { return f.n }

// Field returns field i (0 <= i < Len): its name (as the constants above spell it), its
// value (valid until f changes; do not modify it), and whether it replaces the field's
// existing values (Retry-After: the denial's own wait is the one to tell) rather than adding
// one.
func (f *Fields) Field(i int) (name string, value []byte, replace bool) {
	x := &f.f[i]
	if i == 0 && f.shared != nil {
		return x.name, f.raw, false
	}
	if x.spilled {
		return x.name, f.spill[x.lo:x.hi], x.replace
	}
	return x.name, f.buf[x.lo:x.hi], x.replace
}

// Values returns field i's value as a one-element slice that the caller may keep as it is
// (a header map's value) when one is cached (the RateLimit-Policy of a single policy), else
// nil. The slice is shared: never modify it (its len equals its cap, so an append copies).
func (f *Fields) Values(i int) []string {
	if i != 0 {
		return nil
	}
	return f.shared
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
	return appendRateLimitPolicy(dst, r, nil)
}

// appendRateLimitPolicy is [AppendRateLimitPolicy] with the items kept by items.
func appendRateLimitPolicy(dst []byte, r *core.Result, items *PolicyItems) []byte {
	ds, pending := r.Decisions(), r.Pending()
	for i := range ds {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = items.appendItem(dst, &ds[i].Policy)
	}
	for i := range pending {
		if len(ds)+i > 0 {
			dst = append(dst, ", "...)
		}
		dst = items.appendItem(dst, &pending[i])
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
