package s3cache_test

import (
	"bytes"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// Files that fill DiskMaxBytes exactly all stay: eviction starts only when a new file would
// go past the budget.
func TestDiskExactFit(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk", DiskMaxBytes: 200, DiskMaxObjectSize: 100})
	for _, k := range []string{"a", "b", "c"} {
		f.c.put(k, bytes.Repeat([]byte(k), 100), "")
	}
	get := func(k string) {
		t.Helper()
		wantResponse(t, "GET /"+k, f.do("GET", "/"+k), 200, string(bytes.Repeat([]byte(k), 100)))
		f.h.WaitFills()
	}
	get("a")
	get("b")
	if s := f.h.Stats(); s.DiskFiles != 2 || s.DiskBytes != 200 || s.DiskEvictions != 0 {
		t.Errorf("two files filling the budget: stats %+v, want both kept", s)
	}
	get("c") // evicts a, the least recently used
	if s := f.h.Stats(); s.DiskFiles != 2 || s.DiskBytes != 200 || s.DiskEvictions != 1 {
		t.Errorf("a third file: stats %+v, want one eviction", s)
	}
	get("b")
	get("c")
	if n := f.c.gets.Load(); n != 3 {
		t.Errorf("%d S3 GETs, want 3 (b and c kept)", n)
	}
}
