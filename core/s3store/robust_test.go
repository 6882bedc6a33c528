package s3store_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
	"github.com/tollgate-go/tollgate/core/s3store"
)

// listKeys returns the object names under prefix.
func listKeys(t *testing.T, b backendS3, prefix string) []string {
	t.Helper()
	out, err := b.client.ListObjectsV2(ctx30(t), &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &prefix})
	if err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// TestStateDeleted deletes a key's state object behind the store's back, as a lifecycle
// rule or an operator's reset does: the cached If-Match write then fails (404 on S3 and
// versitygw, 412 on gofakes3), the store re-reads and starts from fresh state.
func TestStateDeleted(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			prefix := "deleted-" + uniq("p") + "/"
			s := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: prefix})
			p := core.NewFixedWindow(uniq("del"), 5, time.Hour)
			now := time.Now()
			for i := 0; i < 3; i++ {
				if _, err := s.Take(ctx30(t), "k", p, 1, now); err != nil {
					t.Fatal(err)
				}
			}
			keys := listKeys(t, b, prefix)
			if len(keys) != 1 || !strings.HasSuffix(keys[0], "/state") || len(keys[0]) != len(prefix)+64+len("/state") {
				t.Fatalf("objects under %s: %q; want one <prefix><64 hex>/state", prefix, keys)
			}
			if _, err := b.client.DeleteObject(ctx30(t), &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &keys[0]}); err != nil {
				t.Fatal(err)
			}
			d, err := s.Take(ctx30(t), "k", p, 1, now)
			if err != nil || !d.Allowed || d.Remaining != 4 {
				t.Fatalf("take after the state was deleted: %+v, %v; want allowed with remaining 4 (fresh state)", d, err)
			}
		})
	}
}

// TestCorruptState puts something that is not Tollgate state where the state object is: the
// store reports a backend error (the limiter's failure policy decides) and does not
// overwrite what it cannot read.
func TestCorruptState(t *testing.T) {
	b := fakeS3(t)
	prefix := "corrupt/"
	s := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: prefix})
	p := core.NewFixedWindow(uniq("corrupt"), 5, time.Hour)
	if _, err := s.Take(ctx30(t), "k", p, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	key := listKeys(t, b, prefix)[0]
	if _, err := b.client.PutObject(ctx30(t), &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: strings.NewReader("<html>")}); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, b.client, s3store.Config{Bucket: b.bucket, Prefix: prefix})
	_, err := s2.Take(ctx30(t), "k", p, 1, time.Now())
	if err == nil || !strings.HasPrefix(err.Error(), "s3store: ") || errors.Is(err, core.ErrInvalidKey) || errors.Is(err, core.ErrInvalidPolicy) {
		t.Fatalf("take on a corrupt object: %v; want an s3store backend error", err)
	}
}

// TestConflictRetried injects 409 ConditionalRequestConflict on the first PUT: compare-and-swap
// re-reads and retries; marker mode retries the same slot (skipping it could leave a gap).
func TestConflictRetried(t *testing.T) {
	b := fakeS3(t)
	conflict := &smithy.GenericAPIError{Code: "ConditionalRequestConflict", Message: "injected"}
	for _, mode := range []s3store.Mode{s3store.CompareAndSwap, s3store.Marker} {
		t.Run(mode.String(), func(t *testing.T) {
			var left atomic.Int64
			api := &counting{API: b.client, fail: func(op string) error {
				if op == "PutObject" && left.Add(-1) >= 0 {
					return conflict
				}
				return nil
			}}
			s := newStore(t, api, s3store.Config{Bucket: b.bucket, Mode: mode, Retry: backoff.Policy{Base: time.Millisecond}})
			p := core.NewFixedWindow(uniq("conflict"), 3, time.Hour)
			now := time.Now()
			for i := 0; i < 3; i++ {
				left.Store(2)
				d, err := s.Take(ctx30(t), "k", p, 1, now)
				if err != nil || !d.Allowed || d.Remaining != int64(2-i) {
					t.Fatalf("take %d through two conflicts: %+v, %v; want allowed with remaining %d", i, d, err, 2-i)
				}
			}
			if d, err := s.Take(ctx30(t), "k", p, 1, now); err != nil || d.Allowed {
				t.Fatalf("fourth take: %+v, %v; want denied (exactly 3 spent despite the conflicts)", d, err)
			}
			// Conflicts that never end stop at the context's deadline.
			left.Store(1 << 30)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			q := core.NewFixedWindow(uniq("conflict-forever"), 3, time.Hour)
			if _, err := s.Take(ctx, "k", q, 1, now); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("endless conflicts: %v; want an error wrapping context.DeadlineExceeded", err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	b := fakeS3(t)
	for _, c := range []struct {
		name string
		api  s3store.API
		cfg  s3store.Config
	}{
		{"nil client", nil, s3store.Config{Bucket: "b"}},
		{"no bucket", b.client, s3store.Config{}},
		{"prefix starting with /", b.client, s3store.Config{Bucket: "b", Prefix: "/x/"}},
		{"prefix with a newline", b.client, s3store.Config{Bucket: "b", Prefix: "x\n/"}},
		{"huge prefix", b.client, s3store.Config{Bucket: "b", Prefix: strings.Repeat("p", s3store.MaxPrefix+1)}},
		{"unknown mode", b.client, s3store.Config{Bucket: "b", Mode: 7}},
	} {
		if _, err := s3store.New(c.api, c.cfg); err == nil || !strings.HasPrefix(err.Error(), "s3store: ") {
			t.Errorf("%s: New returned %v; want an s3store error", c.name, err)
		}
	}
	if s, err := s3store.New(b.client, s3store.Config{Bucket: "b"}); err != nil || s.Mode() != s3store.CompareAndSwap {
		t.Fatalf("defaults: %v, %v", s, err)
	}
}
