package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-go/tollgate/core/s3store"
)

// sdkError builds an error shaped like the SDK's answer to an S3 call that failed with an
// HTTP status and an error code: an OperationError around an awshttp.ResponseError around a
// smithyhttp.ResponseError around the API error.
func sdkError(op string, status int, code, msg string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: msg},
		},
		RequestID: "req-1",
	}}
}

// verifyPut is one PutObject that Verify sent, as the server saw it.
type verifyPut struct {
	key, body, ifNoneMatch, ifMatch string
	etag                            string // the ETag of the answer, if any
}

// verifyS3 is an in-memory S3 for Store.Verify: by default it answers PutObject as S3 does
// (If-None-Match: * refused with 412 on an existing key, If-Match on another ETag refused with
// 412, on a missing key with 404), and answers[n], when set, replaces its answer to the n-th
// PutObject (counted from 0; the write itself still happens, as on a server that wrote and
// then failed to answer). It records every PutObject and DeleteObject. It has no Options
// method: wrap it in verifyOptions for that.
type verifyS3 struct {
	headErr error
	answers map[int]func(out *s3.PutObjectOutput, err error) (*s3.PutObjectOutput, error)
	// onDelete, if set, is called with the context of each DeleteObject.
	onDelete func(ctx context.Context)

	etags   map[string]string
	puts    []verifyPut
	deletes []string
	reads   int // GetObject and HeadObject calls, which Verify does not make
}

func (v *verifyS3) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	if v.headErr != nil {
		return nil, v.headErr
	}
	return &s3.HeadBucketOutput{}, nil
}

func (v *verifyS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	n := len(v.puts)
	key := aws.ToString(in.Key)
	v.puts = append(v.puts, verifyPut{key: key, body: string(body), ifNoneMatch: aws.ToString(in.IfNoneMatch), ifMatch: aws.ToString(in.IfMatch)})
	out, err := v.honestPut(key, in)
	if a := v.answers[n]; a != nil {
		out, err = a(out, err)
	}
	if out != nil {
		v.puts[n].etag = aws.ToString(out.ETag)
	}
	return out, err
}

func (v *verifyS3) honestPut(key string, in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
	if v.etags == nil {
		v.etags = map[string]string{}
	}
	cur, exists := v.etags[key]
	switch {
	case aws.ToString(in.IfNoneMatch) == "*" && exists:
		return nil, sdkError("PutObject", http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	case in.IfMatch != nil && !exists:
		return nil, sdkError("PutObject", http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	case in.IfMatch != nil && *in.IfMatch != cur:
		return nil, sdkError("PutObject", http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	etag := fmt.Sprintf(`"etag-%d"`, len(v.puts))
	v.etags[key] = etag
	return &s3.PutObjectOutput{ETag: aws.String(etag)}, nil
}

func (v *verifyS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if v.onDelete != nil {
		v.onDelete(ctx)
	}
	v.deletes = append(v.deletes, aws.ToString(in.Key))
	delete(v.etags, aws.ToString(in.Key))
	return &s3.DeleteObjectOutput{}, nil
}

func (v *verifyS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	v.reads++
	return nil, errors.New("verifyS3: GetObject not scripted")
}

func (v *verifyS3) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	v.reads++
	return nil, errors.New("verifyS3: HeadObject not scripted")
}

// verifyOptions gives a verifyS3 the Options method of an *s3.Client, from which Verify
// names the endpoint in its errors.
type verifyOptions struct {
	*verifyS3
	opts s3.Options
}

func (v verifyOptions) Options() s3.Options { return v.opts }

// answer returns a replacement answer that fails with err.
func answer(err error) func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error) {
	return func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error) { return nil, err }
}

// TestVerifyHeadBucketErrors: each way HeadBucket fails gets its own diagnosis, naming the
// bucket and the endpoint and wrapping the SDK's error: a 404, or the NoSuchBucket code under
// another status, is a missing bucket (Config.Bucket); a 403 is missing permissions; a 301 is
// the wrong region (ClientOptions.Region); anything else (a 5xx, a network error) is an
// unreachable bucket. Verify writes nothing then.
func TestVerifyHeadBucketErrors(t *testing.T) {
	const where = "http://s3.test:9000"
	for _, c := range []struct {
		name string
		err  error
		want string
		not  []string
	}{
		{"404 without a code", sdkError("HeadBucket", http.StatusNotFound, "NotFound", "Not Found"),
			`s3store: bucket "vb" does not exist at ` + where + ` (Config.Bucket): `, nil},
		{"NoSuchBucket under 400", sdkError("HeadBucket", http.StatusBadRequest, "NoSuchBucket", "The specified bucket does not exist"),
			`s3store: bucket "vb" does not exist at ` + where + ` (Config.Bucket): `, nil},
		{"403", sdkError("HeadBucket", http.StatusForbidden, "Forbidden", "Forbidden"),
			`s3store: bucket "vb" at ` + where + `: access denied (the store needs s3:ListBucket`, []string{"does not exist"}},
		{"301", sdkError("HeadBucket", http.StatusMovedPermanently, "MovedPermanently", "Moved Permanently"),
			`s3store: bucket "vb" is not in ` + where + ` (set ClientOptions.Region to the bucket's region): `, []string{"does not exist"}},
		{"500", sdkError("HeadBucket", http.StatusInternalServerError, "InternalError", "We encountered an internal error"),
			`s3store: bucket "vb" is not reachable at ` + where + `: `, nil},
		{"400 with another code", sdkError("HeadBucket", http.StatusBadRequest, "InvalidRequest", "bad"),
			`s3store: bucket "vb" is not reachable at ` + where + `: `, nil},
		{"network error", errors.New("dial tcp 127.0.0.1:9000: connect: connection refused"),
			`s3store: bucket "vb" is not reachable at ` + where + `: dial tcp`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := &verifyS3{headErr: c.err}
			s := newStore(t, verifyOptions{api, s3.Options{BaseEndpoint: aws.String(where)}}, s3store.Config{Bucket: "vb", Prefix: "vp/"})
			err := s.Verify(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Verify: %v; want an error saying %q", err, c.want)
			}
			for _, n := range append(c.not, "access denied", "ClientOptions.Region", "not reachable", "does not exist") {
				if !strings.Contains(c.want, n) && strings.Contains(err.Error(), n) {
					t.Errorf("Verify: %v; it also says %q, another diagnosis", err, n)
				}
			}
			if !errors.Is(err, c.err) {
				t.Errorf("Verify: %v does not wrap the HeadBucket error", err)
			}
			if len(api.puts) != 0 || len(api.deletes) != 0 {
				t.Errorf("Verify sent %d PutObject and %d DeleteObject after HeadBucket failed; want none", len(api.puts), len(api.deletes))
			}
		})
	}
}

