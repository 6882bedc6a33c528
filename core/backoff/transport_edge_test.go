package backoff_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// scriptRT answers request i with responses[i] (the last one repeats); a
// response with a zero status is the transport error err instead.
type scriptRT struct {
	statuses []int
	header   http.Header
	err      error
	bodies   []io.ReadCloser // the bodies of the requests it received
}

func (s *scriptRT) RoundTrip(r *http.Request) (*http.Response, error) {
	code := s.statuses[min(len(s.bodies), len(s.statuses)-1)]
	s.bodies = append(s.bodies, r.Body)
	if code == 0 {
		return nil, s.err
	}
	h := s.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(http.StatusText(code)))}, nil
}

func (s *scriptRT) attempts() int { return len(s.bodies) }

func get(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	return mustRequest(t, ctx, "GET", "http://example.invalid/", nil)
}

// TestTransportHugeHintDoesNotWrap is the defect the hint tests found: with
// MaxWait at its largest, a saturated hint plus the jittered delay wrapped
// to a negative wait, and the Transport retried at once instead of waiting
// MaxWait.
func TestTransportHugeHintDoesNotWrap(t *testing.T) {
	c := newFakeClock()
	huge := time.Duration(math.MaxInt64)
	rt := &scriptRT{statuses: []int{429, 200}, header: http.Header{"Retry-After": {strings.Repeat("9", 25)}}}
	var waits []time.Duration
	tr := backoff.NewTransport(rt, backoff.TransportOptions{
		Policy:    backoff.Policy{Base: 10 * time.Millisecond, Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep},
		MaxWait:   huge,
		OnAttempt: func(a backoff.Attempt) { waits = append(waits, a.Wait) },
	})
	resp, err := tr.RoundTrip(get(t, context.Background()))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200 after one wait", resp, err)
	}
	if len(waits) != 2 || waits[0] != huge {
		t.Errorf("Attempt waits = %v, want [MaxWait %v, 0]", waits, huge)
	}
}

// TestTransportBudgetAccounting: which outcomes withdraw, refund or leave the
// shared retry budget alone.
func TestTransportBudgetAccounting(t *testing.T) {
	timeoutErr := &timeoutError{}
	tests := []struct {
		name        string
		statuses    []int
		err         error
		maxAttempts int
		want        uint // tokens left of 100, after 50 were taken
	}{
		{"first attempt succeeds: refund", []int{200}, nil, 3, 51},
		{"first attempt 404: refund", []int{404}, nil, 3, 51},
		{"first attempt 499: refund", []int{499}, nil, 3, 51},
		{"first attempt 500: no refund", []int{500}, nil, 3, 50},
		{"429 with no retries left: no refund", []int{429}, nil, 1, 50},
		{"retry then success: retry cost refunded", []int{503, 200}, nil, 3, 50},
		{"two retries then success: last cost refunded", []int{503, 503, 200}, nil, 3, 50 - backoff.RetryCost},
		{"retries exhausted: costs kept", []int{503}, nil, 3, 50 - 2*backoff.RetryCost},
		{"retry then 500: cost kept", []int{503, 500}, nil, 3, 50 - backoff.RetryCost},
		{"connection error retried", []int{0, 200}, errors.New("reset"), 3, 50},
		{"connection error twice", []int{0, 0, 200}, errors.New("reset"), 3, 50 - backoff.RetryCost},
		{"timeout error costs more", []int{0, 0, 200}, timeoutErr, 3, 50 - backoff.TimeoutRetryCost},
		{"deadline error costs more", []int{0, 0, 200}, context.DeadlineExceeded, 3, 50 - backoff.TimeoutRetryCost},
		{"last attempt an error: no refund", []int{0}, errors.New("reset"), 1, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			b := backoff.NewBudget(100)
			if _, err := b.GetToken(context.Background(), 50); err != nil {
				t.Fatal(err)
			}
			rt := &scriptRT{statuses: tt.statuses, err: tt.err}
			tr := backoff.NewTransport(rt, backoff.TransportOptions{
				Policy: backoff.Policy{MaxAttempts: tt.maxAttempts, Budget: b, Rand: constRand(0), Now: c.Now, Sleep: c.Sleep},
			})
			resp, _ := tr.RoundTrip(get(t, context.Background()))
			if resp != nil {
				_ = resp.Body.Close()
			}
			if got := b.Remaining(); got != tt.want {
				t.Errorf("budget left = %d, want %d", got, tt.want)
			}
		})
	}
}

type timeoutError struct{}

func (*timeoutError) Error() string { return "i/o timeout" }
func (*timeoutError) Timeout() bool { return true }

// TestTransportNoBodyRetried: a request whose body is http.NoBody (and no
// GetBody) can be resent.
func TestTransportNoBodyRetried(t *testing.T) {
	c := newFakeClock()
	rt := &scriptRT{statuses: []int{503, 200}}
	tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{Now: c.Now, Sleep: c.Sleep}})
	req := get(t, context.Background())
	req.Body, req.GetBody = http.NoBody, nil
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || rt.attempts() != 2 {
		t.Fatalf("RoundTrip = %v, %v after %d attempts; want 200 after 2", resp, err, rt.attempts())
	}
	if rt.bodies[1] != http.NoBody {
		t.Errorf("second attempt body = %v, want http.NoBody", rt.bodies[1])
	}
}

