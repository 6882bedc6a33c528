package s3cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tollgate-go/tollgate/core/conditional"
)

var errNilClient = errors.New("s3cache: nil Client")

// serveRead answers GET and HEAD for name.
func (h *Handler) serveRead(ctx context.Context, req Request, name string) Response {
	now := h.opts.Now()
	e := h.cache.get(name) // h.lookup, by hand: this is every request's path
	if e == nil && h.disk != nil {
		e = h.disk.get(name)
	}
	switch {
	case e == nil:
		// Miss.
	case e.fresh(now):
		h.stats.hits.Add(1)
		return h.fromEntry(ctx, req, e, now, false)
	case e.large || e.notFound:
		// An expired marker: look again.
		e = nil
	case h.opts.StaleWhileRevalidate > 0 && e.staleBy(now) < h.opts.StaleWhileRevalidate:
		// RFC 5861 §3: serve the stale copy now and revalidate in the background.
		h.revalidateInBackground(name, e)
		h.stats.staleServed.Add(1)
		return h.fromEntry(ctx, req, e, now, true)
	}
	if e == nil {
		h.stats.misses.Add(1)
	}
	var own *ownedStream
	v, err, _ := h.flight.Do(name, func() (any, error) { return h.fetch(ctx, name, e, &own) })
	if err != nil {
		return h.fetchFailed(ctx, req, e, now, err)
	}
	fetched := v.(*entry)
	if own != nil {
		// This request led the fetch of an object too large to cache and holds its stream,
		// whose metadata is current: answer from it unless the client asked for a range,
		// which S3 must serve.
		h.stats.streamed.Add(1)
		if req.Method == http.MethodGet && req.Header.Range == "" {
			return h.fromMeta(req, fetched.meta, own.out, own.cancel)
		}
		own.close()
		if req.Method == http.MethodHead {
			return h.fromMeta(req, fetched.meta, nil, nil)
		}
	}
	return h.fromEntry(ctx, req, fetched, now, false)
}

// fromEntry answers from a cached entry: a remembered 404, a large-object marker (stream from
// S3), or the cached object, in memory or on disk, with the client's conditionals evaluated
// locally.
func (h *Handler) fromEntry(ctx context.Context, req Request, e *entry, now time.Time, stale bool) Response {
	head := req.Method == http.MethodHead
	if e.notFound {
		return generic(http.StatusNotFound, head)
	}
	if e.large {
		return h.stream(ctx, req, e)
	}
	r := Response{Status: http.StatusOK, meta: e.meta, hdr: e.hdr, object: true, ContentLength: e.meta.Size}
	if stale {
		r.age = e.age(now)
	}
	var rng string
	if !req.Header.IsZero() {
		res := conditional.Evaluate(req.Method, req.Header, e.validators())
		switch res.Outcome {
		case conditional.NotModified:
			h.stats.clientNotModified.Add(1)
			r.Status, r.ContentLength = http.StatusNotModified, -1
			return r
		case conditional.PreconditionFailed:
			return generic(http.StatusPreconditionFailed, head)
		}
		if res.Range != "" {
			rng = strongEnoughRange(req.Header.IfRange, res.Range, e.lmStrong)
			if rng != "" && e.file == nil {
				return h.ranged(r, rng, e)
			}
		}
	}
	if e.file != nil {
		if head {
			return r
		}
		return h.fromFile(ctx, req, r, rng, e)
	}
	if !head {
		r.Body = e.body
	}
	return r
}

// strongEnoughRange returns rng, the Range field that conditional.Evaluate left applicable,
// unless it passed an If-Range date that is not a strong validator for the entry: RFC 9110
// §13.1.5 makes that condition false (step 1), so the whole object is sent.
func strongEnoughRange(ifRange, rng string, lmStrong bool) string {
	if ifRange == "" || lmStrong {
		return rng
	}
	if _, _, ok := conditional.ScanETag(ifRange); ok {
		return rng
	}
	return ""
}

// maxRanges bounds a multi-range request; with more ranges, or ranges that add up to more than
// the object, the whole object is sent (RFC 9110 §14.2 lets a server ignore Range; §17.15
// names the denial of service this prevents).
const maxRanges = 16

