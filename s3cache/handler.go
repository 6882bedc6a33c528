package s3cache

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/tollgate-go/tollgate/core/conditional"
	"golang.org/x/sync/singleflight"
)

// Handler serves the objects of one bucket and prefix through a local conditional cache. It
// is an http.Handler; Serve is the same logic for other frameworks. Safe for concurrent use.
//
// URL paths map to keys as Prefix + cleaned path ("/css/site.css" → "assets/css/site.css").
// Empty and "." segments are removed; a path that could name a key outside the prefix, or that
// S3 would read differently than a file server, is refused with 400 and never reaches S3: a
// ".." segment (also percent-encoded), an encoded "/" or "" (%2F, %5C), a backslash, NUL or
// another control character, a leading "//", invalid UTF-8, or a key over 1024 bytes. A path
// ending in "/" serves Options.IndexDocument, or 404 without one. GET and HEAD are served; with
// Options.Writes, PUT and DELETE are too, but only with a precondition:
//
//   - PUT with "If-None-Match: *" creates the object only if it does not exist (201);
//   - PUT with "If-Match: <etag>" replaces it only if unchanged (204);
//   - DELETE with "If-Match: <etag>" deletes it only if unchanged (204);
//   - without one of these, 428 Precondition Required (RFC 6585 §3); when it fails, 412, or
//     409 when S3 reports a conflicting concurrent write.
//
// Every other method is 405 Method Not Allowed with an Allow field.
type Handler struct {
	client Client
	opts   Options
	cache  *lru
	flight singleflight.Group
	stats  counters
	allow  string

	bgMu    sync.Mutex
	bgNames map[string]bool // names being revalidated in the background
	bg      sync.WaitGroup

	disk *diskStore // nil without Options.DiskDir
}

// New returns a Handler over client, which must be configured for the bucket's region and
// endpoint (path-style for S3-compatible servers). It fails when opts is invalid, or when
// Options.DiskDir cannot be created, read, or locked (another Handler uses it). With DiskDir,
// New removes the files a previous run left there (see the package documentation, "Disk
// tier"), and the caller should Close the Handler when done with it.
func New(client Client, opts Options) (*Handler, error) {
	if client == nil {
		return nil, errNilClient
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Handler{client: client, opts: o, cache: newLRU(o.MaxBytes), allow: "GET, HEAD", bgNames: map[string]bool{}}
	if o.Writes {
		h.allow = "GET, HEAD, PUT, DELETE"
	}
	if o.DiskDir != "" {
		if h.disk, err = openDiskStore(o.DiskDir, o.DiskMaxBytes); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Close ends the disk tier: it stops the fills in progress, removes the tier's files and
// unlocks Options.DiskDir, so that another Handler may use it. Responses already reading a
// file finish (an open file outlives its name). The Handler keeps serving afterwards, as if
// it had no DiskDir. Without DiskDir, Close does nothing. It is safe to call more than once.
func (h *Handler) Close() error {
	if h.disk == nil {
		return nil
	}
	return h.disk.close()
}

// Request is what Serve needs from an HTTP request.
type Request struct {
	// Method is the request method, e.g. "GET".
	Method string
	// Path is the URL path relative to where the Handler is mounted, percent-encoded as it
	// was received (net/http: r.URL.EscapedPath()), so that an encoded "/" can be refused.
	Path string
	// Header holds the conditional and Range fields.
	Header conditional.Header
	// ContentType is the Content-Type of a PUT body.
	ContentType string
	// Body is the body of a PUT; it is read up to Options.MaxWriteSize.
	Body io.Reader
}

// ServeHTTP serves r from the cache or S3.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), Header: headerOf(r.Header)}
	if r.Method == http.MethodPut {
		req.Body = r.Body
		req.ContentType = r.Header.Get("Content-Type")
	}
	resp := h.Serve(r.Context(), req)
	_, _ = resp.Render(w)
	_ = resp.Close()
}

// headerOf reads the conditional fields without canonicalizing names (they are canonical).
func headerOf(h http.Header) conditional.Header {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return conditional.Header{
		IfMatch:           get("If-Match"),
		IfNoneMatch:       get("If-None-Match"),
		IfModifiedSince:   get("If-Modified-Since"),
		IfUnmodifiedSince: get("If-Unmodified-Since"),
		IfRange:           get("If-Range"),
		Range:             get("Range"),
	}
}

// Serve answers req without net/http: it is the whole Handler, for framework wrappers that
// render the Response natively. The caller must Close the Response. ctx bounds the request's
// own S3 calls (a streamed object, a write); a cache fill it starts is bounded by
// Options.FetchTimeout instead, since other requests may be waiting for it.
func (h *Handler) Serve(ctx context.Context, req Request) Response {
	head := req.Method == http.MethodHead
	switch req.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodDelete:
		if h.opts.Writes {
			return h.serveWrite(ctx, req)
		}
		fallthrough
	default:
		r := generic(http.StatusMethodNotAllowed, false)
		r.allow = h.allow
		return r
	}
	name, status := h.objectName(req.Path)
	if status != 0 {
		return generic(status, head)
	}
	return h.serveRead(ctx, req, name)
}

// Invalidate drops the cached entry for a URL path (as a request would name it, e.g.
// "/css/site.css"), so the next request fetches the object from S3. Call it after writing an
// object with PutIfAbsent, PutIfMatch or DeleteIfMatch outside the Handler.
func (h *Handler) Invalidate(urlPath string) {
	if name, status := h.objectName(urlPath); status == 0 {
		h.forget(name)
	}
}

// lookup returns the entry of name, from memory or the disk tier.
func (h *Handler) lookup(name string) *entry {
	if e := h.cache.get(name); e != nil {
		return e
	}
	if h.disk != nil {
		return h.disk.get(name)
	}
	return nil
}

// publish makes e the entry of its name: in the disk tier when it has a file there, else in
// memory; the other tier forgets the name.
func (h *Handler) publish(e *entry) {
	if e.file != nil {
		h.cache.remove(e.name)
		h.disk.put(e)
		return
	}
	h.cache.put(e)
	if h.disk != nil {
		h.disk.remove(e.name)
	}
}

// forget drops name from both tiers.
func (h *Handler) forget(name string) {
	h.cache.remove(name)
	if h.disk != nil {
		h.disk.remove(name)
	}
}