// TestTransportGetBodyFails: when the body cannot be rewound the response is
// returned, nothing is retried, and the retry's token goes back.
func TestTransportGetBodyFails(t *testing.T) {
	c := newFakeClock()
	b := backoff.NewBudget(100)
	rt := &scriptRT{statuses: []int{503, 200}}
	var attempts []backoff.Attempt
	tr := backoff.NewTransport(rt, backoff.TransportOptions{
		Policy:    backoff.Policy{Budget: b, Now: c.Now, Sleep: c.Sleep},
		OnAttempt: func(a backoff.Attempt) { attempts = append(attempts, a) },
	})
	req := mustRequest(t, context.Background(), "PUT", "http://example.invalid/", strings.NewReader("x"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 503 || rt.attempts() != 1 {
		t.Fatalf("RoundTrip = %v, %v after %d attempts; want the 503 after 1", resp, err, rt.attempts())
	}
	if len(attempts) != 1 || attempts[0].Retry || attempts[0].Wait != 0 {
		t.Errorf("attempts = %+v, want one with Retry false and no wait", attempts)
	}
	if got := b.Remaining(); got != 100 {
		t.Errorf("budget left = %d, want 100 (the withdrawn token refunded)", got)
	}
	if len(c.Sleeps()) != 0 {
		t.Errorf("waits = %v, want none", c.Sleeps())
	}
}

// TestTransportMaxElapsed: a wait that would end after MaxElapsed is not
// begun; one that ends exactly at it is.
func TestTransportMaxElapsed(t *testing.T) {
	tests := []struct {
		maxElapsed time.Duration
		want       int // attempts; waits are 5ms, 10ms, 20ms
	}{
		{14 * time.Millisecond, 2},
		{15 * time.Millisecond, 3},
		{35 * time.Millisecond, 4},
	}
	for _, tt := range tests {
		c := newFakeClock()
		rt := &scriptRT{statuses: []int{503}}
		tr := backoff.NewTransport(rt, backoff.TransportOptions{
			Policy: backoff.Policy{Base: 10 * time.Millisecond, MaxAttempts: 10, MaxElapsed: tt.maxElapsed, Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep},
		})
		resp, err := tr.RoundTrip(get(t, context.Background()))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("RoundTrip = %v, %v; want the last 503", resp, err)
		}
		if rt.attempts() != tt.want {
			t.Errorf("MaxElapsed %v: %d attempts, want %d", tt.maxElapsed, rt.attempts(), tt.want)
		}
	}
}

// TestTransportDeadlineBoundary: a wait that would end exactly at the
// context's deadline is not begun; one that ends a nanosecond before is.
func TestTransportDeadlineBoundary(t *testing.T) {
	dl := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	for _, tt := range []struct {
		left time.Duration
		want int
	}{{5 * time.Millisecond, 1}, {5*time.Millisecond + 1, 2}} {
		c := &fakeClock{now: dl.Add(-tt.left)}
		rt := &scriptRT{statuses: []int{503, 200}}
		tr := backoff.NewTransport(rt, backoff.TransportOptions{
			Policy: backoff.Policy{Base: 10 * time.Millisecond, Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep},
		})
		resp, err := tr.RoundTrip(get(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if rt.attempts() != tt.want {
			t.Errorf("%v before the deadline, 5ms wait: %d attempts, want %d", tt.left, rt.attempts(), tt.want)
		}
	}
}

// TestTransportCanceledContext: once the request's context is done the
// Transport returns what it has instead of retrying.
func TestTransportCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newFakeClock()
	rt := &scriptRT{statuses: []int{503, 200}}
	tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{Now: c.Now, Sleep: c.Sleep}})
	resp, err := tr.RoundTrip(get(t, ctx))
	if err != nil || resp.StatusCode != 503 || rt.attempts() != 1 {
		t.Fatalf("RoundTrip on a canceled ctx = %v, %v after %d attempts; want the 503 after 1", resp, err, rt.attempts())
	}
}

// TestTransportStatsCountRetries: Stats over several requests.
func TestTransportStatsCountRetries(t *testing.T) {
	c := newFakeClock()
	rt := &scriptRT{statuses: []int{503, 503, 200}}
	tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{MaxAttempts: 5, Now: c.Now, Sleep: c.Sleep}})
	for i := 0; i < 3; i++ {
		resp, err := tr.RoundTrip(get(t, context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	// 3 attempts for the first request, then 200 at once for two more.
	if st := tr.Stats(); st != (backoff.TransportStats{Requests: 3, Attempts: 5, Retries: 2}) {
		t.Errorf("Stats() = %+v, want 3 requests, 5 attempts, 2 retries", st)
	}
}

// bigBody is a response body that counts what was read and whether it was
// closed.
type bigBody struct {
	left   int
	read   int
	closed bool
}

func (b *bigBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.left)
	b.left -= n
	b.read += n
	return n, nil
}

func (b *bigBody) Close() error { b.closed = true; return nil }

type bigBodyRT struct{ bodies []*bigBody }

func (r *bigBodyRT) RoundTrip(*http.Request) (*http.Response, error) {
	code := 503
	if len(r.bodies) > 0 {
		code = 200
	}
	b := &bigBody{left: 1 << 20}
	r.bodies = append(r.bodies, b)
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: b}, nil
}