// planRange decides how to answer a Range field that applies to a representation of size
// bytes: 206 with the ranges to send, 416 when none is satisfiable, or 200 (the whole
// representation) when the field is malformed or not worth honouring.
func planRange(field string, size int64) ([]conditional.ByteRange, int) {
	ranges, err := conditional.ParseRange(field, size)
	switch {
	case errors.Is(err, conditional.ErrUnsatisfiable):
		return nil, http.StatusRequestedRangeNotSatisfiable
	case err != nil || len(ranges) == 0 || len(ranges) > maxRanges:
		return nil, http.StatusOK
	case len(ranges) == 1:
		return ranges, http.StatusPartialContent
	}
	var sum int64
	for _, rg := range ranges {
		sum += rg.Length
	}
	if sum > size {
		return nil, http.StatusOK
	}
	return ranges, http.StatusPartialContent
}

// unsatisfiable is the 416 answer for a representation of size bytes.
func unsatisfiable(size int64) Response {
	u := generic(http.StatusRequestedRangeNotSatisfiable, false)
	u.contentRange = conditional.UnsatisfiedContentRange(size)
	return u
}

// ranged answers a GET with a Range that applies from a body in memory, as planRange decides
// (written out here: this is the cache-hit path).
func (h *Handler) ranged(r Response, field string, e *entry) Response {
	size := int64(len(e.body))
	ranges, err := conditional.ParseRange(field, size)
	switch {
	case errors.Is(err, conditional.ErrUnsatisfiable):
		return unsatisfiable(size)
	case err != nil || len(ranges) == 0 || len(ranges) > maxRanges:
		r.Body = e.body
		return r
	case len(ranges) == 1:
		rg := ranges[0]
		r.Status = http.StatusPartialContent
		r.Body = e.body[rg.Start : rg.Start+rg.Length]
		r.ContentLength = rg.Length
		r.contentRange = rg.ContentRange(size)
		return r
	}
	var sum int64
	for _, rg := range ranges {
		sum += rg.Length
	}
	if sum > size {
		r.Body = e.body
		return r
	}
	body, ctype := multipartRanges(e.body, ranges, e.meta.ContentType)
	r.Status = http.StatusPartialContent
	r.Body, r.ContentLength, r.contentType = body, int64(len(body)), ctype
	return r
}

// ownedStream is the body of a GetObject that only the request that made it may read.
type ownedStream struct {
	out    *s3.GetObjectOutput
	cancel context.CancelFunc
}

func (o *ownedStream) close() {
	_ = o.out.Body.Close()
	o.cancel()
}