// TestVerifyWhere: Verify's errors name the endpoint the client talks to: its BaseEndpoint
// when set, else "AWS S3 in" its region, or "AWS S3 with no region set" without one, and
// "the client's endpoint" for a client that cannot say (no Options method).
func TestVerifyWhere(t *testing.T) {
	missing := sdkError("HeadBucket", http.StatusNotFound, "NotFound", "Not Found")
	for _, c := range []struct {
		name string
		api  func(*verifyS3) s3store.API
		want string
	}{
		{"no Options method", func(v *verifyS3) s3store.API { return v }, "the client's endpoint"},
		{"no endpoint, no region", func(v *verifyS3) s3store.API { return verifyOptions{v, s3.Options{}} }, "AWS S3 with no region set"},
		{"region", func(v *verifyS3) s3store.API { return verifyOptions{v, s3.Options{Region: "eu-west-1"}} }, "AWS S3 in eu-west-1"},
		{"endpoint and region", func(v *verifyS3) s3store.API {
			return verifyOptions{v, s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String("http://minio.test:9000")}}
		}, "http://minio.test:9000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t, c.api(&verifyS3{headErr: missing}), s3store.Config{Bucket: "vb"})
			err := s.Verify(context.Background())
			want := `s3store: bucket "vb" does not exist at ` + c.want + ` (Config.Bucket): `
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Verify: %v; want an error starting %q", err, want)
			}
		})
	}
}

