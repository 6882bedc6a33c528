package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core/backoff"
)

// Verify checks, at startup, that the bucket is usable by this store in its mode, and says
// precisely what is wrong otherwise, naming the bucket, the endpoint and the option to
// change:
//
//   - the bucket exists and this client may use it (HeadBucket);
//   - create-only writes work: a probe object under Config.Prefix is created with
//     If-None-Match: *, and a second create-only write of it must be refused (412, or 409
//     ConditionalRequestConflict) — both modes rely on it;
//   - in compare-and-swap mode, conditional updates work: a write with If-Match on a stale
//     ETag must be refused (412, or 409 ConditionalRequestConflict), and one on the current
//     ETag accepted. A server that ignores If-Match would let concurrent instances overwrite
//     each other's counts; Verify reports it and names the way out, Config.Mode = Marker.
//
// The probe is then deleted (s3:DeleteObject; without that permission it is left to the
// prefix's lifecycle rule). New does no I/O, so that building a store never blocks and works
// before the network does; Verify is the separate, explicit check that an application calls
// once at startup with a deadline (the examples do). It costs one HEAD and up to five small
// requests.
func (s *Store) Verify(ctx context.Context) error {
	where := s.where()
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		switch st := statusOf(err); {
		case st == http.StatusNotFound || codeOf(err) == "NoSuchBucket":
			return fmt.Errorf("s3store: bucket %q does not exist at %s (Config.Bucket): %w", s.bucket, where, err)
		case st == http.StatusForbidden:
			return fmt.Errorf("s3store: bucket %q at %s: access denied (the store needs s3:ListBucket on the bucket, s3:GetObject and s3:PutObject on the prefix): %w", s.bucket, where, err)
		case st == http.StatusMovedPermanently:
			return fmt.Errorf("s3store: bucket %q is not in %s (set ClientOptions.Region to the bucket's region): %w", s.bucket, where, err)
		default:
			return fmt.Errorf("s3store: bucket %q is not reachable at %s: %w", s.bucket, where, err)
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	probe := s.prefix + "tollgate-verify/" + hex.EncodeToString(id[:])
	defer func() {
		// Best effort: the lifecycle rule on the prefix removes a probe left behind.
		_, _ = s.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &probe})
	}()
	put := func(body string, ifNoneMatch, ifMatch *string) (*s3.PutObjectOutput, error) {
		return s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &s.bucket, Key: &probe, Body: bytes.NewReader([]byte(body)), ContentLength: aws.Int64(int64(len(body))),
			IfNoneMatch: ifNoneMatch, IfMatch: ifMatch,
		})
	}
	created, err := put("1", aws.String("*"), nil)
	if err != nil {
		return fmt.Errorf("s3store: bucket %q at %s: a create-only write (PutObject If-None-Match: *) of %s failed; both modes need it: %w", s.bucket, where, probe, err)
	}
	switch _, err := put("2", aws.String("*"), nil); {
	case err == nil:
		return fmt.Errorf("s3store: bucket %q at %s ignores If-None-Match: * (a second create-only write of %s succeeded): neither mode can keep exact state there", s.bucket, where, probe)
	case !backoff.IsConditionalFailure(err):
		// 412, or 409 ConditionalRequestConflict: not written. A 404 here would be no
		// answer to If-None-Match at all.
		return fmt.Errorf("s3store: bucket %q at %s: a second create-only write of %s should be refused with 412 Precondition Failed: %w", s.bucket, where, probe, err)
	}
	if s.mode != CompareAndSwap {
		return nil
	}
	etag := aws.ToString(created.ETag)
	if etag == "" {
		return fmt.Errorf("s3store: bucket %q at %s returns no ETag for PutObject: compare-and-swap mode needs one; set Config.Mode to s3store.Marker", s.bucket, where)
	}
	switch _, err := put("3", nil, aws.String(`"00000000000000000000000000000000"`)); {
	case err == nil:
		return fmt.Errorf("s3store: bucket %q at %s ignores If-Match (a PutObject of %s on a stale ETag succeeded): compare-and-swap mode would lose updates there; set Config.Mode to s3store.Marker", s.bucket, where, probe)
	case !backoff.IsConditionalFailure(err): // 412, or 409 ConditionalRequestConflict
		return fmt.Errorf("s3store: bucket %q at %s does not support conditional updates (PutObject If-Match): compare-and-swap mode needs them; set Config.Mode to s3store.Marker: %w", s.bucket, where, err)
	}
	if _, err := put("4", nil, &etag); err != nil {
		return fmt.Errorf("s3store: bucket %q at %s refused a PutObject of %s with If-Match on its current ETag: compare-and-swap mode needs it; set Config.Mode to s3store.Marker: %w", s.bucket, where, probe, err)
	}
	return nil
}

// where describes the region and endpoint the client talks to, for error messages.
func (s *Store) where() string {
	c, ok := s.client.(interface{ Options() s3.Options })
	if !ok {
		return "the client's endpoint"
	}
	o := c.Options()
	if o.BaseEndpoint != nil {
		return *o.BaseEndpoint
	}
	if o.Region == "" {
		return "AWS S3 with no region set"
	}
	return "AWS S3 in " + o.Region
}
