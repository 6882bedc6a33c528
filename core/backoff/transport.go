package backoff

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultMaxWait is TransportOptions.MaxWait when it is zero.
const DefaultMaxWait = 30 * time.Second

// maxDrain bounds how much of a discarded response body is read so its
// connection can be reused; a longer body is closed instead.
const maxDrain = 64 << 10

// TransportOptions configures a Transport. The zero value retries GET, HEAD,
// OPTIONS, TRACE, PUT and DELETE on 429, 503 and connection errors, at most
// three attempts, with full jitter.
type TransportOptions struct {
	// Policy sets the backoff between attempts and MaxAttempts, MaxElapsed,
	// Budget, Now and Sleep. Optional. Default: the zero Policy.
	Policy Policy
	// RetryStatus reports whether a response status is worth retrying.
	// Optional. Default: 429 Too Many Requests and 503 Service Unavailable.
	RetryStatus func(status int) bool
	// RetryNonIdempotent also retries POST, PATCH and other non-idempotent
	// requests on a RetryStatus response, for servers that promise such a
	// response means the request was not processed. Connection errors are
	// still not retried for them: the server may have acted on the request.
	// A request with an Idempotency-Key or X-Idempotency-Key header counts
	// as idempotent either way, as in net/http. Optional. Default: false.
	RetryNonIdempotent bool
	// MaxWait bounds one wait, the server's hint included. When a wait would
	// be longer, the response is returned to the caller instead.
	// Optional. Default: DefaultMaxWait (30s).
	MaxWait time.Duration
	// OnAttempt, if set, is called after every attempt, from the goroutine
	// calling RoundTrip. Optional.
	OnAttempt func(Attempt)
}

// Attempt describes one attempt of a Transport, for TransportOptions.OnAttempt.
type Attempt struct {
	// Request is the request as sent in this attempt.
	Request *http.Request
	// Number is 1 for the first attempt.
	Number int
	// StatusCode is the response status, or 0 when Err is set.
	StatusCode int
	// Err is the transport error of this attempt.
	Err error
	// Retry reports whether another attempt follows.
	Retry bool
	// Wait is the time waited before the next attempt when Retry is set.
	Wait time.Duration
}

// TransportStats counts a Transport's attempts.
type TransportStats struct {
	// Requests is the number of RoundTrip calls.
	Requests uint64
	// Attempts is the number of requests sent to the wrapped transport.
	Attempts uint64
	// Retries is Attempts minus first attempts.
	Retries uint64
}

// Transport is an http.RoundTripper that retries throttled and unavailable
// responses with the server's hint and jittered exponential backoff.
//
// The wait before a retry is the server's hint plus Policy's jittered delay.
// The hint is the larger of Retry-After (RFC 9110 §10.2.3, delta-seconds or
// HTTP-date) and the RateLimit header's t parameter of an exhausted quota
// (draft-ietf-httpapi-ratelimit-headers). The hint is the earliest moment the
// server accepts a retry, so the jitter is added to it, not compared with it:
// taking the larger of the two would send every client that received the same
// hint back at the same instant, the very synchronisation jitter exists to
// break.
//
// A Transport never waits past the request context's deadline, Policy's
// MaxElapsed or MaxWait: it returns the last response (or error) instead. It
// only retries a request whose body can be rewound (no body, or GetBody set,
// as http.NewRequest does for in-memory bodies). The bodies of discarded
// responses are drained (up to 64 KiB) and closed so connections are reused.
//
// A Transport is safe for concurrent use.
type Transport struct {
	next     http.RoundTripper
	opts     TransportOptions
	requests atomic.Uint64
	attempts atomic.Uint64
}

// NewTransport returns a Transport that sends requests through next
// (http.DefaultTransport if nil).
func NewTransport(next http.RoundTripper, opts TransportOptions) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	return &Transport{next: next, opts: opts}
}

// Stats returns the Transport's counters.
func (t *Transport) Stats() TransportStats {
	req, att := t.requests.Load(), t.attempts.Load()
	return TransportStats{Requests: req, Attempts: att, Retries: att - req}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	p := t.opts.Policy
	ctx := req.Context()
	maxAttempts := p.maxAttempts()
	idempotent := isIdempotent(req)
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	var (
		start   time.Time
		prev    time.Duration
		release func() error
	)
	if maxAttempts > 1 {
		start = p.now()
	}
	cur := req
	for n := 1; ; n++ {
		t.attempts.Add(1)
		resp, err := t.next.RoundTrip(cur)

		retry, hint := false, time.Duration(0)
		switch {
		case !rewindable || n >= maxAttempts || ctx.Err() != nil:
		case err != nil:
			retry = idempotent
		case t.retryStatus(resp.StatusCode):
			retry = idempotent || t.opts.RetryNonIdempotent
			if retry {
				hint = serverHint(resp.Header, p.now())
			}
		}
		var wait time.Duration
		if retry {
			if hint > t.opts.MaxWait {
				retry = false
			} else {
				prev = p.NextDelay(n-1, prev)
				// hint+prev, at most MaxWait; hint <= MaxWait here, so the
				// comparison cannot overflow where the sum (a saturated
				// hint plus the jitter) would wrap to a negative wait.
				wait = t.opts.MaxWait
				if prev < wait-hint {
					wait = hint + prev
				}
				retry = !crossesDeadline(ctx, p, start, wait)
			}
		}
		if retry && p.Budget != nil {
			cost := RetryCost
			if err != nil {
				cost = retryCostOf(err)
			}
			rel, berr := p.Budget.GetToken(ctx, cost)
			if berr != nil {
				retry = false
			} else {
				release = rel
			}
		}
		var next *http.Request
		if retry {
			var rerr error
			if next, rerr = rewind(req); rerr != nil {
				if release != nil {
					_ = release()
				}
				retry = false
			}
		}
		if t.opts.OnAttempt != nil {
			a := Attempt{Request: cur, Number: n, Err: err, Retry: retry}
			if resp != nil {
				a.StatusCode = resp.StatusCode
			}
			if retry {
				a.Wait = wait
			}
			t.opts.OnAttempt(a)
		}
		if !retry {
			if p.Budget != nil && err == nil && !t.retryStatus(resp.StatusCode) && resp.StatusCode < 500 {
				if release != nil {
					_ = release()
				} else if n == 1 {
					p.Budget.refundSuccess()
				}
			}
			return resp, err
		}
		if resp != nil {
			discard(resp)
		}
		if serr := p.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("backoff: wait before attempt %d: %w", n+1, serr)
		}
		cur = next
	}
}

func (t *Transport) retryStatus(code int) bool {
	if t.opts.RetryStatus != nil {
		return t.opts.RetryStatus(code)
	}
	return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
}

// isIdempotent follows RFC 9110 §9.2.2 and net/http's Idempotency-Key rule.
func isIdempotent(r *http.Request) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := r.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := r.Header["X-Idempotency-Key"]
	return ok
}

// rewind returns a copy of req with a fresh body for the next attempt.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

// discard drains and closes a response the caller will never see, so its
// connection can be reused.
func discard(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}
