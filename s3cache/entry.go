package s3cache

import (
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tollgate-go/tollgate/core/conditional"
)

// Meta is the metadata of an object as s3cache serves it.
type Meta struct {
	ETag            string
	LastModified    time.Time
	ContentType     string
	ContentEncoding string
	CacheControl    string // the object's own; the Handler falls back to Options.CacheControl
	Expires         string
	Size            int64 // of the whole object; -1 when unknown
}

// entry is one cached name. An entry is immutable once it is in the cache: a revalidation
// publishes a copy, so a request can serve an entry without holding a lock.
type entry struct {
	name     string
	meta     Meta
	body     []byte    // nil for a streamed (large) object, a file in the disk tier, or a 404
	file     *diskFile // the object's file in the disk tier, when it is there
	large    bool      // too big to buffer and not on disk: serve by streaming from S3
	notFound bool      // a remembered 404
	// lmStrong records that Last-Modified is a strong validator for this entry (RFC 9110
	// §8.8.2.2: the Date of S3's response is at least one second after it), which an If-Range
	// date needs (§13.1.5).
	lmStrong  bool
	validated time.Time
	freshFor  time.Duration
	maxStale  time.Duration // how long past freshness stale-if-error may serve it
	cost      int64
	hdr       *prebuilt
}

// prebuilt holds the header values of an entry as the []string that net/http stores, built
// once per object version so that a cache hit allocates nothing for its headers. Each slice has
// len == cap, so a middleware that appends gets its own copy.
type prebuilt struct {
	etag, lastModified, contentType, contentEncoding, cacheControl, expires, contentLength []string
}

// entryOverhead approximates the memory of an entry besides its body and name, so that a flood
// of distinct 404s or large-object markers is bounded by MaxBytes too.
const entryOverhead = 512

func (e *entry) fresh(now time.Time) bool { return now.Before(e.validated.Add(e.freshFor)) }

// staleBy returns how long the entry has been stale at now (0 while fresh).
func (e *entry) staleBy(now time.Time) time.Duration {
	return max(0, now.Sub(e.validated.Add(e.freshFor)))
}

// age is the value of the Age field (RFC 9111 §5.1): whole seconds since S3 last confirmed the
// entry.
func (e *entry) age(now time.Time) string {
	return strconv.FormatInt(int64(max(0, now.Sub(e.validated))/time.Second), 10)
}

func (e *entry) validators() conditional.Validators {
	return conditional.Validators{ETag: e.meta.ETag, LastModified: e.meta.LastModified}
}

// revalidated returns a copy of e confirmed by S3 at now, by a response dated date.
func (e *entry) revalidated(now, date time.Time) *entry {
	c := *e
	c.validated = now
	c.lmStrong = c.lmStrong || strongLastModified(c.meta.LastModified, date)
	return &c
}

// strongLastModified reports whether a Last-Modified time is a strong validator for a cache
// entry whose response was dated date: RFC 9110 §8.8.2.2 asks for a Date at least one second
// after it, since the object could have changed twice within its last-modified second.
func strongLastModified(lastModified, date time.Time) bool {
	return !lastModified.IsZero() && !date.Before(lastModified.Truncate(time.Second).Add(time.Second))
}

// responseDate returns the Date field of a response's header, or now when it has none (the
// response arrived now, so its Date cannot be later).
func responseDate(h http.Header, now time.Time) time.Time {
	if h != nil {
		if d, ok := conditional.ParseHTTPDate(h.Get("Date")); ok {
			return d
		}
	}
	return now
}

// rawHeader returns the HTTP header of an SDK operation's response, or nil.
func rawHeader(md middleware.Metadata) http.Header {
	switch r := awsmiddleware.GetRawResponse(md).(type) {
	case *http.Response:
		if r != nil {
			return r.Header
		}
	case *smithyhttp.Response:
		if r != nil && r.Response != nil {
			return r.Header
		}
	}
	return nil
}

func metaFromGet(out *s3.GetObjectOutput, name string) Meta {
	m := Meta{
		ETag:            deref(out.ETag),
		ContentType:     deref(out.ContentType),
		ContentEncoding: deref(out.ContentEncoding),
		CacheControl:    deref(out.CacheControl),
		Expires:         deref(out.ExpiresString),
		Size:            -1,
	}
	if out.LastModified != nil {
		m.LastModified = out.LastModified.UTC()
	}
	if out.ContentLength != nil && out.ContentRange == nil {
		m.Size = *out.ContentLength
	} else if out.ContentRange != nil {
		m.Size = sizeFromContentRange(*out.ContentRange)
	}
	if m.ContentType == "" {
		m.ContentType = typeByName(name)
	}
	return m
}

func metaFromHead(out *s3.HeadObjectOutput, name string) Meta {
	m := Meta{
		ETag:            deref(out.ETag),
		ContentType:     deref(out.ContentType),
		ContentEncoding: deref(out.ContentEncoding),
		CacheControl:    deref(out.CacheControl),
		Expires:         deref(out.ExpiresString),
		Size:            -1,
	}
	if out.LastModified != nil {
		m.LastModified = out.LastModified.UTC()
	}
	if out.ContentLength != nil {
		m.Size = *out.ContentLength
	}
	if m.ContentType == "" {
		m.ContentType = typeByName(name)
	}
	return m
}

func typeByName(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// sizeFromContentRange reads the complete length from "bytes a-b/size" or "bytes */size".
func sizeFromContentRange(cr string) int64 {
	_, size, ok := strings.Cut(cr, "/")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// buildHeaders renders the header values of m once.
func buildHeaders(m Meta, defaultCacheControl string) *prebuilt {
	cc := m.CacheControl
	if cc == "" {
		cc = defaultCacheControl
	}
	p := &prebuilt{
		etag:            one(m.ETag),
		contentType:     one(m.ContentType),
		contentEncoding: one(m.ContentEncoding),
		cacheControl:    one(cc),
		expires:         one(m.Expires),
	}
	if !m.LastModified.IsZero() {
		p.lastModified = one(conditional.FormatHTTPDate(m.LastModified))
	}
	if m.Size >= 0 {
		p.contentLength = one(strconv.FormatInt(m.Size, 10))
	}
	return p
}

// cacheDirectives reads what Options.ObjectMaxAge needs from a Cache-Control value
// (RFC 9111 §5.2.2): the lifetime for a shared cache (no-cache: zero; else s-maxage; else
// max-age), whether one was given, and whether the object may be stored at all (no-store).
func cacheDirectives(cc string) (lifetime time.Duration, ok, noStore bool) {
	noCache := false
	maxAge, sMaxAge := int64(-1), int64(-1)
	for d := range strings.SplitSeq(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
		if err != nil || n < 0 {
			n = -1
		}
		n = min(n, 1<<31) // RFC 9111 §1.2.2: treat larger delta-seconds as 2^31
		switch strings.ToLower(name) {
		case "no-store":
			noStore = true
		case "no-cache":
			noCache = true
		case "max-age":
			maxAge = n
		case "s-maxage":
			sMaxAge = n
		}
	}
	switch {
	case noCache:
		return 0, true, noStore
	case sMaxAge >= 0:
		return time.Duration(sMaxAge) * time.Second, true, noStore
	case maxAge >= 0:
		return time.Duration(maxAge) * time.Second, true, noStore
	}
	return 0, false, noStore
}
