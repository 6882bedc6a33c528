package s3cache

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/core/conditional"
)

// Objects above Options.MaxObjectSize that are not in the disk tier are never buffered. Each
// request opens its own S3 stream with the client's entity-tag preconditions and Range
// forwarded, so S3 answers 304, 412, 206 or 416 and sends only the bytes the client needs.
// The forwarded form is what S3's GetObject accepts (one entity-tag per field, no If-Range).
// Every precondition is then evaluated here too, by core/conditional, against the validators
// of S3's own response, which are current: so the answer follows RFC 9110 whatever the S3
// server's own evaluation, and what cannot be forwarded is covered.

// forwarded is the part of a client's conditional request that S3 is asked to evaluate.
type forwarded struct {
	ifMatch, ifNoneMatch *string
	ifModified           *time.Time
	rng                  *string
	ifRangeAsIfMatch     bool // rng is conditional on ifMatch, which came from If-Range
	ifRangeDate          bool // rng is conditional on an If-Range date, checked on the response
}

// singleETag returns field when it is one strong entity-tag or "*", as S3 accepts it.
func singleETag(field string) *string {
	f := strings.TrimSpace(field)
	if f == "*" {
		return &f
	}
	etag, rest, ok := conditional.ScanETag(f)
	if !ok || strings.TrimSpace(rest) != "" || conditional.IsWeak(etag) {
		return nil
	}
	return &etag
}

func httpDate(field string) *time.Time {
	if field == "" {
		return nil
	}
	t, ok := conditional.ParseHTTPDate(field)
	if !ok {
		return nil
	}
	return &t
}

// forward builds what to send S3 for req, following RFC 9110 §13.2.2: If-Modified-Since only
// without If-None-Match, Range only for GET. If-Unmodified-Since is never forwarded: it is
// evaluated on S3's response only, because an S3-compatible server (versitygw) answers 412
// when the date equals Last-Modified, where §13.1.4 makes the condition true.
func forward(req Request) forwarded {
	var f forwarded
	hd := req.Header
	if hd.IfMatch != "" {
		f.ifMatch = singleETag(hd.IfMatch)
	}
	if hd.IfNoneMatch != "" {
		f.ifNoneMatch = singleETag(hd.IfNoneMatch)
	} else if req.Method == http.MethodGet || req.Method == http.MethodHead {
		f.ifModified = httpDate(hd.IfModifiedSince)
	}
	if req.Method != http.MethodGet || hd.Range == "" {
		return f
	}
	// One range only: S3 does not serve multipart/byteranges. Multiple or malformed ranges
	// are ignored and the whole object is sent, which RFC 9110 §14.2 allows.
	if !singleRange(hd.Range) {
		return f
	}
	if hd.IfRange == "" {
		f.rng = &hd.Range
		return f
	}
	// If-Range with a strong entity-tag becomes If-Match on the ranged request; a 412 then
	// means "changed": retry for the whole object. If-Range with a date sends the range and
	// checks the date on S3's response (§13.1.5). A weak tag never matches: the whole object.
	etag, rest, isTag := conditional.ScanETag(hd.IfRange)
	switch {
	case isTag && strings.TrimSpace(rest) == "" && !conditional.IsWeak(etag) && hd.IfMatch == "":
		f.rng, f.ifMatch, f.ifRangeAsIfMatch = &hd.Range, &etag, true
	case !isTag && httpDate(hd.IfRange) != nil:
		f.rng, f.ifRangeDate = &hd.Range, true
	}
	return f
}

func singleRange(field string) bool {
	rs, err := conditional.ParseRange(field, 1<<62)
	return err == nil && len(rs) == 1
}

// stream answers a GET or HEAD for a large object from S3.
func (h *Handler) stream(ctx context.Context, req Request, marker *entry) Response {
	h.stats.streamed.Add(1)
	f := forward(req)
	key := h.opts.Prefix + marker.name
	if req.Method == http.MethodHead {
		out, err := h.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &h.opts.Bucket, Key: &key,
			IfMatch: f.ifMatch, IfNoneMatch: f.ifNoneMatch, IfModifiedSince: f.ifModified})
		if err != nil {
			return h.streamFailed(req, marker, err)
		}
		meta := metaFromHead(out, marker.name)
		return h.fromMeta(req, meta, nil, nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	in := &s3.GetObjectInput{Bucket: &h.opts.Bucket, Key: &key, IfMatch: f.ifMatch, IfNoneMatch: f.ifNoneMatch,
		IfModifiedSince: f.ifModified, Range: f.rng}
	out, err := h.client.GetObject(ctx, in)
	retryWhole, unsatisfied := false, false
	switch {
	case f.ifRangeAsIfMatch:
		// If-Range failed (§13.1.5): the whole current object, with 200. The ETag is checked
		// here too, for servers that ignore If-Match on GET.
		retryWhole = err != nil && httpStatus(err) == http.StatusPreconditionFailed ||
			err == nil && !conditional.StrongMatch(deref(out.ETag), *f.ifMatch)
	case f.ifRangeDate && err == nil:
		// The date must equal Last-Modified, which must be a strong validator (§13.1.5).
		m := metaFromGet(out, marker.name)
		date := responseDate(rawHeader(out.ResultMetadata), h.opts.Now())
		retryWhole = conditional.CheckIfRange(req.Header.IfRange, conditional.Validators{ETag: m.ETag, LastModified: m.LastModified}) != conditional.CondTrue ||
			!strongLastModified(m.LastModified, date)
	case f.ifRangeDate && httpStatus(err) == http.StatusRequestedRangeNotSatisfiable:
		// 416 only stands if If-Range holds, which takes the object's validators to know.
		retryWhole, unsatisfied = true, true
	}
	if retryWhole {
		if err == nil {
			_ = out.Body.Close()
		}
		in.IfMatch, in.Range = nil, nil
		if !f.ifRangeAsIfMatch {
			in.IfMatch = f.ifMatch
		}
		out, err = h.client.GetObject(ctx, in)
		if err == nil && unsatisfied && conditional.CheckIfRange(req.Header.IfRange,
			conditional.Validators{ETag: deref(out.ETag), LastModified: deref(out.LastModified)}) == conditional.CondTrue &&
			strongLastModified(deref(out.LastModified), responseDate(rawHeader(out.ResultMetadata), h.opts.Now())) {
			// If-Range holds after all: the range was not satisfiable, unless a precondition
			// answers first (§13.2.2).
			meta := metaFromGet(out, marker.name)
			r := h.fromMeta(req, meta, out, cancel)
			if r.Status != http.StatusOK {
				return r
			}
			_ = r.Close()
			return unsatisfiable(meta.Size)
		}
	}
	if err != nil {
		cancel()
		return h.streamFailed(req, marker, err)
	}
	return h.fromMeta(req, metaFromGet(out, marker.name), out, cancel)
}

