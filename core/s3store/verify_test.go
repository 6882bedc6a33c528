package s3store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core/s3store"
)

// dropConditions forwards to a real client but strips the conditions of every PutObject, as
// a server that ignores them would.
type dropConditions struct {
	s3store.API
	ifMatch, ifNoneMatch bool
}

// Options lets Verify name the endpoint, as with a plain client.
func (d dropConditions) Options() s3.Options { return d.API.(*s3.Client).Options() }

func (d dropConditions) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	cp := *in
	if d.ifMatch {
		cp.IfMatch = nil
	}
	if d.ifNoneMatch {
		cp.IfNoneMatch = nil
	}
	return d.API.PutObject(ctx, &cp, o...)
}

// TestVerify runs the startup check on each backend, in both modes: a healthy bucket passes
// and leaves no probe behind; a missing bucket, and a server that ignores If-Match (in
// compare-and-swap mode) or If-None-Match, are reported naming the bucket, the endpoint and
// the option to change.
func TestVerify(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			ctx := ctx30(t)
			for _, c := range []struct {
				name   string
				api    s3store.API
				bucket string
				mode   s3store.Mode
				want   []string // substrings of the error; none when healthy
			}{
				{"healthy CAS", b.client, b.bucket, s3store.CompareAndSwap, nil},
				{"healthy marker", b.client, b.bucket, s3store.Marker, nil},
				{"missing bucket", b.client, "nosuchbucket", s3store.CompareAndSwap,
					[]string{`s3store: bucket "nosuchbucket" does not exist at ` + b.endpoint + ` (Config.Bucket)`}},
				{"ignores If-Match, CAS", dropConditions{API: b.client, ifMatch: true}, b.bucket, s3store.CompareAndSwap,
					[]string{`s3store: bucket "` + b.bucket + `" at ` + b.endpoint + ` ignores If-Match`, "set Config.Mode to s3store.Marker"}},
				{"ignores If-Match, marker", dropConditions{API: b.client, ifMatch: true}, b.bucket, s3store.Marker, nil},
				{"ignores If-None-Match", dropConditions{API: b.client, ifNoneMatch: true}, b.bucket, s3store.Marker,
					[]string{`s3store: bucket "` + b.bucket + `" at ` + b.endpoint + ` ignores If-None-Match: *`}},
			} {
				t.Run(c.name, func(t *testing.T) {
					s := newStore(t, c.api, s3store.Config{Bucket: c.bucket, Mode: c.mode, Prefix: "verify/"})
					err := s.Verify(ctx)
					if c.want == nil {
						if err != nil {
							t.Fatalf("Verify: %v; want nil", err)
						}
					} else {
						if err == nil {
							t.Fatal("Verify passed; want an error")
						}
						t.Logf("Verify: %v", err)
						for _, w := range c.want {
							if !strings.Contains(err.Error(), w) {
								t.Errorf("error %q does not say %q", err, w)
							}
						}
					}
					if c.bucket != b.bucket {
						return
					}
					out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String("verify/")})
					if err != nil {
						t.Fatal(err)
					}
					if len(out.Contents) != 0 {
						t.Fatalf("Verify left %d objects under the prefix, first %s", len(out.Contents), aws.ToString(out.Contents[0].Key))
					}
				})
			}
		})
	}
}
