package s3store_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/memstore"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// slowDownProxy forwards to target but answers the next `fail` requests with S3's throttling
// error, 503 SlowDown.
type slowDownProxy struct {
	*httptest.Server
	fail      atomic.Int64
	throttled atomic.Int64
	forwarded atomic.Int64
}

func newSlowDownProxy(t testing.TB, target string) *slowDownProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &slowDownProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.fail.Add(-1) >= 0 {
			p.throttled.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
			return
		}
		p.fail.Store(-1)
		p.forwarded.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// TestSlowDownIsRetried injects 503 SlowDown in front of the server: the SDK retryer built by
// core/backoff retries it with full-jitter delays, and the decision succeeds; when throttling
// outlasts the attempts, the store returns the error and the limiter's failure policy decides.
func TestSlowDownIsRetried(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			proxy := newSlowDownProxy(t, b.endpoint)
			retry := backoff.Policy{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond, MaxAttempts: 3}
			var mu sync.Mutex
			var delays []time.Duration
			c := newClient(t, proxy.URL, b.access, b.secret, func(cc *s3store.ClientOptions) {
				cc.Retry = retry
				cc.LoadOptions = append(cc.LoadOptions, config.WithRetryer(backoff.AWSRetryer(retry, backoff.WithOnRetry(func(_ int, d time.Duration, _ error) {
					mu.Lock()
					delays = append(delays, d)
					mu.Unlock()
				}))))
			})
			s := newStore(t, c, s3store.Config{Bucket: b.bucket})
			p := core.NewFixedWindow(uniq("slowdown"), 5, time.Hour)
			now := time.Now()

			proxy.fail.Store(2) // the GET is throttled twice, then succeeds
			d, err := s.Take(ctx30(t), "k", p, 1, now)
			if err != nil || !d.Allowed || d.Remaining != 4 {
				t.Fatalf("Take through 2 SlowDowns: %+v, %v; want allowed with remaining 4", d, err)
			}
			mu.Lock()
			got := append([]time.Duration(nil), delays...)
			mu.Unlock()
			t.Logf("2 × 503 SlowDown: retried after %v; %d throttled, %d forwarded", got, proxy.throttled.Load(), proxy.forwarded.Load())
			if proxy.throttled.Load() != 2 || len(got) != 2 {
				t.Fatalf("throttled %d, retries %d; want 2 and 2", proxy.throttled.Load(), len(got))
			}
			for i, dl := range got {
				if dl < 0 || dl > retry.Window(i) {
					t.Errorf("retry %d waited %v, want full jitter in [0, %v]", i, dl, retry.Window(i))
				}
			}

			proxy.fail.Store(1000) // throttled for good
			lim, err := core.NewLimiter(core.Config{Store: s, Rules: []core.Rule{{Policy: p}}, Timeout: 10 * time.Second, Failure: core.FailClosed})
			if err != nil {
				t.Fatal(err)
			}
			_, err = lim.AllowKeyAt(ctx30(t), "k", 1, now)
			if !errors.Is(err, core.ErrStoreUnavailable) {
				t.Fatalf("limiter under persistent SlowDown: %v, want ErrStoreUnavailable (FailClosed)", err)
			}
			if n := proxy.throttled.Load(); n != 2+3 {
				t.Errorf("persistent SlowDown: %d attempts reached the proxy, want 3 (MaxAttempts)", n-2)
			}
			proxy.fail.Store(0)
			if d, err := s.Take(ctx30(t), "k", p, 1, now); err != nil || !d.Allowed || d.Remaining != 3 {
				t.Fatalf("after throttling ended: %+v, %v; want allowed with remaining 3 (nothing spent while failing)", d, err)
			}
		})
	}
}

// TestStoppedServer stops a private versitygw under a limiter: each failure policy does what
// core documents, the store recovers when the server is back, and no goroutine is left behind.
func TestStoppedServer(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, ep := testenv.StartVersitygw(t)
	c := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey, func(cc *s3store.ClientOptions) {
		cc.Retry = backoff.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 2}
	})
	bucket := testenv.UniqueName("tollgate-outage")
	createBucket(t, c, bucket)
	s := newStore(t, c, s3store.Config{Bucket: bucket})
	p := core.NewFixedWindow(uniq("outage"), 10, time.Hour)
	now := time.Now()
	limiter := func(f core.FailurePolicy) *core.Limiter {
		cfg := core.Config{Store: s, Rules: []core.Rule{{Policy: p}}, Timeout: 5 * time.Second, Failure: f,
			Breaker: core.BreakerConfig{Failures: -1}}
		if f == core.FailFallback {
			cfg.Fallback, cfg.FallbackInstances = memstore.New(), 2
		}
		l, err := core.NewLimiter(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	open, closed, fallback := limiter(core.FailOpen), limiter(core.FailClosed), limiter(core.FailFallback)
	if res, err := closed.AllowKeyAt(ctx30(t), "k", 1, now); err != nil || !res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("server up: %+v, %v", res, err)
	}

	srv.Stop()
	if res, err := open.AllowKeyAt(ctx30(t), "k", 1, now); err != nil || !res.Allowed || res.Degraded != core.DegradedOpen {
		t.Errorf("FailOpen with the server down: %+v, %v; want allowed and degraded open", res, err)
	}
	if res, err := closed.AllowKeyAt(ctx30(t), "k", 1, now); !errors.Is(err, core.ErrStoreUnavailable) || res.Allowed {
		t.Errorf("FailClosed with the server down: %+v, %v; want ErrStoreUnavailable", res, err)
	}
	// The fallback enforces half the limit (2 instances) locally: 5 allowed, then denied.
	allowed := 0
	for i := 0; i < 8; i++ {
		res, err := fallback.AllowKeyAt(ctx30(t), "k", 1, now)
		if err != nil || res.Degraded != core.DegradedFallback {
			t.Fatalf("FailFallback with the server down: %+v, %v; want a fallback decision", res, err)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("FailFallback: %d of 8 allowed, want 5 (limit 10 over 2 instances)", allowed)
	}

	srv.Start()
	if res, err := closed.AllowKeyAt(ctx30(t), "k", 1, now); err != nil || !res.Allowed || res.Degraded != core.NotDegraded {
		t.Fatalf("server back: %+v, %v; want a store decision", res, err)
	}
	if d := res0(t, s, p, now); d.Remaining != 8 {
		t.Errorf("after the outage the store counts %d spent, want 2: one before, one after (failed calls spend nothing): %+v", 10-d.Remaining, d)
	}
	srv.Stop()

	// Every goroutine started by the test ends: poll until the count settles, up to 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after: leaked\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// res0 peeks at the key's state (cost 0).
func res0(t *testing.T, s core.Store, p core.Policy, now time.Time) core.Decision {
	t.Helper()
	d, err := s.Take(context.Background(), "k", p, 0, now)
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	return d
}