// fromMeta answers from an object's current metadata (just received from S3) and, for GET, its
// open body: the client's preconditions are evaluated against it, which covers the fields
// that could not be forwarded. A ranged GET it cannot serve from the stream is sent whole.
func (h *Handler) fromMeta(req Request, meta Meta, out *s3.GetObjectOutput, cancel context.CancelFunc) Response {
	closeBody := func() {
		if out != nil {
			_ = out.Body.Close()
			cancel()
		}
	}
	res := conditional.Evaluate(req.Method, req.Header, conditional.Validators{ETag: meta.ETag, LastModified: meta.LastModified})
	switch res.Outcome {
	case conditional.NotModified:
		closeBody()
		h.stats.clientNotModified.Add(1)
		return Response{Status: http.StatusNotModified, meta: h.withCacheControl(meta), object: true, ContentLength: -1}
	case conditional.PreconditionFailed:
		closeBody()
		return generic(http.StatusPreconditionFailed, req.Method == http.MethodHead)
	}
	if out == nil {
		return Response{Status: http.StatusOK, meta: h.withCacheControl(meta), object: true, ContentLength: meta.Size}
	}
	if out.ContentRange != nil {
		// S3 honoured the forwarded Range: pass its 206 through.
		return Response{Status: http.StatusPartialContent, meta: h.withCacheControl(meta), object: true,
			Stream: &s3Body{out.Body, cancel}, ContentLength: deref(out.ContentLength), contentRange: *out.ContentRange}
	}
	return streamResponse(out, h.withCacheControl(meta), http.StatusOK, cancel)
}

func (h *Handler) withCacheControl(m Meta) Meta {
	if m.CacheControl == "" {
		m.CacheControl = h.opts.CacheControl
	}
	return m
}

func streamResponse(out *s3.GetObjectOutput, meta Meta, status int, cancel context.CancelFunc) Response {
	return Response{Status: status, meta: meta, object: true, Stream: &s3Body{out.Body, cancel}, ContentLength: meta.Size}
}

// s3Body is an S3 object body whose Close also ends the request behind it, so that a framework
// that closes a body stream itself (fasthttp does) releases everything.
type s3Body struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *s3Body) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// streamFailed passes S3's answer to a forwarded request through: 304 with the validators S3
// sent, 412, 416 with Content-Range, 404 (remembered); anything else is a generic 502/503.
func (h *Handler) streamFailed(req Request, marker *entry, err error) Response {
	head := req.Method == http.MethodHead
	switch status := httpStatus(err); {
	case status == http.StatusNotModified:
		h.stats.s3NotModified.Add(1)
		h.stats.clientNotModified.Add(1)
		if marker.meta.Size > 0 {
			h.stats.bytesSaved.Add(marker.meta.Size)
		}
		m := Meta{ETag: marker.meta.ETag, CacheControl: marker.meta.CacheControl, Expires: marker.meta.Expires}
		if hd := responseHeader(err); hd != nil && hd.Get("ETag") != "" {
			m = Meta{ETag: hd.Get("ETag"), CacheControl: hd.Get("Cache-Control"), Expires: hd.Get("Expires")}
		}
		return Response{Status: http.StatusNotModified, meta: h.withCacheControl(m), object: true, ContentLength: -1}
	case status == http.StatusPreconditionFailed:
		return generic(http.StatusPreconditionFailed, head)
	case status == http.StatusRequestedRangeNotSatisfiable:
		r := generic(http.StatusRequestedRangeNotSatisfiable, head)
		if hd := responseHeader(err); hd != nil && hd.Get("Content-Range") != "" {
			r.contentRange = hd.Get("Content-Range")
		} else if marker.meta.Size >= 0 {
			r.contentRange = conditional.UnsatisfiedContentRange(marker.meta.Size)
		}
		return r
	case isNotFound(err):
		if h.opts.NegativeTTL > 0 {
			h.publish(&entry{name: marker.name, notFound: true, validated: h.opts.Now(), freshFor: h.opts.NegativeTTL, cost: entryOverhead + int64(len(marker.name))})
		} else {
			h.forget(marker.name)
		}
		return generic(http.StatusNotFound, head)
	}
	h.stats.s3Errors.Add(1)
	h.opts.OnError(h.opts.Prefix+marker.name, err)
	return failure(err, head)
}
