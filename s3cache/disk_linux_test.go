package s3cache_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// A really full disk: DiskDir is a 1 MiB tmpfs under a 64 MiB budget. fallocate(2) refuses the
// objects that do not fit before any byte is written, and they are streamed from S3; the one
// that fits is served from the disk. Mounting needs root (CAP_SYS_ADMIN): where it is refused,
// TestDiskFullInjected covers the same path with injected ENOSPC and EROFS.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		t.Logf("a 1 MiB tmpfs cannot be mounted here (%v): the full disk is covered by TestDiskFullInjected", err)
		return
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	b := fakeBackend(t)
	objects := map[string][]byte{"big.bin": payload(2 << 20), "small.bin": payload(512 << 10), "mid.bin": payload(700 << 10)}
	for k, v := range objects {
		putBytes(t, b, k, v)
	}
	var log errorLog
	f := newDiskFixture(t, b, s3cache.Options{DiskDir: dir, DiskMaxBytes: 64 << 20, DiskMaxObjectSize: 64 << 20,
		MaxObjectSize: 64 << 10, OnError: log.record})
	for _, k := range []string{"big.bin", "small.bin", "mid.bin", "small.bin"} {
		w := f.do(t, "GET", "/"+k)
		wantStatus(t, w, 200)
		if !bytes.Equal(w.Body.Bytes(), objects[k]) {
			t.Fatalf("%s: body differs from the object", k)
		}
		f.h.WaitFills()
	}
	s := f.h.Stats()
	if s.DiskFallbacks != 2 || s.DiskFiles != 1 || s.DiskBytes != 512<<10 || s.DiskHits != 2 || s.Streamed != 2 {
		t.Errorf("stats = %+v, want 2 fallbacks (big, mid), small on disk and read from it twice", s)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.errs) != 2 || !errors.Is(log.errs[0], s3cache.ErrDisk) || !errors.Is(log.errs[0], syscall.ENOSPC) {
		t.Errorf("OnError got %v, want two ErrDisk wrapping ENOSPC", log.errs)
	}
	if files := tierFiles(t, dir); len(files) != 1 {
		t.Errorf("files = %v, want the small object's only", files)
	}
}
