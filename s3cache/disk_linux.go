package s3cache

import (
	"errors"
	"os"
	"syscall"
)

// preallocate reserves size bytes for f (fallocate(2)), so that a full file system is found
// before any client is answered from the file, not in the middle of a body. A file system
// without fallocate is written without the reservation.
func preallocate(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), 0, 0, size)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, syscall.EOPNOTSUPP) || errors.Is(ferr, syscall.ENOSYS) {
		return nil
	}
	return ferr
}
