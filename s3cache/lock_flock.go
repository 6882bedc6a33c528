//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package s3cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive flock(2) on a lock file in dir, so that two Handlers (in one
// process or two) never share the directory and remove each other's files.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("s3cache: Options.DiskDir: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("s3cache: Options.DiskDir: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB) }); err != nil {
		ferr = err
	}
	if ferr != nil {
		_ = f.Close()
		if errors.Is(ferr, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("s3cache: Options.DiskDir %q is in use by another Handler", dir)
		}
		return nil, fmt.Errorf("s3cache: Options.DiskDir: lock: %w", ferr)
	}
	return f, nil
}
