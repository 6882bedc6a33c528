package s3store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// heldLeases counts the unexpired leases in the state object of (p, key), read directly.
func heldLeases(ctx context.Context, c *s3.Client, bucket string, s *s3store.Store, key string, p core.Policy, now time.Time) (int, error) {
	name := s.StateObject(p.Name, key)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &name})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return 0, err
	}
	var o struct {
		L map[string]int64 `json:"l"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return 0, fmt.Errorf("state object %s: %w", name, err)
	}
	held := 0
	for _, exp := range o.L {
		if exp > now.UnixNano() {
			held++
		}
	}
	return held, nil
}

// TestOrphanLeases freezes a private versitygw (SIGSTOP) while a concurrency limiter makes 3
// acquires with a 200 ms budget, thaws it (SIGCONT), and measures how long until all 3 slots
// of the key are free again: about one release round trip, not the 30 s lease. The frozen
// server keeps the requests in its sockets and applies them when it resumes, after the
// limiter gave up: the control subtest shows that such a late acquire is applied and holds a
// slot when nobody releases it; the limiter releases it in the background.
func TestOrphanLeases(t *testing.T) {
	srv, ep := testenv.StartVersitygw(t)
	pz := testenv.PauseByPort(t, srv.Addr)
	c := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey)
	probe := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey)
	bucket := testenv.UniqueName("tollgate-orphan")
	createBucket(t, c, bucket)
	s := newStore(t, c, s3store.Config{Bucket: bucket})
	ctx := context.Background()
	const (
		limit  = 3
		lease  = 30 * time.Second
		budget = 200 * time.Millisecond
	)
	held := func(p core.Policy) int {
		t.Helper()
		n, err := heldLeases(ctx, probe, bucket, s, "k", p, time.Now())
		if err != nil {
			t.Fatalf("read the lease object: %v", err)
		}
		return n
	}

	t.Run("Control", func(t *testing.T) {
		// The store alone, no limiter: acquires that time out while the server is frozen
		// are applied when it resumes, and nobody releases them.
		p := core.NewConcurrency(uniq("orphan-control"), limit, lease)
		warm(t, s, p)
		pz.Stop()
		defer pz.Cont()
		for i := range limit {
			actx, cancel := context.WithTimeout(ctx, budget)
			_, err := s.Acquire(actx, "k", p, fmt.Sprint("late-", i), time.Now())
			cancel()
			if err == nil {
				t.Fatalf("acquire %d succeeded on a frozen server", i)
			}
		}
		pz.Cont()
		n := testenv.PollHeld(func() int { return held(p) }, func(n int) bool { return n > 0 }, 3*time.Second)
		t.Logf("without the limiter: %d of %d slots held by acquires the server applied after their caller gave up", n, limit)
		if n == 0 {
			t.Fatalf("no late acquire was applied: the scenario below would prove nothing")
		}
	})

	t.Run("Limiter", func(t *testing.T) {
		p := core.NewConcurrency(uniq("orphan"), limit, lease)
		cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: p,
			Config: core.Config{Timeout: budget, Failure: core.FailClosed, Breaker: core.BreakerConfig{Failures: -1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		warm(t, s, p)
		pz.Stop()
		defer pz.Cont()
		for i := range limit {
			if _, _, err := cl.AcquireKeyAt(ctx, "k", time.Now()); !errors.Is(err, core.ErrStoreUnavailable) {
				t.Fatalf("acquire %d on a frozen server: %v; want ErrStoreUnavailable", i, err)
			}
		}
		pz.Cont()
		free, took := testenv.MeasureFree(t, limit, func() int { return held(p) })
		t.Logf("orphan: store=s3 limit=%d free_after_recovery=%d seconds_to_free=%.3f", limit, free, took.Seconds())
		if free != limit || took > lease/6 {
			t.Fatalf("%d of %d slots free %v after the server resumed; want all, well under the %v lease", free, limit, took, lease)
		}
		for i := range limit {
			l, res, err := cl.AcquireKeyAt(ctx, "k", time.Now())
			if err != nil || l == nil {
				t.Fatalf("acquire %d after recovery: %+v, %v; want a lease (the slot is free)", i, res, err)
			}
			defer func() { _ = l.Release(ctx) }()
		}
	})
}

// warm acquires and releases a lease so that the lease object exists and the store has it
// cached: the acquires under test then go straight to a conditional PUT.
func warm(t *testing.T, s core.ConcurrencyStore, p core.Policy) {
	t.Helper()
	ctx := ctx30(t)
	if _, err := s.Acquire(ctx, "k", p, "warm", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "k", p, "warm", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestLateAcquireAfterRelease delivers an acquire's conditional PUT after the lease was
// released (the order a stalled server or network can produce; the limiter releases every
// acquire whose outcome it did not learn): the release changed the object's version, so the
// late PUT's If-Match fails and no slot is held. Before releases of absent leases wrote, the
// late PUT passed and held the slot for the whole lease time.
func TestLateAcquireAfterRelease(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			for _, c := range []struct {
				name string
				warm bool // the lease object exists (If-Match) or not (If-None-Match: *)
			}{{"update", true}, {"create", false}} {
				t.Run(c.name, func(t *testing.T) {
					ctx := context.Background()
					var (
						ld *testenv.LateDelivery
						s  *s3store.Store
						p  core.Policy
					)
					// On a loaded machine the acquire's budget may run out before it sends
					// its PUT: then nothing was held and the case is tried again with a longer
					// budget. Matching stops when the acquire returns, so the release's own
					// PUT is never held.
					for _, budget := range []time.Duration{100 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second} {
						ld = testenv.NewLateDelivery(func(r *http.Request) bool { return r.Method == http.MethodPut })
						// Built by hand: s3store.NewClient hands its HTTP client to the AWS
						// config loader, which wants a buildable one when AWS_CA_BUNDLE is set.
						client := s3.New(s3.Options{
							Region: "us-east-1", BaseEndpoint: aws.String(b.endpoint), UsePathStyle: true,
							Credentials:      credentials.NewStaticCredentialsProvider(b.access, b.secret, ""),
							HTTPClient:       &http.Client{Transport: ld},
							RetryMaxAttempts: 1,
						})
						s = newStore(t, client, s3store.Config{Bucket: b.bucket, Prefix: "late/"})
						p = core.NewConcurrency(uniq("late-"+c.name), 3, time.Minute)
						if c.warm {
							warm(t, s, p)
						}
						ld.Hold([]byte("late-lease"), 0)
						actx, cancel := context.WithTimeout(ctx, budget)
						_, err := s.Acquire(actx, "k", p, "late-lease", time.Now())
						cancel()
						held := ld.Stop()
						if held && err == nil {
							t.Fatal("the held acquire succeeded")
						}
						if held {
							break
						}
						t.Logf("the acquire's %v budget ran out before its PUT was sent; trying again", budget)
					}
					rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
					err := s.Release(rctx, "k", p, "late-lease", time.Now())
					rcancel()
					if err != nil {
						t.Fatalf("release: %v", err)
					}
					status, _ := ld.Deliver(t)
					n, err := heldLeases(ctx, b.client, b.bucket, s, "k", p, time.Now())
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("late conditional PUT after the release: HTTP %d; %d leases held", status, n)
					if status != http.StatusPreconditionFailed || n != 0 {
						t.Fatalf("late acquire: HTTP %d, %d held; want 412 and none held", status, n)
					}
				})
			}
		})
	}
}
