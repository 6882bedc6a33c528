package s3cache

import (
	"os"
	"sync/atomic"
)

// WaitBackground waits until background revalidations have finished, so tests can observe
// their effect without sleeping.
func (h *Handler) WaitBackground() { h.bg.Wait() }

// WaitFills waits until the disk tier's fills in progress have finished.
func (h *Handler) WaitFills() {
	if h.disk != nil {
		h.disk.fills.Wait()
	}
}

// DiskFaults are failures to inject into the disk tier's file operations; a nil error is no
// fault. WriteAfter bytes are written before Write fails.
type DiskFaults struct {
	Create, Preallocate, Write error
	WriteAfter                 int64
}

// InjectDiskFaults makes the disk tier's next file operations fail as d says. Call it before
// the requests that should see the faults.
func (h *Handler) InjectDiskFaults(d DiskFaults) {
	base := defaultHooks
	var written atomic.Int64
	h.disk.hooks = diskHooks{
		create: func(path string) (*os.File, error) {
			if d.Create != nil {
				return nil, d.Create
			}
			return base.create(path)
		},
		preallocate: func(f *os.File, size int64) error {
			if d.Preallocate != nil {
				return d.Preallocate
			}
			return base.preallocate(f, size)
		},
		write: func(f *os.File, p []byte) (int, error) {
			if d.Write != nil {
				if left := d.WriteAfter - written.Load(); left < int64(len(p)) {
					n, _ := base.write(f, p[:max(left, 0)])
					written.Add(int64(n))
					return n, d.Write
				}
			}
			n, err := base.write(f, p)
			written.Add(int64(n))
			return n, err
		},
	}
}
