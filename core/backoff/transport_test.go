package backoff_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// scripted is an httptest server that answers request i with steps[i] (the
// last step repeats) and records each request's body.
type scripted struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

type step func(w http.ResponseWriter, r *http.Request)

func newScripted(t *testing.T, steps ...step) *scripted {
	t.Helper()
	s := &scripted{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		i := len(s.bodies)
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		steps[min(i, len(steps)-1)](w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

func status(code int, headers ...string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

// hangUp closes the connection without answering: a connection error.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// jitter is the backoff part of every wait in these tests: Base 10ms with
// Rand 0.5 gives 5ms, 10ms, 20ms.
const jitter = 5 * time.Millisecond

func newTestTransport(c *fakeClock, opts backoff.TransportOptions) *backoff.Transport {
	opts.Policy.Base = 10 * time.Millisecond
	opts.Policy.Rand = constRand(0.5)
	opts.Policy.Now, opts.Policy.Sleep = c.Now, c.Sleep
	// No keep-alives: net/http would itself retry a request that failed on
	// a reused connection, hiding our behaviour.
	return backoff.NewTransport(&http.Transport{DisableKeepAlives: true}, opts)
}

func do(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string, error) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func mustRequest(t *testing.T, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestTransportServerHints(t *testing.T) {
	wallClock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		first    step
		wantWait time.Duration
	}{
		{"Retry-After seconds", status(503, "Retry-After", "2"), 2*time.Second + jitter},
		{"Retry-After HTTP-date", status(503, "Retry-After", wallClock.Add(10*time.Second).Format(http.TimeFormat)), 10*time.Second + jitter},
		{"Retry-After date in the past", status(503, "Retry-After", wallClock.Add(-time.Hour).Format(http.TimeFormat)), jitter},
		{"Retry-After malformed", status(429, "Retry-After", "soon"), jitter},
		{"RateLimit t", status(429, "RateLimit", `"default";r=0;t=20`), 20*time.Second + jitter},
		{"RateLimit exhausted item wins", status(429, "RateLimit", `"burst";r=5;t=1, "daily";r=0;t=7`), 7*time.Second + jitter},
		{"larger of Retry-After and RateLimit", status(429, "Retry-After", "3", "RateLimit", `"default";r=0;t=4`), 4*time.Second + jitter},
		{"no hint", status(429), jitter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: wallClock}
			srv := newScripted(t, tt.first, status(200))
			tr := newTestTransport(c, backoff.TransportOptions{})
			resp, body, err := do(t, tr, mustRequest(t, context.Background(), "GET", srv.srv.URL, nil))
			if err != nil || resp.StatusCode != 200 || body != "OK" {
				t.Fatalf("RoundTrip = %v, %v, %q; want 200 OK", resp, err, body)
			}
			if got := len(srv.requests()); got != 2 {
				t.Errorf("server saw %d requests, want 2", got)
			}
			if got := c.Sleeps(); !slices.Equal(got, []time.Duration{tt.wantWait}) {
				t.Errorf("waits = %v, want [%v]", got, tt.wantWait)
			}
		})
	}
}

func TestTransportHintBeyondMaxWaitReturnsResponse(t *testing.T) {
	c := newFakeClock()
	srv := newScripted(t, status(429, "Retry-After", "3600"), status(200))
	tr := newTestTransport(c, backoff.TransportOptions{})
	resp, body, err := do(t, tr, mustRequest(t, context.Background(), "GET", srv.srv.URL, nil))
	if err != nil || resp.StatusCode != 429 || body != "Too Many Requests" {
		t.Fatalf("RoundTrip = %v, %v, %q; want the 429 with its body", resp, err, body)
	}
	if len(c.Sleeps()) != 0 || len(srv.requests()) != 1 {
		t.Errorf("waits %v, requests %d; want no wait, 1 request", c.Sleeps(), len(srv.requests()))
	}
}

func TestTransportContextDeadline(t *testing.T) {
	c := newFakeClock()
	srv := newScripted(t, status(503, "Retry-After", "5"), status(200))
	tr := newTestTransport(c, backoff.TransportOptions{})
	ctx, cancel := context.WithDeadline(context.Background(), c.Now().Add(2*time.Second))
	defer cancel()
	resp, body, err := do(t, tr, mustRequest(t, ctx, "GET", srv.srv.URL, nil))
	if err != nil || resp.StatusCode != 503 || body != "Service Unavailable" {
		t.Fatalf("RoundTrip = %v, %v, %q; want the last 503 with its body", resp, err, body)
	}
	if len(c.Sleeps()) != 0 || len(srv.requests()) != 1 {
		t.Errorf("waits %v, requests %d; want no wait past the deadline, 1 request", c.Sleeps(), len(srv.requests()))
	}
}

func TestTransportNonIdempotent(t *testing.T) {
	tests := []struct {
		name         string
		method       string
		header       string
		retryNonIdem bool
		wantRequests int
	}{
		{"POST not retried", "POST", "", false, 1},
		{"PATCH not retried", "PATCH", "", false, 1},
		{"POST retried when told to", "POST", "", true, 2},
		{"POST with Idempotency-Key retried", "POST", "Idempotency-Key", false, 2},
		{"PUT retried", "PUT", "", false, 2},
		{"DELETE retried", "DELETE", "", false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			srv := newScripted(t, status(503), status(200))
			tr := newTestTransport(c, backoff.TransportOptions{RetryNonIdempotent: tt.retryNonIdem})
			req := mustRequest(t, context.Background(), tt.method, srv.srv.URL, strings.NewReader("body"))
			if tt.header != "" {
				req.Header.Set(tt.header, "k-1")
			}
			resp, _, err := do(t, tr, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(srv.requests()); got != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tt.wantRequests)
			}
			if want := map[int]int{1: 503, 2: 200}[tt.wantRequests]; resp.StatusCode != want {
				t.Errorf("status = %d, want %d", resp.StatusCode, want)
			}
		})
	}
}

