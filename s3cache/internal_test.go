package s3cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestObjectName(t *testing.T) {
	h := &Handler{opts: Options{Prefix: "p/", IndexDocument: "index.html"}}
	noIndex := &Handler{opts: Options{Prefix: "p/"}}
	tests := []struct {
		path   string
		name   string
		status int
	}{
		{"/a.txt", "a.txt", 0},
		{"a.txt", "a.txt", 0},
		{"/dir/a%20b.txt", "dir/a b.txt", 0},
		{"/dir/", "dir/index.html", 0},
		{"/", "index.html", 0},
		{"", "index.html", 0},
		{"/a//b", "a/b", 0},
		{"/a/./b/", "a/b/index.html", 0},
		{"/./", "index.html", 0},
		{"/..", "", 400},
		{"/a/..", "", 400},
		{"/a/../b", "", 400},
		{"/%2E%2E/x", "", 400},
		{"/a%2Fb", "", 400},
		{"/a%2fb", "", 400},
		{"/a%5Cb", "", 400},
		{"/a\\b", "", 400},
		{"/a%00", "", 400},
		{"/a\x00", "", 400},
		{"/a%7f", "", 400},
		{"//etc/passwd", "", 400},
		{"/%zz", "", 400},
		{"/%c3%28", "", 400}, // invalid UTF-8
	}
	for _, tc := range tests {
		name, status := h.objectName(tc.path)
		if name != tc.name || status != tc.status {
			t.Errorf("objectName(%q) = %q, %d; want %q, %d", tc.path, name, status, tc.name, tc.status)
		}
	}
	if _, status := noIndex.objectName("/dir/"); status != 404 {
		t.Errorf("directory without index document: status %d, want 404", status)
	}
}

func TestCacheDirectives(t *testing.T) {
	tests := []struct {
		cc       string
		lifetime time.Duration
		ok, ns   bool
	}{
		{"public, max-age=60", time.Minute, true, false},
		{"max-age=60, s-maxage=10", 10 * time.Second, true, false},
		{"no-cache, max-age=60", 0, true, false},
		{"no-store", 0, false, true},
		{"public", 0, false, false},
		{"max-age=bogus", 0, false, false},
		{`max-age="30"`, 30 * time.Second, true, false},
		{"max-age=99999999999999", 1 << 31 * time.Second, true, false},
	}
	for _, tc := range tests {
		lifetime, ok, ns := cacheDirectives(tc.cc)
		if lifetime != tc.lifetime || ok != tc.ok || ns != tc.ns {
			t.Errorf("cacheDirectives(%q) = %v, %v, %v; want %v, %v, %v", tc.cc, lifetime, ok, ns, tc.lifetime, tc.ok, tc.ns)
		}
	}
}

// A 304 keeps the validators and caching fields (RFC 9110 §15.4.5) and drops Content-* and
// Last-Modified, including those an outer middleware set; Vary and Date are left alone.
func TestRender304(t *testing.T) {
	m := Meta{ETag: `"e"`, LastModified: time.Unix(1e9, 0), ContentType: "text/css", ContentEncoding: "gzip",
		CacheControl: "max-age=60", Expires: "Thu, 01 Jan 2037 00:00:00 GMT", Size: 10}
	r := Response{Status: http.StatusNotModified, meta: m, hdr: buildHeaders(m, ""), object: true, ContentLength: -1}
	w := httptest.NewRecorder()
	w.Header().Set("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", "99")
	if _, err := r.Render(w); err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Etag": {`"e"`}, "Cache-Control": {"max-age=60"}, "Expires": {"Thu, 01 Jan 2037 00:00:00 GMT"}, "Vary": {"Accept-Encoding"}}
	if len(w.Header()) != len(want) {
		t.Fatalf("304 header = %v, want %v", w.Header(), want)
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v[0])
		}
	}

	var visited []string
	r.VisitHeaders(func(name, value string) { visited = append(visited, name+": "+value) })
	if len(visited) != 3 {
		t.Errorf("VisitHeaders(304) = %q, want ETag, Cache-Control, Expires", visited)
	}
}

func TestRender200(t *testing.T) {
	m := Meta{ETag: `"e"`, LastModified: time.Unix(1e9, 0), ContentType: "text/css", Size: 3}
	r := Response{Status: 200, meta: m, hdr: buildHeaders(m, "no-cache"), object: true, ContentLength: 3, Body: []byte("a{}")}
	got := map[string]string{}
	r.VisitHeaders(func(name, value string) { got[name] = value })
	want := map[string]string{"Etag": `"e"`, "Last-Modified": "Sun, 09 Sep 2001 01:46:40 GMT", "Content-Type": "text/css",
		"Content-Length": "3", "Cache-Control": "no-cache", "Accept-Ranges": "bytes"}
	if len(got) != len(want) {
		t.Fatalf("VisitHeaders = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
