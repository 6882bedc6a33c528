package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// TestStateObjectSizeLimit pins the bound on what the store reads back (4 MiB, enough for
// MaxLeases leases of the longest IDs): a state object of exactly 4 MiB (valid state padded
// with JSON whitespace) is read and decided on; one byte more is refused as not Tollgate
// state, naming the bound, and the decision fails instead of reading without end.
func TestStateObjectSizeLimit(t *testing.T) {
	const bound = 4 << 20
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := ctx30(t)
			now := time.Now()
			p := core.NewFixedWindow("size", 10, time.Hour)
			s := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			if _, err := s.Take(ctx, "k", p, 3, now); err != nil {
				t.Fatal(err)
			}
			obj := s.StateObject(p.Name, "k")
			out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &obj})
			if err != nil {
				t.Fatal(err)
			}
			state, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			write := func(size int) {
				t.Helper()
				body := append(bytes.Clone(state), bytes.Repeat([]byte(" "), size-len(state))...)
				if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &obj, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(size))}); err != nil {
					t.Fatal(err)
				}
			}
			write(bound)
			cold := newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			if d, err := cold.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 7 {
				t.Fatalf("a state object of exactly %d bytes: %+v, %v; want it read (remaining 7)", bound, d, err)
			}
			write(bound + 1)
			cold = newStore(t, b.client, s3store.Config{Bucket: b.bucket})
			_, err = cold.Take(ctx, "k", p, 0, now)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("is over %d bytes: not Tollgate state", bound)) {
				t.Fatalf("a state object of %d bytes: %v; want it refused as over %d bytes", bound+1, err, bound)
			}
		})
	}
}

// getRecorder records the If-None-Match of every GET, and can answer a 304 the way some
// S3-compatible servers and proxies do: an API error coded NotModified without a status.
type getRecorder struct {
	s3store.API
	mu          sync.Mutex
	ifNoneMatch []string // "" for an unconditional GET
	codeOnly304 bool
}

func (g *getRecorder) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	g.mu.Lock()
	g.ifNoneMatch = append(g.ifNoneMatch, aws.ToString(in.IfNoneMatch))
	g.mu.Unlock()
	out, err := g.API.GetObject(ctx, in, o...)
	var st interface{ HTTPStatusCode() int }
	if g.codeOnly304 && errors.As(err, &st) && st.HTTPStatusCode() == 304 {
		return nil, &smithy.GenericAPIError{Code: "NotModified", Message: "Not Modified"}
	}
	return out, err
}

// TestDenialRevalidatesConditionally pins how a decision that writes nothing is confirmed on
// cached state: one GET with If-None-Match on the cached ETag, answered 304 without a body
// (also when the 304 arrives as an error coded NotModified with no status), and no GET
// condition for a key that does not exist yet.
func TestDenialRevalidatesConditionally(t *testing.T) {
	for name, mk := range backends(t) {
		for _, codeOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/codeOnly304=%v", name, codeOnly), func(t *testing.T) {
				b := mk(t)
				ctx := ctx30(t)
				now := time.Now()
				g := &getRecorder{API: b.client, codeOnly304: codeOnly}
				s := newStore(t, g, s3store.Config{Bucket: b.bucket})
				p := core.NewFixedWindow("reval", 1, time.Hour)
				if d, err := s.Take(ctx, "k", p, 1, now); err != nil || !d.Allowed {
					t.Fatalf("first take: %+v %v", d, err)
				}
				obj := s.StateObject(p.Name, "k")
				head, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &obj})
				if err != nil {
					t.Fatal(err)
				}
				g.ifNoneMatch = nil
				d, err := s.Take(ctx, "k", p, 1, now)
				if err != nil || d.Allowed || d.Remaining != 0 {
					t.Fatalf("second take: %+v %v; want a denial", d, err)
				}
				if want := aws.ToString(head.ETag); len(g.ifNoneMatch) != 1 || g.ifNoneMatch[0] != want {
					t.Fatalf("the denial's GETs carried If-None-Match %q; want one GET on the cached ETag %q", g.ifNoneMatch, want)
				}
				// A key never written: the first peek reads (404), the second confirms with
				// an unconditional GET, as there is no ETag to send.
				g.ifNoneMatch = nil
				for range 2 {
					if d, err := s.Take(ctx, "new", p, 0, now); err != nil || d.Remaining != 1 {
						t.Fatalf("peek at a new key: %+v %v", d, err)
					}
				}
				if len(g.ifNoneMatch) != 2 || g.ifNoneMatch[0] != "" || g.ifNoneMatch[1] != "" {
					t.Fatalf("peeks at a missing object sent If-None-Match %q; want two unconditional GETs", g.ifNoneMatch)
				}
			})
		}
	}
}

// TestMarkerConflictAttempts pins the marker loop's bound on 409 ConditionalRequestConflict:
// the same slot is tried Config.Retry.MaxAttempts times in all, then the decision fails
// with an error wrapping backoff.ErrMaxAttempts and the conflict.
func TestMarkerConflictAttempts(t *testing.T) {
	b := fakeS3(t)
	ctx := ctx30(t)
	conflict := &smithy.GenericAPIError{Code: "ConditionalRequestConflict", Message: "injected"}
	for _, attempts := range []int{1, 2, 3, 5} {
		c := &counting{API: b.client, fail: func(op string) error {
			if op == "PutObject" {
				return conflict
			}
			return nil
		}}
		s := newStore(t, c, s3store.Config{Bucket: b.bucket, Mode: s3store.Marker, Prefix: fmt.Sprintf("conflict%d/", attempts),
			Retry: backoff.Policy{Base: time.Microsecond, Cap: time.Millisecond, MaxAttempts: attempts}})
		_, err := s.Take(ctx, "k", core.NewFixedWindow("c", 5, time.Hour), 1, time.Now())
		if !errors.Is(err, backoff.ErrMaxAttempts) || !errors.Is(err, conflict) {
			t.Errorf("MaxAttempts %d: %v; want ErrMaxAttempts wrapping the conflict", attempts, err)
		}
		if got := c.puts.Load(); got != int64(attempts) {
			t.Errorf("MaxAttempts %d: %d PUTs of the slot; want %d", attempts, got, attempts)
		}
	}
}