// TestVerifyScripted runs Verify against servers that fail each of its probes, in both modes:
// each failure is reported with its own diagnosis (and the way out, Config.Mode = Marker, for
// what only compare-and-swap mode needs), wrapping the server's error; a healthy server passes
// with two create-only writes in marker mode and four writes in compare-and-swap mode, the
// last one on the ETag of the first. Whatever the outcome once the probe was written, Verify
// deletes it, once, under Config.Prefix.
func TestVerifyScripted(t *testing.T) {
	type answers = map[int]func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error)
	internal := sdkError("PutObject", http.StatusInternalServerError, "InternalError", "We encountered an internal error")
	denied := sdkError("PutObject", http.StatusForbidden, "AccessDenied", "Access Denied")
	notImpl := sdkError("PutObject", http.StatusNotImplemented, "NotImplemented", "A header you provided implies functionality that is not implemented")
	refused := sdkError("PutObject", http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	// S3's answer to a conditional write while another one on the key is in flight: not
	// written, as with 412.
	conflict := sdkError("PutObject", http.StatusConflict, "ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource.")
	for _, c := range []struct {
		name    string
		mode    s3store.Mode
		answers answers
		want    []string // substrings of the error; nil when Verify passes
		wrapped error    // the server's error that Verify's must wrap
		puts    int      // PutObject calls Verify makes
	}{
		{name: "healthy, CAS", mode: s3store.CompareAndSwap, puts: 4},
		{name: "healthy, marker", mode: s3store.Marker, puts: 2},
		{name: "marker mode makes no If-Match write", mode: s3store.Marker, puts: 2,
			answers: answers{2: answer(notImpl), 3: answer(notImpl)}},
		{name: "create-only write fails, CAS", mode: s3store.CompareAndSwap, puts: 1,
			answers: answers{0: answer(denied)}, wrapped: denied,
			want: []string{`s3store: bucket "vb" at http://s3.test: a create-only write (PutObject If-None-Match: *) of vp/tollgate-verify/`, "failed; both modes need it: "}},
		{name: "create-only write fails, marker", mode: s3store.Marker, puts: 1,
			answers: answers{0: answer(denied)}, wrapped: denied,
			want: []string{"a create-only write (PutObject If-None-Match: *)"}},
		{name: "second create-only write fails otherwise, CAS", mode: s3store.CompareAndSwap, puts: 2,
			answers: answers{1: answer(internal)}, wrapped: internal,
			want: []string{`s3store: bucket "vb" at http://s3.test: a second create-only write of vp/tollgate-verify/`, "should be refused with 412 Precondition Failed: "}},
		{name: "second create-only write fails otherwise, marker", mode: s3store.Marker, puts: 2,
			answers: answers{1: answer(internal)}, wrapped: internal,
			want: []string{"should be refused with 412 Precondition Failed"}},
		{name: "second create-only write answered 404", mode: s3store.Marker, puts: 2,
			answers: answers{1: answer(sdkError("PutObject", http.StatusNotFound, "NoSuchKey", "The specified key does not exist."))},
			want:    []string{"should be refused with 412 Precondition Failed"}},
		{name: "second create-only write answered 409 conflict", mode: s3store.CompareAndSwap, puts: 4,
			answers: answers{1: answer(conflict)}},
		{name: "stale If-Match answered 409 conflict", mode: s3store.CompareAndSwap, puts: 4,
			answers: answers{2: answer(conflict)}},
		{name: "second create-only write accepted", mode: s3store.Marker, puts: 2,
			answers: answers{1: func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error) {
				return &s3.PutObjectOutput{ETag: aws.String(`"2"`)}, nil
			}},
			want: []string{`s3store: bucket "vb" at http://s3.test ignores If-None-Match: * (a second create-only write of vp/tollgate-verify/`}},
		{name: "no ETag", mode: s3store.CompareAndSwap, puts: 2,
			answers: answers{0: func(out *s3.PutObjectOutput, err error) (*s3.PutObjectOutput, error) {
				return &s3.PutObjectOutput{}, err
			}},
			want: []string{`s3store: bucket "vb" at http://s3.test returns no ETag for PutObject`, "set Config.Mode to s3store.Marker"}},
		{name: "no ETag, marker", mode: s3store.Marker, puts: 2,
			answers: answers{0: func(out *s3.PutObjectOutput, err error) (*s3.PutObjectOutput, error) {
				return &s3.PutObjectOutput{}, err
			}}},
		{name: "stale If-Match accepted", mode: s3store.CompareAndSwap, puts: 3,
			answers: answers{2: func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error) {
				return &s3.PutObjectOutput{ETag: aws.String(`"3"`)}, nil
			}},
			want: []string{`s3store: bucket "vb" at http://s3.test ignores If-Match (a PutObject of vp/tollgate-verify/`, "set Config.Mode to s3store.Marker"}},
		{name: "stale If-Match not implemented", mode: s3store.CompareAndSwap, puts: 3,
			answers: answers{2: answer(notImpl)}, wrapped: notImpl,
			want: []string{`s3store: bucket "vb" at http://s3.test does not support conditional updates (PutObject If-Match)`, "set Config.Mode to s3store.Marker: "}},
		{name: "stale If-Match answered 404", mode: s3store.CompareAndSwap, puts: 3,
			answers: answers{2: answer(sdkError("PutObject", http.StatusNotFound, "NoSuchKey", "The specified key does not exist."))},
			want:    []string{"does not support conditional updates (PutObject If-Match)"}},
		{name: "current If-Match refused", mode: s3store.CompareAndSwap, puts: 4,
			answers: answers{3: answer(refused)}, wrapped: refused,
			want: []string{`s3store: bucket "vb" at http://s3.test refused a PutObject of vp/tollgate-verify/`, "with If-Match on its current ETag", "set Config.Mode to s3store.Marker: "}},
		{name: "current If-Match fails", mode: s3store.CompareAndSwap, puts: 4,
			answers: answers{3: answer(internal)}, wrapped: internal,
			want: []string{"refused a PutObject of vp/tollgate-verify/"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := &verifyS3{answers: c.answers}
			s := newStore(t, verifyOptions{api, s3.Options{BaseEndpoint: aws.String("http://s3.test")}}, s3store.Config{Bucket: "vb", Prefix: "vp/", Mode: c.mode})
			err := s.Verify(context.Background())
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v; want nil", err)
				}
			} else {
				if err == nil {
					t.Fatal("Verify passed; want an error")
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Verify: %q does not say %q", err, w)
					}
				}
			}
			if c.wrapped != nil && !errors.Is(err, c.wrapped) {
				t.Errorf("Verify: %v does not wrap the server's error %v", err, c.wrapped)
			}
			if len(api.puts) != c.puts {
				t.Fatalf("Verify sent %d PutObject (%+v); want %d", len(api.puts), api.puts, c.puts)
			}
			probe := api.puts[0].key
			if !strings.HasPrefix(probe, "vp/tollgate-verify/") {
				t.Errorf("probe %q is not under Config.Prefix", probe)
			}
			for i, p := range api.puts {
				if p.key != probe {
					t.Errorf("PutObject %d on %q, not the probe %q", i, p.key, probe)
				}
				createOnly := i < 2
				if createOnly != (p.ifNoneMatch == "*") || createOnly == (p.ifMatch != "") {
					t.Errorf("PutObject %d: If-None-Match %q, If-Match %q; want the first two create-only, the others If-Match", i, p.ifNoneMatch, p.ifMatch)
				}
			}
			if len(api.puts) == 4 {
				if first := api.puts[0].etag; api.puts[3].ifMatch != first || first == "" {
					t.Errorf("last PutObject has If-Match %s; want the ETag of the first, %s", api.puts[3].ifMatch, first)
				}
				if api.puts[2].ifMatch == api.puts[0].etag {
					t.Errorf("the stale If-Match is the current ETag %s", api.puts[2].ifMatch)
				}
			}
			if len(api.deletes) != 1 || api.deletes[0] != probe {
				t.Errorf("Verify deleted %q; want the probe %q once", api.deletes, probe)
			}
			if api.reads != 0 {
				t.Errorf("Verify made %d GetObject/HeadObject calls; want none", api.reads)
			}
		})
	}
}