// fetch is the one S3 call that singleflight makes for name: a GetObject, conditional on the
// old entry's ETag when there is one. It publishes and returns the new entry. When the object
// is too large to cache, it returns a marker entry and hands the open body to the caller that
// ran it through own (the other waiters open their own streams).
func (h *Handler) fetch(ctx context.Context, name string, old *entry, own **ownedStream) (*entry, error) {
	now := h.opts.Now()
	// A flight for name may have ended between this request's lookup and its Do call.
	if cur := h.lookup(name); cur != nil && cur != old && cur.fresh(now) {
		return cur, nil
	}
	if old != nil && old.file != nil && !h.disk.has(old.file) {
		old = nil // its file has left the disk tier: fetch the whole object
	}
	// FetchTimeout bounds the wait for S3's response and for the body of an object cached in
	// memory; a fill resets it after each read, so a large object may take longer as long as
	// it keeps coming; a stream handed to the request that led is the request's own.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stall := time.AfterFunc(h.opts.FetchTimeout, cancel)
	in := &s3.GetObjectInput{Bucket: &h.opts.Bucket, Key: ptr(h.opts.Prefix + name)}
	if old != nil && old.meta.ETag != "" {
		in.IfNoneMatch = &old.meta.ETag
		h.stats.revalidations.Add(1)
	}
	out, err := h.client.GetObject(fctx, in)
	if err != nil {
		stall.Stop()
		cancel()
		switch {
		case old != nil && httpStatus(err) == http.StatusNotModified:
			h.stats.s3NotModified.Add(1)
			h.stats.bytesSaved.Add(old.meta.Size)
			e := old.revalidated(now, responseDate(responseHeader(err), now))
			h.publish(e)
			return e, nil
		case isNotFound(err):
			e := &entry{name: name, notFound: true, validated: now, freshFor: max(h.opts.NegativeTTL, 0), cost: entryOverhead + int64(len(name))}
			if h.opts.NegativeTTL > 0 {
				h.publish(e)
			} else {
				h.forget(name)
			}
			return e, nil
		}
		h.stats.s3Errors.Add(1)
		err = fmt.Errorf("s3cache: get %q: %w", name, err)
		h.opts.OnError(h.opts.Prefix+name, err)
		return nil, err
	}
	meta := metaFromGet(out, name)
	freshFor, store := h.freshness(meta.CacheControl)
	e := &entry{name: name, meta: meta, validated: now, freshFor: freshFor, cost: entryOverhead + int64(len(name)),
		lmStrong: strongLastModified(meta.LastModified, responseDate(rawHeader(out.ResultMetadata), now))}
	if meta.Size < 0 || meta.Size > h.opts.MaxObjectSize || !store {
		if store && meta.Size >= 0 && h.disk != nil && meta.Size <= h.opts.DiskMaxObjectSize {
			e.maxStale = h.opts.StaleIfError
			e.hdr = buildHeaders(meta, h.opts.CacheControl)
			if h.startFill(e, out, cancel, stall) {
				return e, nil
			}
			e.maxStale, e.hdr = 0, nil
		}
		e.large = true
		e.freshFor = max(h.opts.TTL, 0)
		h.publish(e)
		stall.Stop()
		*own = &ownedStream{out: out, cancel: cancel}
		return e, nil
	}
	defer stall.Stop()
	defer cancel()
	defer out.Body.Close()
	body := make([]byte, meta.Size)
	n, err := io.ReadFull(out.Body, body)
	h.stats.s3BodyBytes.Add(int64(n))
	if err != nil {
		h.stats.s3Errors.Add(1)
		err = fmt.Errorf("s3cache: read %q: %w", name, err)
		h.opts.OnError(h.opts.Prefix+name, err)
		return nil, err
	}
	e.body = body
	e.cost += meta.Size
	e.maxStale = h.opts.StaleIfError
	e.hdr = buildHeaders(meta, h.opts.CacheControl)
	h.publish(e)
	return e, nil
}

// freshness is how long an object stays fresh, and whether it may be cached at all.
func (h *Handler) freshness(cacheControl string) (time.Duration, bool) {
	ttl := max(h.opts.TTL, 0)
	if !h.opts.ObjectMaxAge || cacheControl == "" {
		return ttl, true
	}
	lifetime, ok, noStore := cacheDirectives(cacheControl)
	if noStore {
		return 0, false
	}
	if ok {
		return lifetime, true
	}
	return ttl, true
}

// fetchFailed answers when the S3 call for name failed: the stale entry when stale-if-error
// allows (RFC 5861 §4), else 503 when S3 throttles and 502 otherwise.
// Only the request that made the call reported it to OnError.
func (h *Handler) fetchFailed(ctx context.Context, req Request, stale *entry, now time.Time, err error) Response {
	if stale != nil && stale.staleBy(now) < stale.maxStale {
		h.stats.staleServed.Add(1)
		return h.fromEntry(ctx, req, stale, now, true)
	}
	return failure(err, req.Method == http.MethodHead)
}

// failure maps an S3 error to a generic 502 or 503.
func failure(err error, head bool) Response {
	if isThrottle(err) {
		r := generic(http.StatusServiceUnavailable, head)
		r.retryAfter = "1"
		return r
	}
	return generic(http.StatusBadGateway, head)
}

// revalidateInBackground starts one revalidation of e unless one is running.
func (h *Handler) revalidateInBackground(name string, e *entry) {
	h.bgMu.Lock()
	if h.bgNames[name] {
		h.bgMu.Unlock()
		return
	}
	h.bgNames[name] = true
	h.bg.Add(1)
	h.bgMu.Unlock()
	go func() {
		defer h.bg.Done()
		defer func() {
			h.bgMu.Lock()
			delete(h.bgNames, name)
			h.bgMu.Unlock()
		}()
		var own *ownedStream
		// The error, if any, went to OnError in fetch; the stale entry stays until it expires.
		_, _, _ = h.flight.Do(name, func() (any, error) { return h.fetch(context.Background(), name, e, &own) })
		if own != nil {
			own.close()
		}
	}()
}

func ptr[T any](v T) *T { return &v }
