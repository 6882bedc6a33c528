package s3cache

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of the zero Options fields.
const (
	// DefaultTTL is Options.TTL when it is zero.
	DefaultTTL = time.Minute
	// DefaultNegativeTTL is Options.NegativeTTL when it is zero.
	DefaultNegativeTTL = 5 * time.Second
	// DefaultMaxBytes is Options.MaxBytes when it is zero (64 MiB).
	DefaultMaxBytes = 64 << 20
	// DefaultMaxObjectSize is Options.MaxObjectSize when it is zero (1 MiB).
	DefaultMaxObjectSize = 1 << 20
	// DefaultMaxWriteSize is Options.MaxWriteSize when it is zero (16 MiB).
	DefaultMaxWriteSize = 16 << 20
	// DefaultFetchTimeout is Options.FetchTimeout when it is zero.
	DefaultFetchTimeout = 30 * time.Second
	// DefaultCacheControl is Options.CacheControl when it is empty.
	DefaultCacheControl = "no-cache"
	// DefaultDiskMaxBytes is Options.DiskMaxBytes when DiskDir is set and it is zero (1 GiB).
	DefaultDiskMaxBytes = 1 << 30
)

// Options configure a Handler. Bucket is required; every other zero value is a documented
// default.
type Options struct {
	// Bucket is the S3 bucket. Required.
	Bucket string
	// Prefix is prepended to every key, e.g. "assets/" serves /logo.svg from assets/logo.svg.
	// A "/" is appended when it is missing, so a request can never name a sibling prefix
	// ("assets-private/..."). Optional. Default: "" (the whole bucket).
	Prefix string
	// IndexDocument is served for a path that ends in "/" (e.g. "index.html"). Optional.
	// Default: "" (such paths are 404).
	IndexDocument string

	// TTL is how long a cached object is fresh after S3 sent or revalidated it. Optional.
	// Default: DefaultTTL. A negative TTL revalidates on every request.
	TTL time.Duration
	// ObjectMaxAge makes an object's own Cache-Control (s-maxage, else max-age; no-cache means
	// zero) override TTL, and no-store keep the object out of the cache. Optional. Default: false.
	ObjectMaxAge bool
	// StaleWhileRevalidate serves a stale object for this long past its freshness while one
	// background request revalidates it (RFC 5861 §3). Optional. Default: 0 (revalidate first).
	StaleWhileRevalidate time.Duration
	// StaleIfError serves a stale object, with an Age header, for this long past its freshness
	// when S3 fails or throttles (RFC 5861 §4). Optional. Default: 0 (answer 502/503).
	StaleIfError time.Duration
	// NegativeTTL is how long a 404 from S3 is remembered. Optional. Default: DefaultNegativeTTL;
	// a negative value disables negative caching.
	NegativeTTL time.Duration

	// MaxBytes bounds the cache: bodies plus keys plus a per-entry overhead. Optional.
	// Default: DefaultMaxBytes.
	MaxBytes int64
	// MaxObjectSize is the largest object kept in memory; larger objects are streamed from S3
	// with the client's conditionals and Range forwarded. Optional. Default: DefaultMaxObjectSize
	// (or MaxBytes when that is smaller).
	MaxObjectSize int64

	// DiskDir enables the disk tier: objects larger than MaxObjectSize (and at most
	// DiskMaxObjectSize) are written to files in this directory, once, and served from there
	// with the same freshness, revalidation and stale rules as the objects in memory. The
	// directory is created when missing (mode 0700). See the package documentation, "Disk
	// tier", for what New removes from it. Optional. Default: "" (no disk tier: larger objects
	// are streamed from S3 for every request).
	DiskDir string
	// DiskMaxBytes bounds the total size of the files in DiskDir; the least recently used are
	// removed to make room. Optional. Default: DefaultDiskMaxBytes when DiskDir is set.
	DiskMaxBytes int64
	// DiskMaxObjectSize is the largest object written to DiskDir; larger objects are streamed.
	// Optional. Default: DiskMaxBytes / 4, so that one object never empties the tier.
	DiskMaxObjectSize int64

	// CacheControl is sent when the object has no Cache-Control of its own. Optional.
	// Default: DefaultCacheControl ("no-cache": clients may store but revalidate each use,
	// which is what turns repeat visits into 304s). Use "-" to send none.
	CacheControl string

	// Writes enables PUT and DELETE through ServeHTTP, each requiring a precondition (see
	// Handler). Put authentication in front of the Handler when you enable it. Optional.
	// Default: false (405 Method Not Allowed).
	Writes bool
	// MaxWriteSize bounds a PUT body. Optional. Default: DefaultMaxWriteSize.
	MaxWriteSize int64

	// FetchTimeout bounds one S3 call made on behalf of the cache (a miss or a revalidation),
	// which does not end when the request that started it is canceled, since other requests
	// wait for it: the wait for S3's response and for an object to cache in memory. An object
	// written to the disk tier may take longer, but fails when S3 sends none of it for
	// FetchTimeout. Optional. Default: DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Now returns the current time; tests inject a fake clock. Optional. Default: time.Now.
	Now func() time.Time
	// OnError receives every S3 or internal error with the key it concerns; the client only
	// sees a status code. Optional. Default: errors are dropped.
	OnError func(key string, err error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Bucket == "" {
		return o, errors.New("s3cache: Options.Bucket is required")
	}
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if strings.HasPrefix(o.Prefix, "/") {
		return o, fmt.Errorf("s3cache: Options.Prefix %q must not start with /", o.Prefix)
	}
	if strings.Contains(o.IndexDocument, "/") {
		return o, fmt.Errorf("s3cache: Options.IndexDocument %q must be a file name", o.IndexDocument)
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.StaleWhileRevalidate < 0 || o.StaleIfError < 0 {
		return o, errors.New("s3cache: stale windows must not be negative")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("s3cache: Options.MaxBytes %d is negative", o.MaxBytes)
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = min(DefaultMaxObjectSize, o.MaxBytes)
	}
	if o.MaxObjectSize < 0 || o.MaxObjectSize > o.MaxBytes {
		return o, fmt.Errorf("s3cache: Options.MaxObjectSize %d must be between 0 and MaxBytes %d", o.MaxObjectSize, o.MaxBytes)
	}
	if o.DiskDir == "" && (o.DiskMaxBytes != 0 || o.DiskMaxObjectSize != 0) {
		return o, errors.New("s3cache: Options.DiskMaxBytes and DiskMaxObjectSize need DiskDir")
	}
	if o.DiskDir != "" {
		if o.DiskMaxBytes == 0 {
			o.DiskMaxBytes = DefaultDiskMaxBytes
		}
		if o.DiskMaxBytes < 0 {
			return o, fmt.Errorf("s3cache: Options.DiskMaxBytes %d is negative", o.DiskMaxBytes)
		}
		if o.DiskMaxObjectSize == 0 {
			o.DiskMaxObjectSize = o.DiskMaxBytes / 4
		}
		if o.DiskMaxObjectSize < 0 || o.DiskMaxObjectSize > o.DiskMaxBytes {
			return o, fmt.Errorf("s3cache: Options.DiskMaxObjectSize %d must be between 0 and DiskMaxBytes %d", o.DiskMaxObjectSize, o.DiskMaxBytes)
		}
	}
	switch o.CacheControl {
	case "":
		o.CacheControl = DefaultCacheControl
	case "-":
		o.CacheControl = ""
	}
	if o.MaxWriteSize == 0 {
		o.MaxWriteSize = DefaultMaxWriteSize
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(string, error) {}
	}
	return o, nil
}
