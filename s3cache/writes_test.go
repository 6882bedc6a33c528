package s3cache_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/tollgate-go/tollgate/core/conditional"
	"github.com/tollgate-go/tollgate/s3cache"
)

// Writes through the Handler (Options.Writes): which precondition combinations are accepted
// (RFC 6585 §3: one that says which version is expected), the statuses, the new ETag, no
// Content-Length on 201 and 204, and the body and Content-Type that reach S3.
func TestWriteHandlerPreconditions(t *testing.T) {
	const limit = 64
	for _, tc := range []struct {
		name   string
		method string
		hdr    []string // E stands for the current ETag
		body   string
		status int
	}{
		{"create", "PUT", []string{"If-None-Match", " * "}, "new", 201},
		{"create, exists", "PUT", []string{"If-None-Match", "*"}, "new", 412},
		{"replace", "PUT", []string{"If-Match", "E"}, "v2", 204},
		{"replace, stale", "PUT", []string{"If-Match", `"old"`}, "v2", 412},
		{"replace, weak tag", "PUT", []string{"If-Match", "W/E"}, "v2", 428},
		{"replace with *", "PUT", []string{"If-Match", "*"}, "v2", 428},
		{"no precondition", "PUT", nil, "v2", 428},
		{"both", "PUT", []string{"If-None-Match", "*", "If-Match", "E"}, "v2", 428},
		{"If-None-Match not *", "PUT", []string{"If-None-Match", "E"}, "v2", 428},
		{"create and a weak If-Match", "PUT", []string{"If-None-Match", "*", "If-Match", "W/E"}, "v2", 428},
		{"If-Match and If-None-Match tag", "PUT", []string{"If-Match", "E", "If-None-Match", `"x"`}, "v2", 428},
		{"body at the limit", "PUT", []string{"If-Match", "E"}, strings.Repeat("b", limit), 204},
		{"body over the limit", "PUT", []string{"If-Match", "E"}, strings.Repeat("b", limit+1), 413},
		{"delete", "DELETE", []string{"If-Match", "E"}, "", 204},
		{"delete, stale", "DELETE", []string{"If-Match", `"old"`}, "", 412},
		{"delete without If-Match", "DELETE", nil, "", 428},
		{"delete with If-None-Match too", "DELETE", []string{"If-Match", "E", "If-None-Match", "*"}, "", 428},
		{"bad path", "PUT", []string{"If-None-Match", "*"}, "x", 400},
	} {
		f := newMemFixture(t, s3cache.Options{Writes: true, MaxWriteSize: limit})
		etag := f.c.put("w.txt", []byte("v1"), "")
		target, key := "/w.txt", "w.txt"
		if strings.HasPrefix(tc.name, "create") {
			target, key = "/new.txt", "new.txt"
			if tc.name == "create, exists" {
				target, key = "/w.txt", "w.txt"
			}
		}
		if tc.name == "bad path" {
			target = "/a/../w.txt"
		}
		hdr := append([]string{"Content-Type", "text/x-test"}, tc.hdr...)
		for i := range hdr {
			hdr[i] = strings.ReplaceAll(hdr[i], "E", etag)
		}
		w := f.doBodyReq(tc.method, target, []byte(tc.body), hdr...)
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.status)
			continue
		}
		if _, ok := w.Header()["Content-Length"]; ok && (tc.status == 201 || tc.status == 204) {
			t.Errorf("%s: Content-Length %q on a %d", tc.name, w.Header().Get("Content-Length"), tc.status)
		}
		puts, dels := len(f.c.putIn), len(f.c.delIn)
		switch tc.status {
		case 201, 204:
			if tc.method == "PUT" {
				if got := f.c.objs[key]; got == nil || string(got.body) != tc.body || w.Header().Get("ETag") != got.etag {
					t.Errorf("%s: S3 has %+v, response ETag %q; want the body written and its ETag", tc.name, got, w.Header().Get("ETag"))
				}
				if ct := aws.ToString(f.c.putIn[0].ContentType); ct != "text/x-test" {
					t.Errorf("%s: Content-Type sent to S3 %q", tc.name, ct)
				}
			} else if f.c.objs[key] != nil || dels != 1 {
				t.Errorf("%s: the object is still there", tc.name)
			}
			if s := f.h.Stats(); s.Writes != 1 {
				t.Errorf("%s: Writes = %d, want 1", tc.name, s.Writes)
			}
		case 412:
			if puts+dels != 1 {
				t.Errorf("%s: %d S3 writes, want the one S3 refused", tc.name, puts+dels)
			}
		default:
			if puts+dels != 0 {
				t.Errorf("%s: %d S3 writes, want none", tc.name, puts+dels)
			}
		}
	}
}