// TestMarkerStaleCacheThenHeadFailure: a process whose cached boundary is stale (another
// instance filled the window) loses the race for its slot, then its search fails (a HEAD
// error). Its next decision, with S3 healthy again, must still see the window full: what it
// learnt from the lost race (slot 0 exists) may move it forward, never back.
func TestMarkerStaleCacheThenHeadFailure(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := ctx30(t)
			now := time.Now()
			p := core.NewFixedWindow("stale", 3, time.Hour)
			cfg := s3store.Config{Bucket: b.bucket, Mode: s3store.Marker}
			var failHeads bool
			c := &counting{API: b.client, fail: func(op string) error {
				if op == "HeadObject" && failHeads {
					return errors.New("injected: connection reset")
				}
				return nil
			}}
			a := newStore(t, c, cfg)
			if d, err := a.Take(ctx, "k", p, 0, now); err != nil || d.Remaining != 3 {
				t.Fatalf("a's first peek: %+v %v", d, err)
			}
			other := newStore(t, b.client, cfg)
			for i := range 3 {
				if d, err := other.Take(ctx, "k", p, 1, now); err != nil || !d.Allowed {
					t.Fatalf("the other instance's take %d: %+v %v", i, d, err)
				}
			}
			failHeads = true
			if _, err := a.Take(ctx, "k", p, 1, now); err == nil || !strings.Contains(err.Error(), "injected") {
				t.Fatalf("take with HEADs failing: %v; want the HEAD's error", err)
			}
			failHeads = false
			for i := range 3 {
				d, err := a.Take(ctx, "k", p, 1, now)
				if err != nil || d.Allowed || d.Remaining != 0 {
					t.Fatalf("a's take %d on the full window after the failure: %+v %v; want denied", i, d, err)
				}
			}
		})
	}
}

// TestMarkerPeekHeads counts the HEADs of a cold peek: the search gallops from slot 0 (0, 2,
// 6, …) to bracket the boundary, then bisects, and never asks for a slot at or past the
// limit (which cannot exist). A full window of 2 costs 2 HEADs (slots 0 and 1); a window of
// 100 holding one slot costs 3 (0, 2, 1), where bisecting the whole window would cost 7.
func TestMarkerPeekHeads(t *testing.T) {
	b := fakeS3(t)
	ctx := ctx30(t)
	now := time.Now()
	for _, c := range []struct{ limit, filled, heads int64 }{{1, 1, 1}, {2, 2, 2}, {4, 4, 3}, {100, 1, 3}, {100, 0, 1}} {
		p := core.NewFixedWindow(fmt.Sprint("heads", c.limit, "-", c.filled), c.limit, time.Hour)
		cfg := s3store.Config{Bucket: b.bucket, Mode: s3store.Marker}
		filler := newStore(t, b.client, cfg)
		for range c.filled {
			if _, err := filler.Take(ctx, "k", p, 1, now); err != nil {
				t.Fatal(err)
			}
		}
		cnt := &counting{API: b.client}
		d, err := newStore(t, cnt, cfg).Take(ctx, "k", p, 0, now)
		if err != nil || d.Remaining != c.limit-c.filled {
			t.Fatalf("limit %d, %d taken: peek %+v %v", c.limit, c.filled, d, err)
		}
		if cnt.heads.Load() != c.heads || cnt.total() != c.heads {
			t.Errorf("limit %d, %d taken: a cold peek cost %s; want %d HEADs and nothing else", c.limit, c.filled, cnt, c.heads)
		}
	}
}

// failDelete fails the DeleteObject of names ending in suffix.
type failDelete struct {
	s3store.API
	suffix string
}

func (f failDelete) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if strings.HasSuffix(aws.ToString(in.Key), f.suffix) {
		return nil, errors.New("injected: delete refused")
	}
	return f.API.DeleteObject(ctx, in, o...)
}

// TestResetMarkerDeleteFails: a marker-mode reset deletes a window's slots 16 at a time,
// highest first; when one deletion fails (here the highest of 20 slots, in the first batch),
// ResetAt reports that slot's error, naming the policy and the object.
func TestResetMarkerDeleteFails(t *testing.T) {
	b := fakeS3(t)
	ctx := ctx30(t)
	now := time.Now()
	p := core.NewFixedWindow("reset-fails", 20, time.Hour)
	cfg := s3store.Config{Bucket: b.bucket, Mode: s3store.Marker}
	s := newStore(t, failDelete{API: b.client, suffix: "/19"}, cfg)
	for range 20 {
		if _, err := s.Take(ctx, "k", p, 1, now); err != nil {
			t.Fatal(err)
		}
	}
	err := s.ResetAt(ctx, "k", p, now)
	if err == nil || !strings.Contains(err.Error(), "s3store: reset reset-fails: delete ") || !strings.Contains(err.Error(), "/19: injected: delete refused") {
		t.Fatalf("ResetAt with the highest slot's delete failing: %v; want that delete's error", err)
	}
}
