package s3cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ErrPreconditionFailed reports that a conditional write lost: the object exists (PutIfAbsent)
// or its ETag is no longer the one given (PutIfMatch, DeleteIfMatch; also when the object no
// longer exists). Re-read the object and decide again. It maps to 412.
var ErrPreconditionFailed = errors.New("s3cache: precondition failed")

// ErrConflict reports that S3 refused a conditional write because a concurrent write to the
// same key was in progress (409 ConditionalRequestConflict). Retry after re-reading.
var ErrConflict = errors.New("s3cache: conflicting concurrent write")

// PutInput is the object a conditional put writes.
type PutInput struct {
	// Body is the content. Over plain HTTP (a local S3-compatible server) the SDK needs an
	// io.ReadSeeker such as *bytes.Reader to sign the payload.
	Body            io.Reader
	ContentType     string // optional
	CacheControl    string // optional
	ContentEncoding string // optional
}

// WriteResult is the result of a successful conditional put.
type WriteResult struct {
	// ETag is the new object's entity-tag, for a later PutIfMatch or DeleteIfMatch.
	ETag string
}

// PutIfAbsent creates bucket/key only if no object has that key (PutObject with
// If-None-Match: *). It returns ErrPreconditionFailed when the key exists and ErrConflict on a
// concurrent conflicting write.
func PutIfAbsent(ctx context.Context, c Client, bucket, key string, in PutInput) (WriteResult, error) {
	return put(ctx, c, bucket, key, in, func(p *s3.PutObjectInput) { p.IfNoneMatch = ptr("*") }, "put if absent")
}

// PutIfMatch replaces bucket/key only if its current ETag is etag (PutObject with If-Match),
// which prevents lost updates. It returns ErrPreconditionFailed when the ETag differs or the
// object is gone, and ErrConflict on a concurrent conflicting write.
func PutIfMatch(ctx context.Context, c Client, bucket, key, etag string, in PutInput) (WriteResult, error) {
	if etag == "" {
		return WriteResult{}, errors.New("s3cache: PutIfMatch needs an ETag")
	}
	return put(ctx, c, bucket, key, in, func(p *s3.PutObjectInput) { p.IfMatch = &etag }, "put if match")
}

func put(ctx context.Context, c Client, bucket, key string, in PutInput, cond func(*s3.PutObjectInput), op string) (WriteResult, error) {
	p := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: in.Body}
	if in.ContentType != "" {
		p.ContentType = &in.ContentType
	}
	if in.CacheControl != "" {
		p.CacheControl = &in.CacheControl
	}
	if in.ContentEncoding != "" {
		p.ContentEncoding = &in.ContentEncoding
	}
	cond(p)
	out, err := c.PutObject(ctx, p)
	if err != nil {
		return WriteResult{}, writeError(op, key, err)
	}
	return WriteResult{ETag: deref(out.ETag)}, nil
}

// DeleteIfMatch deletes bucket/key only if its current ETag is etag (DeleteObject with
// If-Match). It returns ErrPreconditionFailed when the ETag differs or the object is gone.
//
// Not every S3-compatible server honours If-Match on DELETE (gofakes3 ignores it and deletes);
// Amazon S3 and versitygw do.
func DeleteIfMatch(ctx context.Context, c Client, bucket, key, etag string) error {
	if etag == "" {
		return errors.New("s3cache: DeleteIfMatch needs an ETag")
	}
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key, IfMatch: &etag})
	if err != nil {
		return writeError("delete if match", key, err)
	}
	return nil
}

// writeError classifies a conditional write's error. A 404 on If-Match also means the
// precondition failed: the object the caller read is gone (RFC 9110 §13.1.1).
func writeError(op, key string, err error) error {
	switch status, code := httpStatus(err), errorCode(err); {
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
		return fmt.Errorf("s3cache: %s %q: %w: %w", op, key, ErrPreconditionFailed, err)
	case status == http.StatusConflict || code == "ConditionalRequestConflict":
		return fmt.Errorf("s3cache: %s %q: %w: %w", op, key, ErrConflict, err)
	case isNotFound(err):
		return fmt.Errorf("s3cache: %s %q: %w: %w", op, key, ErrPreconditionFailed, err)
	}
	return fmt.Errorf("s3cache: %s %q: %w", op, key, err)
}