func TestTransportRewindsBody(t *testing.T) {
	c := newFakeClock()
	srv := newScripted(t, status(503), status(429), status(200))
	tr := newTestTransport(c, backoff.TransportOptions{})
	payload := strings.Repeat("payload-", 1000)
	req := mustRequest(t, context.Background(), "PUT", srv.srv.URL, bytes.NewReader([]byte(payload)))
	resp, _, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
	}
	got := srv.requests()
	if len(got) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(got))
	}
	for i, b := range got {
		if b != payload {
			t.Errorf("attempt %d body has %d bytes (%.20q…), want the %d-byte payload", i+1, len(b), b, len(payload))
		}
	}
}

func TestTransportUnrewindableBodyNotRetried(t *testing.T) {
	c := newFakeClock()
	srv := newScripted(t, status(503), status(200))
	tr := newTestTransport(c, backoff.TransportOptions{})
	req := mustRequest(t, context.Background(), "PUT", srv.srv.URL, io.NopCloser(strings.NewReader("once")))
	if req.GetBody != nil {
		t.Fatal("test setup: GetBody is set")
	}
	resp, _, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("RoundTrip = %v, %v; want the 503", resp, err)
	}
	if got := len(srv.requests()); got != 1 {
		t.Errorf("server saw %d requests, want 1", got)
	}
}

func TestTransportConnectionErrors(t *testing.T) {
	t.Run("GET retried", func(t *testing.T) {
		c := newFakeClock()
		srv := newScripted(t, hangUp, hangUp, status(200))
		tr := newTestTransport(c, backoff.TransportOptions{})
		resp, _, err := do(t, tr, mustRequest(t, context.Background(), "GET", srv.srv.URL, nil))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("RoundTrip = %v, %v; want 200 after two hang-ups", resp, err)
		}
		if got := len(srv.requests()); got != 3 {
			t.Errorf("server saw %d requests, want 3", got)
		}
	})
	t.Run("POST not retried even when told to", func(t *testing.T) {
		c := newFakeClock()
		srv := newScripted(t, hangUp, status(200))
		tr := newTestTransport(c, backoff.TransportOptions{RetryNonIdempotent: true})
		_, _, err := do(t, tr, mustRequest(t, context.Background(), "POST", srv.srv.URL, strings.NewReader("x")))
		if err == nil {
			t.Fatal("RoundTrip = nil error, want the connection error")
		}
		if got := len(srv.requests()); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})
	t.Run("GET gives up after MaxAttempts", func(t *testing.T) {
		c := newFakeClock()
		srv := newScripted(t, hangUp)
		tr := newTestTransport(c, backoff.TransportOptions{})
		if _, _, err := do(t, tr, mustRequest(t, context.Background(), "GET", srv.srv.URL, nil)); err == nil {
			t.Fatal("RoundTrip = nil error, want the last connection error")
		}
		if got := len(srv.requests()); got != backoff.DefaultMaxAttempts {
			t.Errorf("server saw %d requests, want %d", got, backoff.DefaultMaxAttempts)
		}
	})
}

// trackedBody records whether it was read to the end and closed.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

type stubRT struct {
	statuses []int
	bodies   []*trackedBody
}

func (s *stubRT) RoundTrip(*http.Request) (*http.Response, error) {
	code := s.statuses[min(len(s.bodies), len(s.statuses)-1)]
	b := &trackedBody{Reader: strings.NewReader(http.StatusText(code))}
	s.bodies = append(s.bodies, b)
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: b}, nil
}

