package s3cache

import (
	"io"
	"net/http"
	"strconv"
)

// Response is the framework-neutral result of Handler.Serve: a status, header fields (see
// VisitHeaders) and a body that is either Body (from the cache) or Stream (from S3). A Fiber or
// fasthttp wrapper renders it natively:
//
//	resp := h.Serve(ctx, req)
//	defer resp.Close()
//	resp.VisitHeaders(c.Set)
//	c.Status(resp.Status)
//	if resp.Stream != nil { return c.SendStream(resp.Stream, int(resp.ContentLength)) }
//	return c.Send(resp.Body)
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Body is the response body when it comes from the cache or is a short generic message.
	// It is shared with the cache: never modify it. Nil for HEAD.
	Body []byte
	// Stream is the body of an object streamed from S3 (nil otherwise). Close the Response
	// when done with it.
	Stream io.ReadCloser
	// ContentLength is the value of the Content-Length field, or -1 when none is sent
	// (a 304, or a body of unknown length).
	ContentLength int64

	meta         Meta      // metadata of the object, when the response describes one
	hdr          *prebuilt // meta rendered once, for responses from a cached entry
	contentType  string    // overrides meta.ContentType (error bodies, multipart)
	contentRange string
	age          string
	allow        string
	retryAfter   string
	object       bool // send the object's validators and representation fields
}

// Close releases the Stream and the S3 request behind it (closing Stream itself does the
// same). It is safe to call on every Response, any number of times.
func (r *Response) Close() error {
	var err error
	if r.Stream != nil {
		err = r.Stream.Close()
		r.Stream = nil
	}
	return err
}

// Object returns the metadata of the object the response describes (for a 200, 206 or 304),
// e.g. for logging; ok is false for other responses.
func (r *Response) Object() (m Meta, ok bool) {
	return r.meta, r.object
}

// Header field names, as net/http canonicalizes them.
const (
	hETag            = "Etag"
	hLastModified    = "Last-Modified"
	hContentType     = "Content-Type"
	hContentEncoding = "Content-Encoding"
	hContentLength   = "Content-Length"
	hContentRange    = "Content-Range"
	hCacheControl    = "Cache-Control"
	hExpires         = "Expires"
	hAcceptRanges    = "Accept-Ranges"
	hAge             = "Age"
	hAllow           = "Allow"
	hRetryAfter      = "Retry-After"
)

var (
	valBytes     = []string{"bytes"}
	valPlainText = "text/plain; charset=utf-8"
)

// eachHeader calls fn for every header field of r. pre, when not nil, is a shared prebuilt
// value that net/http can store without allocating; value is always pre[0] or the string.
//
// A 304 carries only the fields RFC 9110 §15.4.5 asks for (ETag, Cache-Control, Expires; Date
// and Vary are left to the server and outer middleware) and no Content-* or Last-Modified, as
// net/http's writeNotModified does.
func (r *Response) eachHeader(fn func(name string, pre []string, value string)) {
	emit := func(name string, pre []string, value string) {
		if pre != nil {
			fn(name, pre, pre[0])
		} else if value != "" {
			fn(name, nil, value)
		}
	}
	if r.object {
		p := r.hdr
		if p == nil {
			p = &prebuilt{}
		}
		emit(hETag, p.etag, r.meta.ETag)
		emit(hCacheControl, p.cacheControl, r.meta.CacheControl)
		emit(hExpires, p.expires, r.meta.Expires)
		if r.Status != http.StatusNotModified {
			var lm string
			if p.lastModified == nil && !r.meta.LastModified.IsZero() {
				lm = r.meta.LastModified.UTC().Format(http.TimeFormat)
			}
			emit(hLastModified, p.lastModified, lm)
			if r.contentType == "" {
				emit(hContentType, p.contentType, r.meta.ContentType)
			}
			emit(hContentEncoding, p.contentEncoding, r.meta.ContentEncoding)
			fn(hAcceptRanges, valBytes, valBytes[0])
		}
	} else {
		emit(hETag, nil, r.meta.ETag) // the new ETag after a write
	}
	if r.contentType != "" {
		fn(hContentType, nil, r.contentType)
	}
	if r.ContentLength >= 0 {
		if p := r.hdr; p != nil && p.contentLength != nil && r.ContentLength == r.meta.Size {
			fn(hContentLength, p.contentLength, p.contentLength[0])
		} else {
			fn(hContentLength, nil, strconv.FormatInt(r.ContentLength, 10))
		}
	}
	emit(hContentRange, nil, r.contentRange)
	emit(hAge, nil, r.age)
	emit(hAllow, nil, r.allow)
	emit(hRetryAfter, nil, r.retryAfter)
}

// VisitHeaders calls set for every header field of the response, for frameworks that do not
// use net/http (e.g. Fiber's c.Set).
func (r *Response) VisitHeaders(set func(name, value string)) {
	r.eachHeader(func(name string, _ []string, value string) { set(name, value) })
}

// Render writes the response on a net/http ResponseWriter, body included, and returns the
// number of body bytes written. For a 304 it also removes Content-* and Last-Modified fields
// that outer middleware may have set.
func (r *Response) Render(w http.ResponseWriter) (int64, error) {
	h := w.Header()
	if r.Status == http.StatusNotModified {
		delete(h, hContentType)
		delete(h, hContentLength)
		delete(h, hContentEncoding)
		delete(h, hContentRange)
		delete(h, hLastModified)
	}
	r.eachHeader(func(name string, pre []string, value string) {
		if pre != nil {
			h[name] = pre
		} else {
			h[name] = []string{value}
		}
	})
	if r.Status >= 400 {
		h["X-Content-Type-Options"] = nosniff
	}
	w.WriteHeader(r.Status)
	switch {
	case r.Stream != nil:
		return io.Copy(w, r.Stream)
	case len(r.Body) > 0:
		n, err := w.Write(r.Body)
		return int64(n), err
	}
	return 0, nil
}

var nosniff = []string{"nosniff"}

// generic builds a response with a short, fixed body: the status text. Internal error text
// never reaches a client.
func generic(status int, head bool) Response {
	body := statusBodies[status]
	if body == nil {
		body = []byte(http.StatusText(status) + "\n")
	}
	r := Response{Status: status, contentType: valPlainText, ContentLength: int64(len(body))}
	if !head {
		r.Body = body
	}
	return r
}

var statusBodies = func() map[int][]byte {
	m := map[int][]byte{}
	for _, s := range []int{400, 404, 405, 409, 412, 413, 428, 500, 502, 503} {
		m[s] = []byte(http.StatusText(s) + "\n")
	}
	return m
}()