// TestVerifyDefaultPrefix: with Config.Prefix empty the probe is written, and deleted, under
// DefaultPrefix.
func TestVerifyDefaultPrefix(t *testing.T) {
	api := &verifyS3{}
	s := newStore(t, api, s3store.Config{Bucket: "vb", Mode: s3store.Marker})
	if err := s.Verify(context.Background()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(api.puts) != 2 || !strings.HasPrefix(api.puts[0].key, s3store.DefaultPrefix+"tollgate-verify/") {
		t.Fatalf("Verify wrote %+v; want two writes of a probe under %q", api.puts, s3store.DefaultPrefix)
	}
	if len(api.deletes) != 1 || api.deletes[0] != api.puts[0].key {
		t.Fatalf("Verify deleted %q; want the probe %q", api.deletes, api.puts[0].key)
	}
}

// TestVerifyDeletesProbeAfterCancel: when the caller's context ends while Verify runs (its
// startup deadline passed), Verify returns the error and still deletes the probe, on a
// context that is not cancelled, so that the request is actually sent.
func TestVerifyDeletesProbeAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var deleteCtxErr error = errors.New("DeleteObject not called")
	api := &verifyS3{
		answers: map[int]func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error){
			1: func(*s3.PutObjectOutput, error) (*s3.PutObjectOutput, error) {
				cancel()
				return nil, ctx.Err()
			},
		},
		onDelete: func(c context.Context) { deleteCtxErr = c.Err() },
	}
	s := newStore(t, api, s3store.Config{Bucket: "vb", Prefix: "vp/"})
	err := s.Verify(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify: %v; want it to wrap context.Canceled", err)
	}
	if len(api.deletes) != 1 || api.deletes[0] != api.puts[0].key {
		t.Fatalf("Verify deleted %q; want the probe %q", api.deletes, api.puts[0].key)
	}
	if deleteCtxErr != nil {
		t.Fatalf("DeleteObject got a context with error %v; want a live one", deleteCtxErr)
	}
}
