package s3cache_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// openUnder returns the files under dir that this process has open (Linux: /proc/self/fd).
func openUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var open []string
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(p, dir+"/") {
			open = append(open, p)
		}
	}
	return open
}

// Every response from the disk tier closes the descriptor it opened once it is rendered (or
// Closed, through Serve): whole, one range, several, HEAD, and a response closed unread.
func TestDiskResponsesCloseTheirFiles(t *testing.T) {
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"})
	f.c.put("r.bin", payload(100), "")
	f.do("GET", "/r.bin")
	f.h.WaitFills()
	lockFiles := len(openUnder(t, f.dir)) // the directory's lock
	for _, rng := range []string{"", "bytes=1-2", "bytes=1-2,5-9"} {
		for range 3 {
			status := 206
			if rng == "" {
				status = 200
			}
			wantStatus(t, f.do("GET", "/r.bin", "Range", rng), status)
			req := s3cache.Request{Method: "GET", Path: "/r.bin"}
			req.Header.Range = rng
			resp := f.h.Serve(t.Context(), req)
			_ = resp.Close()
			_ = resp.Close() // twice is fine
		}
	}
	f.do("HEAD", "/r.bin")
	if open := openUnder(t, f.dir); len(open) != lockFiles {
		t.Errorf("files left open: %q", open)
	}
}
