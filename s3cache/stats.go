package s3cache

import "sync/atomic"

// Stats is a snapshot of a Handler's counters since it was created.
type Stats struct {
	// Hits counts GET/HEAD answered from a fresh cached entry (including remembered 404s).
	Hits int64
	// Misses counts requests that found no usable entry and fetched the object from S3 (one
	// per request, even when singleflight collapsed them into one S3 call).
	Misses int64
	// Revalidations counts conditional GetObject{IfNoneMatch} calls made for stale entries.
	Revalidations int64
	// S3NotModified counts 304s received from S3 (revalidations and forwarded conditionals).
	S3NotModified int64
	// BytesSaved counts object bytes S3 did not send because it answered 304.
	BytesSaved int64
	// S3BodyBytes counts object body bytes read from S3 into the cache.
	S3BodyBytes int64
	// ClientNotModified counts 304s sent to clients.
	ClientNotModified int64
	// StaleServed counts responses served from a stale entry (stale-while-revalidate or
	// stale-if-error).
	StaleServed int64
	// Streamed counts responses whose body or status came from S3 directly (large objects).
	Streamed int64
	// S3Errors counts S3 calls that failed with something other than 304, 404, 412 or 416.
	S3Errors int64
	// Writes counts successful conditional writes through the Handler.
	Writes int64
	// Evictions counts entries evicted to respect MaxBytes.
	Evictions int64
	// Entries is the current number of cached entries in memory (objects, 404s, large-object
	// markers).
	Entries int64
	// Bytes is the current cost of the cached entries in memory, which MaxBytes bounds.
	Bytes int64

	// DiskHits counts responses whose body was read from the disk tier (including from a file
	// still being written).
	DiskHits int64
	// DiskFallbacks counts objects or responses that the disk tier could not serve (no room
	// left by files being written, or a disk error, which OnError receives as ErrDisk) and
	// that were streamed from S3 instead.
	DiskFallbacks int64
	// DiskFiles is the current number of files in the disk tier, complete or being written.
	DiskFiles int64
	// DiskBytes is the current total size of those files, which DiskMaxBytes bounds.
	DiskBytes int64
	// DiskEvictions counts files removed to respect DiskMaxBytes.
	DiskEvictions int64
}

type counters struct {
	hits, misses, revalidations, s3NotModified, bytesSaved, s3BodyBytes, clientNotModified,
	staleServed, streamed, s3Errors, writes, diskHits, diskFallbacks atomic.Int64
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (h *Handler) Stats() Stats {
	entries, bytes, evictions := h.cache.size()
	c := &h.stats
	var files int
	var diskBytes, diskEvictions int64
	if h.disk != nil {
		files, diskBytes, diskEvictions = h.disk.size()
	}
	return Stats{
		Hits:              c.hits.Load(),
		Misses:            c.misses.Load(),
		Revalidations:     c.revalidations.Load(),
		S3NotModified:     c.s3NotModified.Load(),
		BytesSaved:        c.bytesSaved.Load(),
		S3BodyBytes:       c.s3BodyBytes.Load(),
		ClientNotModified: c.clientNotModified.Load(),
		StaleServed:       c.staleServed.Load(),
		Streamed:          c.streamed.Load(),
		S3Errors:          c.s3Errors.Load(),
		Writes:            c.writes.Load(),
		Evictions:         evictions,
		Entries:           int64(entries),
		Bytes:             bytes,
		DiskHits:          c.diskHits.Load(),
		DiskFallbacks:     c.diskFallbacks.Load(),
		DiskFiles:         int64(files),
		DiskBytes:         diskBytes,
		DiskEvictions:     diskEvictions,
	}
}