func TestTransportDiscardsRetriedBodiesAndReports(t *testing.T) {
	c := newFakeClock()
	stub := &stubRT{statuses: []int{503, 429, 200}}
	var attempts []backoff.Attempt
	tr := backoff.NewTransport(stub, backoff.TransportOptions{
		Policy:    backoff.Policy{Base: 10 * time.Millisecond, Rand: constRand(0.5), Now: c.Now, Sleep: c.Sleep},
		OnAttempt: func(a backoff.Attempt) { attempts = append(attempts, a) },
	})
	resp, err := tr.RoundTrip(mustRequest(t, context.Background(), "GET", "http://example.invalid/", nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip = %v, %v; want 200", resp, err)
	}
	for i, b := range stub.bodies[:2] {
		if !b.closed || b.Reader.(*strings.Reader).Len() != 0 {
			t.Errorf("discarded body %d: closed=%v, unread=%d; want drained and closed", i, b.closed, b.Reader.(*strings.Reader).Len())
		}
	}
	if stub.bodies[2].closed {
		t.Error("the returned response's body was closed")
	}
	type summary struct {
		Number, Status int
		Retry          bool
		Wait           time.Duration
	}
	var got []summary
	for _, a := range attempts {
		got = append(got, summary{a.Number, a.StatusCode, a.Retry, a.Wait})
	}
	want := []summary{{1, 503, true, 5 * time.Millisecond}, {2, 429, true, 10 * time.Millisecond}, {3, 200, false, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("attempts = %+v, want %+v", got, want)
	}
	if st := tr.Stats(); st != (backoff.TransportStats{Requests: 1, Attempts: 3, Retries: 2}) {
		t.Errorf("Stats() = %+v, want 1 request, 3 attempts, 2 retries", st)
	}
}

func TestTransportMaxAttemptsReturnsLastResponse(t *testing.T) {
	c := newFakeClock()
	stub := &stubRT{statuses: []int{503}}
	tr := backoff.NewTransport(stub, backoff.TransportOptions{
		Policy: backoff.Policy{MaxAttempts: 4, Rand: constRand(0), Now: c.Now, Sleep: c.Sleep},
	})
	resp, err := tr.RoundTrip(mustRequest(t, context.Background(), "GET", "http://example.invalid/", nil))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("RoundTrip = %v, %v; want the last 503", resp, err)
	}
	if len(stub.bodies) != 4 || stub.bodies[3].closed {
		t.Errorf("attempts = %d, last body closed = %v; want 4 attempts, last body open", len(stub.bodies), stub.bodies[3].closed)
	}
}

func TestTransportWaitInterrupted(t *testing.T) {
	stub := &stubRT{statuses: []int{503, 200}}
	tr := backoff.NewTransport(stub, backoff.TransportOptions{
		Policy: backoff.Policy{Sleep: func(context.Context, time.Duration) error { return context.Canceled }},
	})
	_, err := tr.RoundTrip(mustRequest(t, context.Background(), "GET", "http://example.invalid/", nil))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RoundTrip = %v, want context.Canceled", err)
	}
	if !stub.bodies[0].closed {
		t.Error("the discarded 503 body was not closed")
	}
}

func TestTransportBudget(t *testing.T) {
	c := newFakeClock()
	stub := &stubRT{statuses: []int{503}}
	tr := backoff.NewTransport(stub, backoff.TransportOptions{
		Policy: backoff.Policy{MaxAttempts: 10, Budget: backoff.NewBudget(10), Rand: constRand(0), Now: c.Now, Sleep: c.Sleep},
	})
	resp, err := tr.RoundTrip(mustRequest(t, context.Background(), "GET", "http://example.invalid/", nil))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("RoundTrip = %v, %v; want the last 503", resp, err)
	}
	if len(stub.bodies) != 3 {
		t.Errorf("attempts = %d, want 3 (a 10-token budget pays for 2 retries)", len(stub.bodies))
	}
}

func TestTransportCustomRetryStatus(t *testing.T) {
	c := newFakeClock()
	stub := &stubRT{statuses: []int{502, 200}}
	tr := backoff.NewTransport(stub, backoff.TransportOptions{
		Policy:      backoff.Policy{Now: c.Now, Sleep: c.Sleep},
		RetryStatus: func(code int) bool { return code == http.StatusBadGateway },
	})
	resp, err := tr.RoundTrip(mustRequest(t, context.Background(), "GET", "http://example.invalid/", nil))
	if err != nil || resp.StatusCode != 200 || len(stub.bodies) != 2 {
		t.Fatalf("RoundTrip = %v, %v after %d attempts; want 200 after 2", resp, err, len(stub.bodies))
	}
}