// TestTransportDrainsAtMost64KiB: a discarded body is read up to 64 KiB and
// closed, not read to its end.
func TestTransportDrainsAtMost64KiB(t *testing.T) {
	c := newFakeClock()
	rt := &bigBodyRT{}
	tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{Now: c.Now, Sleep: c.Sleep}})
	resp, err := tr.RoundTrip(get(t, context.Background()))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
	}
	if b := rt.bodies[0]; b.read != 64<<10 || !b.closed {
		t.Errorf("discarded body: read %d bytes, closed %v; want 65536 bytes read and closed", b.read, b.closed)
	}
}

// TestTransportNilResponseBody: a discarded response without a body does not
// stop the retry.
func TestTransportNilResponseBody(t *testing.T) {
	c := newFakeClock()
	n := 0
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
		n++
		if n == 1 {
			return &http.Response{StatusCode: 503, Header: http.Header{}}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}, nil
	})
	tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{Now: c.Now, Sleep: c.Sleep}})
	resp, err := tr.RoundTrip(get(t, context.Background()))
	if err != nil || resp.StatusCode != 200 || n != 2 {
		t.Fatalf("RoundTrip = %v, %v after %d attempts; want 200 after 2", resp, err, n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportIdempotentMethods: RFC 9110 §9.2.2's idempotent methods, and
// a POST marked with X-Idempotency-Key, are retried on a connection error;
// other methods are not.
func TestTransportIdempotentMethods(t *testing.T) {
	tests := []struct {
		method, header string
		want           int
	}{
		{"", "", 2}, {"GET", "", 2}, {"HEAD", "", 2}, {"OPTIONS", "", 2}, {"TRACE", "", 2},
		{"PUT", "", 2}, {"DELETE", "", 2}, {"POST", "", 1}, {"PATCH", "", 1}, {"CONNECT", "", 1},
		{"POST", "Idempotency-Key", 2}, {"POST", "X-Idempotency-Key", 2},
	}
	for _, tt := range tests {
		c := newFakeClock()
		rt := &scriptRT{statuses: []int{0, 200}, err: errors.New("reset")}
		tr := backoff.NewTransport(rt, backoff.TransportOptions{Policy: backoff.Policy{Now: c.Now, Sleep: c.Sleep}})
		req := get(t, context.Background())
		req.Method = tt.method
		if tt.header != "" {
			req.Header[tt.header] = []string{"k"}
		}
		resp, _ := tr.RoundTrip(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		if rt.attempts() != tt.want {
			t.Errorf("%q %s: %d attempts after a connection error, want %d", tt.method, tt.header, rt.attempts(), tt.want)
		}
	}
}

// TestTransportHintPlusJitterCappedAtMaxWait: the wait is the hint plus the
// jittered delay, but never more than MaxWait.
func TestTransportHintPlusJitterCappedAtMaxWait(t *testing.T) {
	for _, tt := range []struct {
		retryAfter string
		want       time.Duration
	}{{"29", 29*time.Second + jitter}, {"30", backoff.DefaultMaxWait}} {
		c := newFakeClock()
		rt := &scriptRT{statuses: []int{429, 200}, header: http.Header{"Retry-After": {tt.retryAfter}}}
		tr := backoff.NewTransport(rt, backoff.TransportOptions{
			Policy: backoff.Policy{Base: 10 * time.Millisecond, Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep},
		})
		resp, err := tr.RoundTrip(get(t, context.Background()))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
		}
		if s := c.Sleeps(); len(s) != 1 || s[0] != tt.want {
			t.Errorf("Retry-After %s plus 5ms of jitter: waits %v, want [%v]", tt.retryAfter, s, tt.want)
		}
	}
}

// TestTransportWaitErrorNamesTheNextAttempt: a failed wait is reported with
// the attempt it was waiting for.
func TestTransportWaitErrorNamesTheNextAttempt(t *testing.T) {
	errSleep := errors.New("sleep failed")
	calls := 0
	rt := &scriptRT{statuses: []int{503, 503, 200}}
	tr := backoff.NewTransport(rt, backoff.TransportOptions{
		Policy: backoff.Policy{Sleep: func(context.Context, time.Duration) error {
			calls++
			if calls == 2 {
				return errSleep
			}
			return nil
		}},
	})
	_, err := tr.RoundTrip(get(t, context.Background()))
	if !errors.Is(err, errSleep) || !strings.Contains(err.Error(), "wait before attempt 3") {
		t.Errorf("RoundTrip = %v, want the sleep error naming attempt 3", err)
	}
}
