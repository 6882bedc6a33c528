package s3store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/s3store"
	"github.com/tollgate-go/tollgate/internal/testenv"
)

// heldLeases counts the unexpired leases in the state object of (p, key), read directly.
func heldLeases(ctx context.Context, c *s3.Client, bucket string, s *s3store.Store, key string, p core.Policy, now time.Time) (int, string, error) {
	name := s.StateObject(p.Name, key)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &name})
	if err != nil {
		return 0, "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return 0, "", err
	}
	var o struct {
		L map[string]int64 `json:"l"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return 0, "", err
	}
	held := 0
	for _, exp := range o.L {
		if exp > now.UnixNano() {
			held++
		}
	}
	return held, string(b), nil
}

func TestOrphanExplore(t *testing.T) {
	srv, ep := testenv.StartVersitygw(t)
	pz := newPausable(t, srv.Addr)
	c := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey)
	probe := newClient(t, ep.Endpoint, ep.AccessKey, ep.SecretKey)
	bucket := testenv.UniqueName("tollgate-orphan")
	createBucket(t, c, bucket)
	s := newStore(t, c, s3store.Config{Bucket: bucket})
	ctx := context.Background()
	const N = 3
	for _, seq := range []bool{false, true} {
		p := core.NewConcurrency(fmt.Sprint("orphan-control-", seq), N, 30*time.Second)
		for i := range N {
			if _, err := s.Acquire(ctx, "warm", p, fmt.Sprint("w", i), time.Now()); err != nil {
				t.Fatal(err)
			}
			_ = s.Release(ctx, "warm", p, fmt.Sprint("w", i), time.Now())
		}
		pz.Stop()
		var wg sync.WaitGroup
		for i := range N {
			wg.Add(1)
			f := func() {
				defer wg.Done()
				actx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				defer cancel()
				_, err := s.Acquire(actx, "warm", p, fmt.Sprint("late", i), time.Now())
				t.Logf("control acquire %d: %v", i, err)
			}
			if seq {
				f()
			} else {
				go f()
			}
		}
		wg.Wait()
		pz.Cont()
		start := time.Now()
		for time.Since(start) < time.Second {
			held, b, err := heldLeases(ctx, probe, bucket, s, "warm", p, time.Now())
			t.Logf("seq=%v %v: held %d %v %s", seq, time.Since(start), held, err, b)
			time.Sleep(100 * time.Millisecond)
		}

		p2 := core.NewConcurrency(fmt.Sprint("orphan-limiter-", seq), N, 30*time.Second)
		cl, err := core.NewConcurrencyLimiter(core.ConcurrencyConfig{Store: s, Policy: p2, Timeout: 200 * time.Millisecond, Failure: core.FailClosed})
		if err != nil {
			t.Fatal(err)
		}
		for i := range N {
			l, _, err := cl.AcquireKeyAt(ctx, "k", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			_ = l.Release(ctx)
			_ = i
		}
		pz.Stop()
		for i := range N {
			wg.Add(1)
			f := func() {
				defer wg.Done()
				_, _, err := cl.AcquireKeyAt(ctx, "k", time.Now())
				t.Logf("limiter acquire %d: %v (deadline %v)", i, err, errors.Is(err, core.ErrStoreUnavailable))
			}
			if seq {
				f()
			} else {
				go f()
			}
		}
		wg.Wait()
		time.Sleep(300 * time.Millisecond)
		pz.Cont()
		start = time.Now()
		for time.Since(start) < 2*time.Second {
			held, b, err := heldLeases(ctx, probe, bucket, s, "k", p2, time.Now())
			t.Logf("seq=%v %v: held %d %v %s", seq, time.Since(start), held, err, b)
			time.Sleep(50 * time.Millisecond)
		}
	}
}
