package s3cache_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-go/tollgate/s3cache"
)

// readOnly hides a body's WriteTo, as a framework that reads a stream with Read does.
type readOnly struct{ io.Reader }

// A disk-tier body read through Handler.Serve, with Read (a framework's own loop) or WriteTo
// (io.Copy), when its fill fails half-way: the rest comes from S3; a body cut short reports
// io.ErrUnexpectedEOF, or the fill's error when S3 cannot resume; it never exceeds its length.
func TestServeStreamAfterFailedFill(t *testing.T) {
	data := payload(100)
	for _, tc := range []struct {
		name        string
		setup       func(o *memObject)
		replace     bool  // the object changes in S3 before the readers resume
		whole, part int   // bytes each reader gets
		err         error // the error each reader ends with
	}{
		{"resumed", func(*memObject) {}, false, 100, 80, nil},
		{"S3 sends less", func(o *memObject) { o.shortRange = 5 }, false, 95, 75, io.ErrUnexpectedEOF},
		{"S3 ignores Range", func(o *memObject) { o.ignoreRange = true }, false, 100, 80, nil},
		{"object replaced", func(*memObject) {}, true, 50, 40, errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"})
			f.c.put("r.bin", data, "")
			reading, hold := f.c.holdNext("r.bin", 50)
			tc.setup(f.c.objs["r.bin"])
			f.h.InjectDiskFaults(s3cache.DiskFaults{Write: errBoom, WriteAfter: 50})

			whole := f.h.Serve(t.Context(), s3cache.Request{Method: "GET", Path: "/r.bin"})
			defer whole.Close()
			<-reading // 50 bytes are on disk
			req := s3cache.Request{Method: "GET", Path: "/r.bin"}
			req.Header.Range = "bytes=10-89"
			part := f.h.Serve(t.Context(), req)
			defer part.Close()
			if whole.Status != 200 || part.Status != 206 || part.ContentLength != 80 {
				t.Fatalf("statuses %d, %d (length %d), want 200 and 206 with 80 bytes", whole.Status, part.Status, part.ContentLength)
			}
			close(hold) // the fill's next write fails
			f.h.WaitFills()
			if tc.replace {
				f.c.put("r.bin", []byte("new version"), "")
			}

			got, err := io.ReadAll(readOnly{whole.Stream})
			if len(got) != tc.whole || !errors.Is(err, tc.err) {
				t.Errorf("whole object with Read: %d bytes, error %v; want %d and %v", len(got), err, tc.whole, tc.err)
			}
			if tc.err == nil && !bytes.Equal(got[:50], data[:50]) {
				t.Error("whole object with Read: the bytes from the file differ")
			}
			var buf bytes.Buffer
			n, err := io.Copy(&buf, part.Stream)
			if n != int64(tc.part) || !errors.Is(err, tc.err) {
				t.Errorf("range with WriteTo: %d bytes, error %v; want %d and %v", n, err, tc.part, tc.err)
			}
			if tc.name == "resumed" && !bytes.Equal(buf.Bytes(), data[10:90]) {
				t.Error("range with WriteTo: wrong bytes")
			}
		})
	}
}

// A complete file read through Serve: Read and WriteTo give the object, a range or several; a
// file cut short on disk after the response opened it ends the body with io.ErrUnexpectedEOF.
func TestServeStreamFromFile(t *testing.T) {
	data := payload(100)
	f := newMemFixture(t, s3cache.Options{MaxBytes: 1 << 10, MaxObjectSize: 16, DiskDir: "disk"})
	f.c.put("r.bin", data, "")
	f.do("GET", "/r.bin")
	f.h.WaitFills()
	for _, tc := range []struct {
		rng  string
		want []byte
	}{{"", data}, {"bytes=0-0", data[:1]}, {"bytes=99-", data[99:]}, {"bytes=30-69", data[30:70]}} {
		for _, useRead := range []bool{true, false} {
			req := s3cache.Request{Method: "GET", Path: "/r.bin"}
			req.Header.Range = tc.rng
			resp := f.h.Serve(t.Context(), req)
			var got []byte
			var err error
			if useRead {
				got, err = io.ReadAll(readOnly{resp.Stream})
			} else {
				var buf bytes.Buffer
				_, err = io.Copy(&buf, resp.Stream)
				got = buf.Bytes()
			}
			_ = resp.Close()
			if err != nil || !bytes.Equal(got, tc.want) || resp.ContentLength != int64(len(tc.want)) {
				t.Errorf("Range %q (Read %v): %d bytes (Content-Length %d), error %v; want %d", tc.rng, useRead, len(got), resp.ContentLength, err, len(tc.want))
			}
		}
	}
	req := s3cache.Request{Method: "GET", Path: "/r.bin"}
	req.Header.Range = "bytes=0-1,10-19"
	resp := f.h.Serve(t.Context(), req)
	got, err := io.ReadAll(readOnly{resp.Stream})
	_ = resp.Close()
	if err != nil || int64(len(got)) != resp.ContentLength || !bytes.Contains(got, data[10:20]) {
		t.Errorf("multipart with Read: %d bytes of %d, error %v", len(got), resp.ContentLength, err)
	}

	for _, useRead := range []bool{true, false} {
		resp := f.h.Serve(t.Context(), s3cache.Request{Method: "GET", Path: "/r.bin"})
		files, _ := filepath.Glob(filepath.Join(f.dir, "*"))
		for _, p := range files {
			if fi, err := os.Stat(p); err == nil && fi.Size() == 100 {
				if err := os.Truncate(p, 30); err != nil {
					t.Fatal(err)
				}
			}
		}
		var n int64
		var err error
		if useRead {
			var b []byte
			b, err = io.ReadAll(readOnly{resp.Stream})
			n = int64(len(b))
		} else {
			n, err = io.Copy(io.Discard, resp.Stream)
		}
		_ = resp.Close()
		if n != 30 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("file cut short (Read %v): %d bytes, error %v; want 30 and io.ErrUnexpectedEOF", useRead, n, err)
		}
		f.h.Invalidate("/r.bin")
		f.do("GET", "/r.bin") // a whole file again
		f.h.WaitFills()
	}
}
