package s3cache_test

import (
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// Paths as Serve receives them (percent-encoded, relative to the mount point): which are
// refused (400) before S3 is asked, and which key the others name. An encoded "/" or "\" is
// refused wherever it is, the start and the end included; a key may be exactly S3's 1024
// bytes, prefix included.
func TestPathEdges(t *testing.T) {
	long := strings.Repeat("k", 1022) // with the prefix "p/": 1024 bytes
	for _, tc := range []struct {
		path, key string // key "" means refused with 400
	}{
		{"%2e%2e/x", ""},
		{"%2Fx", ""},
		{"%5cx", ""},
		{"/a%2F", ""},
		{"/a%5C", ""},
		{"/a%00", ""},
		{"%41.txt", "p/A.txt"},
		{"/a%20b", "p/a b"},
		{"/a\x1fb", ""},
		{"/a b", "p/a b"},
		{"/a\x7fb", ""},
		{"/a~b", "p/a~b"},
		{"/a\\b", ""},
		{"/a/", "p/a/index.html"},
		{"/a//", "p/a/index.html"},
		{"/a/.", "p/a"}, // as path.Clean (and net/http.ServeMux) read it
		{"/a//b", "p/a/b"},
		{"/a/./b", "p/a/b"},
		{"/.", "p/index.html"},
		{"/" + long, "p/" + long},
		{"/" + long + "k", ""},
		{"/" + long[:1012] + "/", ""}, // with the index document: 1034 bytes
		{"/" + long[:1002] + "/", "p/" + long[:1002] + "/index.html"},
	} {
		f := newMemFixture(t, s3cache.Options{Prefix: "p", IndexDocument: "index.html"})
		resp := f.h.Serve(t.Context(), s3cache.Request{Method: "GET", Path: tc.path})
		_ = resp.Close()
		what := tc.path
		if len(what) > 40 {
			what = what[:20] + "…" + what[len(what)-10:]
		}
		switch {
		case tc.key == "":
			if resp.Status != 400 || f.c.gets.Load() != 0 {
				t.Errorf("%q: status %d after %d S3 GETs, want 400 and none", what, resp.Status, f.c.gets.Load())
			}
		case resp.Status != 404 || len(f.c.inputs) != 1 || *f.c.inputs[0].Key != tc.key:
			var keys []string
			for _, in := range f.c.inputs {
				keys = append(keys, *in.Key)
			}
			t.Errorf("%q: status %d, S3 keys %q; want 404 from S3 for %q", what, resp.Status, keys, tc.key)
		}
	}
}

// A header field present with no value (a map entry with an empty slice, which middleware
// can leave behind) is absent for ServeHTTP.
func TestEmptyHeaderValues(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{})
	f.c.put("a.txt", []byte("0123456789"), "")
	r := newGet("/a.txt")
	r.Header["Range"] = []string{}
	r.Header["If-None-Match"] = []string{}
	w := newRecorder()
	f.h.ServeHTTP(w, r)
	wantResponse(t, "GET with empty fields", w, 200, "0123456789")
}
