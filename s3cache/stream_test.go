package s3cache_test

import (
	"bytes"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// A large object is streamed from S3 with the client's conditionals forwarded; S3's answer is
// current where the cached marker may not be: a 304 carries the validators and Cache-Control
// S3 sent, a 416 the size S3 reported.
func TestStreamedAnswersFollowS3(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16})
	f.c.put("big.bin", bytes.Repeat([]byte("a"), 100), "")
	wantStatus(t, f.do("GET", "/big.bin"), 200) // the marker: 100 bytes, the first ETag

	etag := f.c.put("big.bin", bytes.Repeat([]byte("b"), 50), "max-age=9")
	w := f.do("GET", "/big.bin", "If-None-Match", etag)
	wantResponse(t, "If-None-Match: the new ETag", w, 304, "", "ETag", etag, "Cache-Control", "max-age=9")
	w = f.do("GET", "/big.bin", "Range", "bytes=60-")
	wantResponse(t, "Range past the new end", w, 416, "Requested Range Not Satisfiable\n", "Content-Range", "bytes */50")
	w = f.do("GET", "/big.bin", "Range", "bytes=40-")
	wantResponse(t, "Range within the new object", w, 206, "bbbbbbbbbb", "Content-Range", "bytes 40-49/50")
}