// A PUT through Serve without a body writes an empty object; a body that fails to read is a
// 400 and writes nothing.
func TestWriteBodies(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{Writes: true})
	resp := f.h.Serve(t.Context(), s3cache.Request{Method: "PUT", Path: "/e.txt", Header: ifNoneMatchStar()})
	if resp.Status != 201 || f.c.objs["e.txt"] == nil || len(f.c.objs["e.txt"].body) != 0 {
		t.Errorf("PUT without a body: %d, S3 has %+v", resp.Status, f.c.objs["e.txt"])
	}
	resp = f.h.Serve(t.Context(), s3cache.Request{Method: "PUT", Path: "/f.txt", Header: ifNoneMatchStar(), Body: errReader{errBoom}})
	if resp.Status != 400 || f.c.objs["f.txt"] != nil {
		t.Errorf("PUT with a failing body: %d, want 400 and no write", resp.Status)
	}
}

func ifNoneMatchStar() conditional.Header { return conditional.Header{IfNoneMatch: "*"} }

// A write drops the cached entry whatever S3 answers, so the next GET reads S3 again.
func TestWriteInvalidates(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{Writes: true})
	etag := f.c.put("w.txt", []byte("v1"), "")
	f.do("GET", "/w.txt")
	f.doBodyReq("PUT", "/w.txt", []byte("v2"), "If-Match", `"stale"`) // 412
	f.do("GET", "/w.txt")
	f.doBodyReq("PUT", "/w.txt", []byte("v2"), "If-Match", etag)
	wantResponse(t, "GET after the write", f.do("GET", "/w.txt"), 200, "v2")
	if got := f.c.gets.Load(); got != 3 {
		t.Errorf("%d S3 GETs, want 3 (each write dropped the entry)", got)
	}
	f.h.Invalidate("/w.txt")
	f.h.Invalidate("/a/../w.txt") // refused paths are ignored
	f.do("GET", "/w.txt")
	if got := f.c.gets.Load(); got != 4 {
		t.Errorf("%d S3 GETs after Invalidate, want 4", got)
	}
}

// The write helpers: the fields sent, the ETag needed, and how S3's refusals map to
// ErrPreconditionFailed and ErrConflict (by status or by error code).
func TestWriteHelpersMapped(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	in := s3cache.PutInput{Body: strings.NewReader("a"), ContentType: "text/a", CacheControl: "max-age=1", ContentEncoding: "gzip"}
	r, err := s3cache.PutIfAbsent(ctx, c, "b", "k", in)
	if err != nil || r.ETag != c.objs["k"].etag {
		t.Fatalf("PutIfAbsent = %+v, %v", r, err)
	}
	p := c.putIn[0]
	if aws.ToString(p.ContentType) != "text/a" || aws.ToString(p.CacheControl) != "max-age=1" || aws.ToString(p.ContentEncoding) != "gzip" || aws.ToString(p.IfNoneMatch) != "*" {
		t.Errorf("PutObject input %+v", p)
	}
	_, err = s3cache.PutIfAbsent(ctx, c, "b", "plain", s3cache.PutInput{Body: strings.NewReader("p")})
	if p := c.putIn[1]; err != nil || p.ContentType != nil || p.CacheControl != nil || p.ContentEncoding != nil {
		t.Errorf("PutIfAbsent without optional fields: %v, input %+v", err, p)
	}
	if _, err := s3cache.PutIfMatch(ctx, c, "b", "k", "", in); err == nil || len(c.putIn) != 2 {
		t.Errorf("PutIfMatch without an ETag: %v after %d puts, want an error and no call", err, len(c.putIn))
	}
	if err := s3cache.DeleteIfMatch(ctx, c, "b", "k", ""); err == nil || len(c.delIn) != 0 {
		t.Errorf("DeleteIfMatch without an ETag: %v, want an error and no call", err)
	}
	if err := s3cache.DeleteIfMatch(ctx, c, "b", "gone", `"x"`); !errors.Is(err, s3cache.ErrPreconditionFailed) {
		t.Errorf("DeleteIfMatch of a missing object: %v, want ErrPreconditionFailed", err)
	}
	if _, err := s3cache.PutIfMatch(ctx, c, "b", "gone", `"x"`, in); !errors.Is(err, s3cache.ErrPreconditionFailed) {
		t.Errorf("PutIfMatch of a missing object: %v, want ErrPreconditionFailed", err)
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&smithy.GenericAPIError{Code: "PreconditionFailed"}, s3cache.ErrPreconditionFailed},
		{&smithy.GenericAPIError{Code: "ConditionalRequestConflict"}, s3cache.ErrConflict},
		{httpError(409, "conflict"), s3cache.ErrConflict},
		{httpError(412, "precondition"), s3cache.ErrPreconditionFailed},
		{httpError(500, "internal"), nil},
	} {
		c.setErr(tc.err)
		_, perr := s3cache.PutIfMatch(ctx, c, "b", "k", r.ETag, s3cache.PutInput{Body: bytes.NewReader(nil)})
		derr := s3cache.DeleteIfMatch(ctx, c, "b", "k", r.ETag)
		for _, err := range []error{perr, derr} {
			if tc.want != nil && !errors.Is(err, tc.want) || tc.want == nil && (errors.Is(err, s3cache.ErrConflict) || errors.Is(err, s3cache.ErrPreconditionFailed)) ||
				!errors.Is(err, tc.err) || !strings.HasPrefix(err.Error(), "s3cache: ") {
				t.Errorf("S3 error %v: got %v, want %v wrapping it", tc.err, err, tc.want)
			}
		}
	}
}
