// Package s3cache serves objects of an S3 bucket over HTTP through a local conditional cache,
// and writes objects conditionally.
//
// A [Handler] answers GET and HEAD for the objects under a key prefix. Small objects are kept
// in an LRU cache bounded by total bytes and answered locally, including the client's
// conditional requests (304, 412) and byte ranges (206, 416), which are evaluated by
// [github.com/tollgate-go/tollgate/core/conditional]. A cached object is fresh for a TTL; then
// it is revalidated with GetObject{IfNoneMatch: etag}, so an unchanged object costs S3 a 304
// and no body. Concurrent misses and revalidations of one key make one S3 call. Objects above
// a size threshold are streamed from S3 and never buffered: the client's conditionals and Range
// are forwarded to S3 and S3's 304, 412, 206 and 416 are passed through.
//
// Writes are off by default. [PutIfAbsent], [PutIfMatch] and [DeleteIfMatch] are conditional
// writes that report a lost race as [ErrPreconditionFailed] or [ErrConflict]; with
// Options.Writes, the Handler also accepts PUT and DELETE that carry a precondition.
//
// The Handler is an http.Handler; [Handler.Serve] is the same logic without net/http, for
// frameworks such as Fiber that render a [Response] natively.
//
// # Freshness and staleness
//
// A client's conditional request is answered from a fresh entry only: a stale entry is
// revalidated first, because evaluating stale validators locally can send a client a 304 for an
// object that has changed. Two options trade this for availability or latency, as RFC 5861
// describes: StaleWhileRevalidate serves a stale entry for a while and revalidates it in the
// background; StaleIfError serves a stale entry, with an Age header, when S3 fails or throttles.
//
// # Disk tier
//
// With Options.DiskDir, objects larger than MaxObjectSize and at most DiskMaxObjectSize are
// written to that directory and served from there: the whole object, one range, several ranges
// (multipart/byteranges), HEAD, 304 and 412, with the same freshness, revalidation (S3's 304
// keeps the file), stale-while-revalidate and stale-if-error as objects in memory. The files'
// total size stays within DiskMaxBytes; the least recently used go first.
//
// One S3 GET fills a file, however many clients ask for the object meanwhile: the fill runs on
// its own, at the speed of S3 and the disk, and every request for the object reads the file as
// it grows, woken by the fill after each write, so all of them receive bytes as they arrive.
// A file is written under a temporary name (with its size reserved first by fallocate(2) on
// Linux, so a full disk is found before any client is answered from it) and renamed when
// complete: a file under its final name is always whole, and is checked against the object's
// size each time it is opened.
//
// The tier never lets a disk problem become a failed response. When a file cannot be created
// or reserved (read-only or full disk), the object is streamed from S3 instead; when a write
// fails in the middle of a fill, each response reading it gets the rest from S3 with a ranged
// GET on the same version (If-Match); when a file is missing or has the wrong size, it leaves
// the tier and the response is streamed. Each case counts in Stats.DiskFallbacks and reaches
// Options.OnError as an error that matches ErrDisk.
//
// Files live for one run. New removes the tier's files that a previous run left in DiskDir
// (they are recognized by name, "s3c-…"; nothing else in the directory, no subdirectory and
// nothing a symbolic link points to is touched), because their metadata was in that run's
// memory and a file cut short by a crash looks like any other: re-fetching costs one GET per
// object. File names never derive from object keys. New locks the directory (flock(2)) so
// that two Handlers cannot share it; Close removes the files and releases it.
//
// # Errors
//
// The client never sees the text of an internal or S3 error: S3 failures become 502 Bad
// Gateway (503 Service Unavailable with Retry-After when S3 throttles), with a generic body.
// Options.OnError receives the error.
//
// # Performance
//
// A cache hit allocates nothing: header values are rendered once per object version. Medians of
// five runs on a shared 2-core AMD EPYC VM, go1.26.8, 2026-11-24, 4 KiB object, against
// http.ServeContent serving the same bytes from memory with the same validators:
//
//	go test -run '^$' -bench 'CacheHit|S3BytesPerRequest' -benchmem -count 5 ./s3cache/
//
//	                     s3cache                 http.ServeContent
//	200                  377 ns,  0 allocs       4525 ns, 11 allocs (4300 B)
//	304 (If-None-Match)  906 ns,  0 allocs       1249 ns,  6 allocs
//	206 (one range)      1110 ns, 8 allocs       1633 ns, 15 allocs
//
// A disk-tier hit costs one open(2) and fstat(2); over a TCP connection, net/http and fasthttp
// send the file with sendfile(2). Medians of five runs, same machine, 2026-11-30, 16 MiB
// object, against http.ServeContent serving the tier's file opened per request:
//
//	go test -run '^$' -bench 'DiskHit' -benchmem -count 5 ./s3cache/
//
//	                     s3cache                 http.ServeContent
//	200                  2.57 ms, 7 allocs       2.69 ms, 13 allocs
//	304 (If-None-Match)  400 ns,  0 allocs       5852 ns, 8 allocs
//	206 (64 KiB)         13.7 µs, 15 allocs      17.8 µs, 19 allocs
//
// Object bytes S3 sends per client request for a 64 KiB object (s3-bytes/op): 65536 when every
// request fetches it, 0 when every request revalidates a cached copy (one conditional GET
// answered 304), 0 with no S3 call at all while the copy is fresh.
package s3cache
