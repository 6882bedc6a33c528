package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// LateDelivery is an HTTP transport that holds back one request: the first one Select
// accepts whose body contains the pattern given to Hold, after skipping as many such
// requests as Hold says (those go through). Its caller gets the context's error when its
// deadline passes, as with a stalled server, and the request reaches the server only when
// Deliver is called: a request that outlives the caller who gave up on it.
type LateDelivery struct {
	next   http.RoundTripper
	selecT func(*http.Request) bool
	mu     sync.Mutex
	match  []byte
	skip   int
	req    *http.Request
	body   []byte
}

// NewLateDelivery returns a transport over a fresh copy of http.DefaultTransport that
// considers the requests selectReq accepts.
func NewLateDelivery(selectReq func(*http.Request) bool) *LateDelivery {
	return &LateDelivery{next: http.DefaultTransport.(*http.Transport).Clone(), selecT: selectReq}
}

// Hold starts matching: the first request whose body contains match, after skip others
// that did, is held.
func (l *LateDelivery) Hold(match []byte, skip int) {
	l.mu.Lock()
	l.match, l.skip = match, skip
	l.mu.Unlock()
}

// Stop stops matching and reports whether a request is held.
func (l *LateDelivery) Stop() (held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.match = nil
	return l.req != nil
}

// RoundTrip implements http.RoundTripper.
func (l *LateDelivery) RoundTrip(r *http.Request) (*http.Response, error) {
	if l.selecT(r) && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		hold := l.match != nil && l.req == nil && bytes.Contains(b, l.match)
		if hold && l.skip > 0 {
			l.skip--
			hold = false
		}
		if hold {
			l.req, l.body = r.Clone(context.Background()), b
		}
		l.mu.Unlock()
		if hold {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return l.next.RoundTrip(r)
}

// Deliver sends the held request now and returns the server's status and body.
func (l *LateDelivery) Deliver(t testing.TB) (int, string) {
	t.Helper()
	l.mu.Lock()
	req, body := l.req, l.body
	l.mu.Unlock()
	if req == nil {
		t.Fatal("testenv: LateDelivery: no request was held")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		t.Fatalf("testenv: LateDelivery: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// PollHeld polls held every 10 ms until done says so or for at most d, and returns the last
// count.
func PollHeld(held func() int, done func(int) bool, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := held()
		if done(n) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond) // polling a real server's state
	}
}

// MeasureFree polls the held leases from now on (the server just resumed) and returns the
// free slots once they have stayed all free for a settling second, or after 10 s, with the
// time from now to the moment they last became all free.
func MeasureFree(t testing.TB, limit int, held func() int) (free int, took time.Duration) {
	t.Helper()
	resumed := time.Now()
	deadline := resumed.Add(10 * time.Second)
	var since time.Time // when the slots last became all free; zero while some are held
	peak := 0
	for {
		n := held()
		peak = max(peak, n)
		now := time.Now()
		switch {
		case n > 0:
			since = time.Time{}
		case since.IsZero():
			since = now
		}
		if !since.IsZero() && now.Sub(since) >= time.Second {
			t.Logf("peak held after the server resumed: %d", peak)
			return limit - n, since.Sub(resumed)
		}
		if now.After(deadline) {
			t.Logf("peak held after the server resumed: %d", peak)
			return limit - n, now.Sub(resumed)
		}
		time.Sleep(10 * time.Millisecond) // polling a real server's state
	}
}
